package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchmarkCommit measures the write hot path: batches of 1000 new events
// (realistic ~1.8 KB raw JSON each) committed in one transaction.
//
// What each index costs: OKTAGUARD_BENCH_DROP_INDEXES (comma-separated
// index names of the events table, or events_fts for the text index,
// which is then replaced by a plain table of the same rows so that the
// insert statement stays valid) drops them before the first commit. The
// walKB/page metric (the WAL's growth per commit: the pages the commit
// writes, load-independent) is exact while the run stays under the
// autocheckpoint (~40 pages of this benchmark).
func BenchmarkCommit(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if drop := os.Getenv("OKTAGUARD_BENCH_DROP_INDEXES"); drop != "" {
		for _, ix := range strings.Split(drop, ",") {
			q := "DROP INDEX " + strings.TrimSpace(ix)
			if strings.TrimSpace(ix) == "events_fts" {
				q = "DROP TABLE events_fts; CREATE TABLE events_fts (t TEXT)"
			}
			if _, err := s.w.Exec(q); err != nil {
				b.Fatal(err)
			}
		}
	}
	benchCommit(b, s)
}

// BenchmarkCommitEncoders is BenchmarkCommit with the raw JSON compressed
// on 1 to GOMAXPROCS goroutines (Commit uses GOMAXPROCS, rawEncoders):
// on a 2-core machine the second encoder competes with the goroutine
// running SQLite, whose work is the commit's critical path. Only the wall
// clock can differ (the CPU per event is the same work), so compare it on
// an idle machine, with -count alternating the cases.
func BenchmarkCommitEncoders(b *testing.B) {
	saved := rawEncoders
	defer func() { rawEncoders = saved }()
	for w := 1; w <= saved; w++ {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			rawEncoders = w // read by Open (the codec) and by Commit
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchCommit(b, s)
		})
	}
}

// BenchmarkCommitOutcomeIndex is the write cost of the partial index
// events_outcome_type side by side: the same commits on a store migrated
// up to just before it and on a current one (run with -count to
// alternate them on a noisy machine).
func BenchmarkCommitOutcomeIndex(b *testing.B) {
	v := migrationVersion(b, "events_outcome_type")
	for _, c := range []struct {
		name string
		upTo int
	}{{"without", v - 1}, {"with", LatestSchemaVersion()}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := openAt(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{}, c.upTo)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchCommit(b, s)
		})
	}
}

// migrationVersion is the schema version of the migration that mentions name.
func migrationVersion(tb testing.TB, name string) int {
	for i, m := range migrations {
		if strings.Contains(m, name) {
			return i + 1
		}
	}
	tb.Fatalf("no migration mentions %s", name)
	return 0
}

func benchCommit(b *testing.B, s *Store) {
	ctx := context.Background()
	const batch = 1000
	// pre-build a pool of events; uuids are rewritten per iteration
	pool := mkEvents(0, batch, t0, 100*time.Millisecond)
	var rawBytes int64
	for _, e := range pool {
		rawBytes += int64(len(e.Raw))
	}
	b.ReportMetric(float64(rawBytes)/batch, "rawB/event")
	b.SetBytes(rawBytes)
	wal0 := walSize(s)
	b.ResetTimer()
	cpu0 := cpumeter.Process()
	n := 0
	for i := 0; i < b.N; i++ {
		evs := make([]eventT, batch)
		copy(evs, pool)
		for j := range evs {
			n++
			evs[j].UUID = benchUUID(n)
			evs[j].Published = t0.Add(time.Duration(n) * 50 * time.Millisecond)
		}
		res, err := s.Commit(ctx, Batch{Events: evs, Checkpoint: &Checkpoint{NextURL: "x", MaxPublished: evs[batch-1].Published}})
		if err != nil {
			b.Fatal(err)
		}
		if res.EventsInserted != batch {
			b.Fatalf("inserted %d", res.EventsInserted)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
	// events per second of CPU used by this process (all threads): what one
	// core sustains, independent of other load on a shared machine
	if cpu := cpumeter.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "events/cpu-s")
	}
	if grown := walSize(s) - wal0; grown > 0 {
		b.ReportMetric(float64(grown)/1024/float64(b.N), "walKB/page")
	}
}

// walSize is the size of the store's WAL file (0 when it has none).
func walSize(s *Store) int64 {
	st, err := os.Stat(s.path + "-wal")
	if err != nil {
		return 0
	}
	return st.Size()
}

// BenchmarkCommitUserSegments is the write cost of sealing closed user
// buckets (schema 12) side by side with the rows-only roll-ups before it
// (schema 11): 1 000-event pages of the BenchmarkQuery generator (20 000
// users) at the 10 M store's density (one event per 259 ms, an hour every
// ~14 pages, a day every ~334), so that -benchtime 400x seals a whole day
// and ~28 hours. segments_schema12 is schema 12 beside the current schema
// (13: outcome count tables, coarse user segments), which is "segments".
// Run with -count to alternate them on a noisy machine.
func BenchmarkCommitUserSegments(b *testing.B) {
	for _, c := range []struct {
		name string
		upTo int
	}{{"rows", userSegsVersion - 1}, {"segments_schema12", userSegsVersion}, {"segments", LatestSchemaVersion()}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := openAt(ctx, filepath.Join(b.TempDir(), "bench.db"), Options{}, c.upTo)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const batch = 1000
			step := 259 * time.Millisecond
			start := benchEnd.Add(-30 * 24 * time.Hour)
			rng := rand.New(rand.NewPCG(1, 2))
			b.ResetTimer()
			var cpu time.Duration // of the commits only, not of generating the events
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				evs := make([]eventT, batch)
				for j := range evs {
					n := i*batch + j
					evs[j] = benchEvent(rng, n, start.Add(time.Duration(n)*step))
				}
				b.StartTimer()
				cpu0 := cpumeter.Process()
				if _, err := s.Commit(ctx, Batch{Events: evs}); err != nil {
					b.Fatal(err)
				}
				cpu += cpumeter.Process() - cpu0
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "events/cpu-s")
			}
			var segs int64
			s.w.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'user_segs'").Scan(&segs)
			if segs > 0 {
				s.w.QueryRow("SELECT COUNT(*) FROM user_segs").Scan(&segs)
			}
			b.ReportMetric(float64(segs), "segments")
		})
	}
}

// BenchmarkCommitGrown is the write cost as the store grows: 1 000-event
// pages of the BenchmarkQuery generator (20 000 users, one event per
// 259 ms as in the 10 M store) committed into a store already holding
// prefill events of the same stream (written first, not timed; ~1 min
// per 100 000 events idle). A page dirties about one leaf per distinct
// actor, address and session in each secondary index, and those leaves
// spread as the store grows, so walKB/kevent (WAL KB per 1 000 events;
// exact: the WAL is truncated before the timed pages, and ~20 pages of
// 1 000 stay under the autocheckpoint) and events/cpu-s show what a small
// empty store hides (prefill=0 also trains the raw JSON dictionary in its
// first timed pages). The sizes:
// OKTAGUARD_BENCH_COMMIT_PREFILL, comma-separated (default 0,100000).
// OKTAGUARD_BENCH_COMMIT_BATCH sets the events per commit (default 1 000,
// one Okta page): larger transactions share the dirtied index leaves
// among more events (walKB/kevent is per 1 000 events whatever the batch).
func BenchmarkCommitGrown(b *testing.B) {
	sizes := "0,100000"
	if v := os.Getenv("OKTAGUARD_BENCH_COMMIT_PREFILL"); v != "" {
		sizes = v
	}
	batch := 1000
	if v := os.Getenv("OKTAGUARD_BENCH_COMMIT_BATCH"); v != "" {
		if _, err := fmt.Sscan(v, &batch); err != nil || batch <= 0 {
			b.Fatalf("OKTAGUARD_BENCH_COMMIT_BATCH: bad size %q", v)
		}
	}
	// testing runs each case twice (N=1, then N=-benchtime): the store is
	// built once per size and kept for the second run
	type grown struct {
		s    *Store
		rng  *rand.Rand
		next int // the next event number of the stream
	}
	stores := map[int]*grown{}
	defer func() {
		for _, g := range stores {
			g.s.Close()
		}
	}()
	dir := b.TempDir()
	const step = 259 * time.Millisecond
	start := benchEnd.Add(-30 * 24 * time.Hour)
	for _, f := range strings.Split(sizes, ",") {
		var prefill int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &prefill); err != nil || prefill < 0 {
			b.Fatalf("OKTAGUARD_BENCH_COMMIT_PREFILL: bad size %q", f)
		}
		b.Run(fmt.Sprintf("prefill=%d", prefill), func(b *testing.B) {
			ctx := context.Background()
			g := stores[prefill]
			page := func() []eventT {
				evs := make([]eventT, batch)
				for j := range evs {
					evs[j] = benchEvent(g.rng, g.next, start.Add(time.Duration(g.next)*step))
					g.next++
				}
				return evs
			}
			if g == nil {
				s, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("bench-%d.db", prefill)))
				if err != nil {
					b.Fatal(err)
				}
				g = &grown{s: s, rng: rand.New(rand.NewPCG(5, 6))}
				stores[prefill] = g
				for g.next < prefill {
					if _, err := s.Commit(ctx, Batch{Events: page()}); err != nil {
						b.Fatal(err)
					}
				}
			}
			s := g.s
			pages := make([][]eventT, b.N)
			for i := range pages {
				pages[i] = page()
			}
			if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				b.Fatal(err)
			}
			wal0 := walSize(s)
			b.ResetTimer()
			cpu0 := cpumeter.Process()
			for i := 0; i < b.N; i++ {
				res, err := s.Commit(ctx, Batch{Events: pages[i], Checkpoint: &Checkpoint{NextURL: "x"}})
				if err != nil {
					b.Fatal(err)
				}
				if res.EventsInserted != batch {
					b.Fatalf("inserted %d", res.EventsInserted)
				}
			}
			b.StopTimer()
			cpu := cpumeter.Process() - cpu0
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(b.N*batch)/cpu.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(walSize(s)-wal0)/1024/(float64(b.N*batch)/1000), "walKB/kevent")
		})
	}
}
