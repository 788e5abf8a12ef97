package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// BenchmarkQuery runs the dashboards' panel queries on a large org built
// once in the schema bench_N of the test server (kept between runs):
//
//	OKTAGUARD_TEST_PG_DSN=... OKTAGUARD_STORE_BENCH_EVENTS=1000000 go test -run '^$' -bench BenchmarkQuery -benchtime=40x ./pkg/store/postgres
//
// It also reports the bytes on disk per event (every table and index of
// the org's events, roll-ups and alerts) and, per query, the CPU time of
// this process and of the server's backends (cpu-ms/op, server-cpu-ms/op).
func BenchmarkQuery(b *testing.B) {
	nStr := os.Getenv("OKTAGUARD_STORE_BENCH_EVENTS")
	if nStr == "" {
		b.Skip("set OKTAGUARD_STORE_BENCH_EVENTS=1000000 to build the large store and run the query benchmarks")
	}
	total, err := strconv.Atoi(nStr)
	if err != nil || total < 1000 {
		b.Fatalf("OKTAGUARD_STORE_BENCH_EVENTS=%q: want a number ≥ 1000", nStr)
	}
	base := pgtest.DSN(b)
	ctx := context.Background()
	schema := fmt.Sprintf("bench_%d_v%d", total, postgres.LatestSchemaVersion())
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
	reuseOlderSchema(ctx, b, conn, total, schema)
	conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema)
	opened := time.Now()
	s, err := postgres.Open(ctx, postgres.Config{DSN: pgtest.WithParam(base, "search_path", schema+",public"), Org: "https://bench.okta.example"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Logf("%s opened (and migrated) in %s", schema, time.Since(opened).Round(time.Millisecond))
	built := time.Now()
	if err := postgres.WaitGeoBuild(ctx, s); err != nil { // the geo sets of a migrated store (geo_sets.go)
		b.Fatal(err)
	}
	b.Logf("geo sets built in %s", time.Since(built).Round(time.Millisecond))
	if _, ok, _ := s.GetState(ctx, "bench/complete"); !ok {
		start := time.Now()
		storetest.Fill(b, s, total)
		if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Commit(ctx, store.Batch{State: map[string][]byte{"bench/complete": []byte("1")}}); err != nil {
			b.Fatal(err)
		}
		b.Logf("built %d events in %s (%.0f events/s)", total, time.Since(start), float64(total)/time.Since(start).Seconds())
	}
	var bytes int64
	if err := conn.QueryRow(ctx, `SELECT SUM(pg_total_relation_size(c.oid))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`, schema).Scan(&bytes); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d bytes on disk, %.0f B/event", schema, bytes, float64(bytes)/float64(total))
	storetest.PanelQueriesCPU(b, s, postgres.BenchCPU(ctx, conn))
}

// reuseOlderSchema renames the newest complete benchmark schema of an
// older version (bench_N_v<k>, k < the current) to schema when schema does
// not exist yet, so that Open migrates it in place instead of the
// benchmark rebuilding the store (~30 minutes for 1 M events under load).
func reuseOlderSchema(ctx context.Context, b *testing.B, conn *pgx.Conn, total int, schema string) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists); err != nil || exists {
		return
	}
	for v := postgres.LatestSchemaVersion() - 1; v >= 1; v-- {
		old := fmt.Sprintf("bench_%d_v%d", total, v)
		var complete bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)
			AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'state')`,
			old).Scan(&complete); err != nil || !complete {
			continue
		}
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+old+".state WHERE key = 'bench/complete')").Scan(&done); err != nil || !done {
			continue
		}
		if _, err := conn.Exec(ctx, "ALTER SCHEMA "+old+" RENAME TO "+schema); err != nil {
			b.Fatalf("reuse %s as %s: %v", old, schema, err)
		}
		b.Logf("reusing %s as %s (renamed; Open migrates it in place)", old, schema)
		return
	}
}
