package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// BenchmarkBackfill measures a backfill through the pipeline's stages
// (decode, dedup against the seen-set and the store, enrich, the default
// detectors, state delta, commit) without HTTP: full 1 000-event Okta
// pages of the store benchmarks' realistic generator (storetest.BenchEvent:
// 5 000 users, the raw JSON of a real sign-in) into a store first grown
// by OKTAGUARD_BENCH_BACKFILL_PREFILL events through the same pipeline
// (default 20 000; not timed). "page" commits every page on its own (what
// the pipeline did before batching: Options.BatchEvents 1), "batch" holds
// the pages and commits DefaultBatchEvents (10 pages) at a time. One op is
// one page. Load-independent figures: events/cpu-s and cpu-us/event (this
// process, GC included), walKB/kevent (SQLite: the WAL frames the commits
// wrote, per 1 000 events) and server-us/event (PostgreSQL: the CPU of the
// database's client backends, read from /proc; run it alone on its
// database). With OKTAGUARD_TEST_PG_DSN set, the postgres cases run too.
// -count alternates page and batch:
//
//	go test ./pkg/pipeline -run '^$' -bench BenchmarkBackfill -benchtime 40x -count 3 -timeout 60m
func BenchmarkBackfill(b *testing.B) {
	prefill := 20000
	if v := os.Getenv("OKTAGUARD_BENCH_BACKFILL_PREFILL"); v != "" {
		if _, err := fmt.Sscan(v, &prefill); err != nil || prefill < 0 {
			b.Fatalf("OKTAGUARD_BENCH_BACKFILL_PREFILL: bad size %q", v)
		}
	}
	backends := []string{"sqlite"}
	if os.Getenv(pgtest.EnvDSN) != "" {
		backends = append(backends, "postgres")
	}
	// testing runs each case twice (N=1, then N=-benchtime) and -count
	// times: the grown store and its pipeline are built once per case
	type grown struct {
		p    *Pipeline
		path string // SQLite file
		dsn  string // PostgreSQL schema
		rng  *rand.Rand
		next int // the next event number of the stream
	}
	cases := map[string]*grown{}
	defer func() {
		for _, g := range cases {
			g.p.Close()
			if st := g.p.Store(); g.dsn != "" {
				st.Close()
			}
		}
	}()
	start := time.Now().Add(-30 * 24 * time.Hour)
	const per = 1000
	outer := b // owns the grown stores: a case's own b cleans up after its N=1 run
	for _, backend := range backends {
		for _, mode := range []string{"page", "batch"} {
			name := backend + "/" + mode
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				g := cases[name]
				mkPage := func() okta.Page {
					pg := okta.Page{Limit: per, Full: true}
					for j := 0; j < per; j++ {
						ev := storetest.BenchEvent(g.rng, g.next, start.Add(time.Duration(g.next)*259*time.Millisecond))
						pg.Events = append(pg.Events, ev.Raw)
						g.next++
					}
					pg.Next = fmt.Sprintf("http://127.0.0.1:1/api/v1/logs?after=%d", g.next)
					return pg
				}
				if g == nil {
					g = &grown{rng: rand.New(rand.NewPCG(5, 6))}
					dir := outer.TempDir()
					s := testSettings(b, "http://127.0.0.1:1", dir)
					// batches bounded by events only: no age, no commit budget
					o := Options{BatchAge: time.Hour, BatchCommitBudget: time.Hour}
					if backend == "postgres" {
						g.dsn = pgtest.Schema(outer)
						st, err := postgres.Open(ctx, postgres.Config{DSN: g.dsn, Org: "https://bench.okta.example"})
						if err != nil {
							b.Fatal(err)
						}
						o.Store = st
					} else {
						g.path = s.Storage.Path
					}
					p, err := New(s, o)
					if err != nil {
						b.Fatal(err)
					}
					g.p = p
					cases[name] = g
					var held *batch
					for g.next < prefill {
						pg := mkPage()
						if held, err = p.hold(ctx, held, pg); err != nil {
							b.Fatal(err)
						}
						if p.due(held, pg) || g.next >= prefill {
							if err := p.commitBatch(ctx, held); err != nil {
								b.Fatal(err)
							}
							held = nil
						}
					}
				}
				p := g.p
				p.batchCap = 0 // Options.BatchEvents alone
				p.o.BatchEvents = 1
				if mode == "batch" {
					p.o.BatchEvents = DefaultBatchEvents
				}
				pages := make([]okta.Page, b.N)
				for i := range pages {
					pages[i] = mkPage()
				}
				var wal *walMeter
				var walFrames int64
				pageSize := int64(0)
				if g.path != "" {
					wal = openWALMeter(b, g.path)
					pageSize = sqlitePageSize(b, g.path)
				}
				var mon *pgx.Conn
				if g.dsn != "" {
					var err error
					if mon, err = pgx.Connect(ctx, g.dsn); err != nil {
						b.Fatal(err)
					}
					defer mon.Close(ctx)
				}
				runtime.GC() // the pages' garbage is not the backfill's
				var srv0 time.Duration
				srvOK := false
				if mon != nil {
					srv0, srvOK = pgtest.BackendsCPU(ctx, mon)
				}
				ingested0 := p.Status().EventsIngested
				cpu0 := int64(cpumeter.Process())
				b.ResetTimer()
				var held *batch
				for i := 0; i < b.N; i++ {
					var err error
					if held, err = p.hold(ctx, held, pages[i]); err != nil {
						b.Fatal(err)
					}
					if p.due(held, pages[i]) || i == b.N-1 {
						if err := p.commitBatch(ctx, held); err != nil {
							b.Fatal(err)
						}
						held, p.batchCap = nil, 0
						if wal != nil {
							walFrames += wal.pages()
						}
					}
				}
				b.StopTimer()
				cpu := int64(cpumeter.Process()) - cpu0
				events := float64(b.N * per)
				if got := p.Status().EventsIngested - ingested0; got != int64(b.N*per) {
					b.Fatalf("ingested %d events, want %d", got, b.N*per)
				}
				reportEvents(b, b.N*per, cpu)
				if wal != nil {
					b.ReportMetric(float64(walFrames*(pageSize+24))/1024/(events/1000), "walKB/kevent")
				}
				if mon != nil {
					if srv1, ok := pgtest.BackendsCPU(ctx, mon); ok && srvOK {
						b.ReportMetric(float64((srv1-srv0).Microseconds())/events, "server-us/event")
					}
				}
			})
		}
	}
}

// sqlitePageSize is the page size of the SQLite database at path (a WAL
// frame is one page and a 24-byte header).
func sqlitePageSize(b *testing.B, path string) int64 {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("PRAGMA page_size").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
