package store

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// BenchmarkCommitGrowth logs the commit rate as the store grows to
// OKTAGUARD_STORE_GROWTH events (default 300 000), per 50 000 events, for
// sizing page and cache settings; one pass whatever b.N (run it with
// -benchtime 1x). OKTAGUARD_STORE_GROWTH_PAGE and _CACHE set the page
// size and writer cache (MB). It reports the commit rate of the first and
// the last 50 000 events (first-50k-events/s, last-50k-events/s: a store
// that slows as it grows shows as the ratio) and the process CPU per event
// (cpu-ns/event); it asserts only that every commit succeeds.
func BenchmarkCommitGrowth(b *testing.B) {
	total, _ := strconv.Atoi(os.Getenv("OKTAGUARD_STORE_GROWTH"))
	if total <= 0 {
		total = 300000
	}
	page, _ := strconv.Atoi(os.Getenv("OKTAGUARD_STORE_GROWTH_PAGE"))
	cache, _ := strconv.Atoi(os.Getenv("OKTAGUARD_STORE_GROWTH_CACHE"))
	ctx := context.Background()
	s, err := OpenWithOptions(ctx, filepath.Join(b.TempDir(), "g.db"), Options{pageSize: page, WriterCacheMB: cache})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	step := 30 * 24 * time.Hour / time.Duration(total)
	begin := benchEnd.Add(-30 * 24 * time.Hour)
	var busy time.Duration
	var first, last float64 // events/s of the first and the last 50k
	start := cpumeter.Process()
	cpu0 := start
	b.ResetTimer()
	for n := 0; n < total; n += 1000 {
		evs := make([]event.Event, 1000)
		for j := range evs {
			evs[j] = benchEvent(rng, n+j, begin.Add(time.Duration(n+j)*step))
		}
		st := time.Now()
		if _, err := s.Commit(ctx, Batch{Events: evs}); err != nil {
			b.Fatal(err)
		}
		busy += time.Since(st)
		if (n+1000)%50000 == 0 {
			last = 50000 / busy.Seconds()
			if first == 0 {
				first = last
			}
			b.Logf("%7d events: last 50k at %.0f events/s (commit time only), process cpu %s", n+1000, last, cpumeter.Process()-cpu0)
			busy = 0
			cpu0 = cpumeter.Process()
		}
	}
	b.ReportMetric(first, "first-50k-events/s")
	b.ReportMetric(last, "last-50k-events/s")
	b.ReportMetric(float64(cpumeter.Process()-start)/float64(total), "cpu-ns/event")
}
