package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// BenchmarkBackendQuery is the SQLite side of the backends' side-by-side
// comparison: the same data set (storetest.Fill: 5 000 users, 30 days)
// and the same panel queries (storetest.PanelQueries) as
// pkg/store/postgres's BenchmarkQuery, on a file built once in the temp
// folder:
//
//	OKTAGUARD_STORE_BENCH_EVENTS=1000000 go test -run '^$' -bench BenchmarkBackendQuery -benchtime=20x -timeout 90m ./pkg/store
//
// It logs the file's bytes per event (run with -v to see it) and reports
// each query's CPU time (cpu-ms/op: SQLite runs in this process).
func BenchmarkBackendQuery(b *testing.B) {
	nStr := os.Getenv("OKTAGUARD_STORE_BENCH_EVENTS")
	if nStr == "" {
		b.Skip("set OKTAGUARD_STORE_BENCH_EVENTS=1000000 to build the large store and run the query benchmarks")
	}
	total, err := strconv.Atoi(nStr)
	if err != nil || total < 1000 {
		b.Fatalf("OKTAGUARD_STORE_BENCH_EVENTS=%q: want a number ≥ 1000", nStr)
	}
	ctx := context.Background()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("oktaguard-backend-bench-%d-v%d.db", total, store.LatestSchemaVersion()))
	s, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// the integrity check of the file runs after the open: not during the timings
	if in, _ := s.WaitIntegrity(ctx); in.Err != nil {
		b.Fatal(in.Err)
	}
	if _, ok, _ := s.GetState(ctx, "bench/complete"); !ok {
		start := time.Now()
		storetest.Fill(b, s, total)
		if _, err := s.Commit(ctx, store.Batch{State: map[string][]byte{"bench/complete": []byte("1")}}); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d events in %s (%.0f events/s)", total, time.Since(start), float64(total)/time.Since(start).Seconds())
	}
	var bytes int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			bytes += fi.Size()
		}
	}
	b.Logf("%s: %d bytes on disk, %.0f B/event", path, bytes, float64(bytes)/float64(total))
	// the database runs in this process: its CPU is the process's (cpu-ms/op)
	storetest.PanelQueriesCPU(b, s, func() (time.Duration, time.Duration, bool) { return cpumeter.Process(), 0, false })
}
