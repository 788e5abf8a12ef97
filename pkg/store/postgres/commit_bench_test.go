package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// stmtTimer is a pgx tracer summing the wall time of each statement kind
// (its first words and table) as the client sees it: sent to result read.
type stmtTimer struct {
	mu    sync.Mutex
	total map[string]time.Duration
}

type stmtKey struct{}

type stmtStart struct {
	name string
	at   time.Time
}

var stmtName = regexp.MustCompile(`(?i)^\s*(insert into|delete from|select|copy|begin|commit|update)\s*([a-z_0-9.]*)`)

func (t *stmtTimer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	name := d.SQL
	if m := stmtName.FindStringSubmatch(d.SQL); m != nil {
		name = strings.ToUpper(m[1]) + " " + m[2]
	} else if len(name) > 40 {
		name = name[:40]
	}
	return context.WithValue(ctx, stmtKey{}, stmtStart{name, time.Now()})
}

func (t *stmtTimer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	t.add(ctx)
}

func (t *stmtTimer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	return context.WithValue(ctx, stmtKey{}, stmtStart{"COPY " + d.TableName.Sanitize(), time.Now()})
}

func (t *stmtTimer) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	t.add(ctx)
}

func (t *stmtTimer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, stmtKey{}, stmtStart{"BATCH (roll-ups, checkpoint, state)", time.Now()})
}

func (t *stmtTimer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (t *stmtTimer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	t.add(ctx)
}

func (t *stmtTimer) add(ctx context.Context) {
	st, ok := ctx.Value(stmtKey{}).(stmtStart)
	if !ok {
		return
	}
	t.mu.Lock()
	t.total[st.name] += time.Since(st.at)
	t.mu.Unlock()
}

// BenchmarkCommit measures the write path on PostgreSQL: pages of 1000
// new events (~1.8 KB raw JSON each) committed in one transaction each
// (COPY into the day partition, roll-ups), as the pipeline commits a
// page. Besides events/s (wall clock) it reports the CPU per event of this
// process (go-us/event; the benchmark's 1 000-event pages, live in the
// heap, make its GC cycles dearer than the pipeline's) and of the
// server's backends (server-us/event, read from /proc when the server
// runs on this machine; every client backend of the test database is
// counted, so run it alone there).
func BenchmarkCommit(b *testing.B) { benchCommit(b, nil, false, nil) }

// BenchmarkCommitRollups is BenchmarkCommit with the page's roll-ups
// folded by the plain INSERT ... ON CONFLICT DO UPDATE (on-conflict) and
// by the update-first statements Commit uses (update-first,
// rollup_sql.go), side by side (-count alternates them; -v with
// BenchmarkCommitStatements times each statement):
//
//	OKTAGUARD_TEST_PG_DSN=... go test ./pkg/store/postgres -run '^$' -bench BenchmarkCommitRollups -benchtime 20x -count 3
func BenchmarkCommitRollups(b *testing.B) {
	for _, c := range []struct {
		name  string
		plain bool
	}{{"on-conflict", true}, {"update-first", false}} {
		b.Run(c.name, func(b *testing.B) { benchCommit(b, nil, c.plain, nil) })
	}
}

// BenchmarkCommitStatements is BenchmarkCommit with every statement timed
// by a pgx tracer: it logs the client-side milliseconds per page of each
// statement kind (-v). OKTAGUARD_BENCH_ROLLUPS=on-conflict folds the
// roll-ups with the plain upserts (BenchmarkCommitRollups).
// OKTAGUARD_BENCH_DROP_INDEXES (index names,
// comma-separated) drops indexes first, to see what they cost. Where a
// page's commit goes:
//
//	OKTAGUARD_TEST_PG_DSN=... go test ./pkg/store/postgres -run '^$' -bench BenchmarkCommitStatements -benchtime 20x -count 2 -v
func BenchmarkCommitStatements(b *testing.B) {
	benchCommit(b, &stmtTimer{total: map[string]time.Duration{}}, os.Getenv("OKTAGUARD_BENCH_ROLLUPS") == "on-conflict", nil)
}

// benchRaw, when set, configures the store (set) and measures it after the
// timed commits (after: the committed events' bytes, see BenchmarkRawFormat).
type benchRaw struct {
	set   func(*Config)
	after func(b *testing.B, s *Store, mon *pgx.Conn)
}

func benchCommit(b *testing.B, tr *stmtTimer, rollupsOnConflict bool, raw *benchRaw) {
	dsn := pgtest.Schema(b)
	ctx := context.Background()
	cfg := Config{DSN: dsn, Org: "https://bench.okta.example", rollupsOnConflict: rollupsOnConflict}
	if tr != nil {
		cfg.tracer = tr
	}
	if raw != nil {
		raw.set(&cfg)
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mon, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close(ctx)
	const batch = 1000
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Now().Add(-24 * time.Hour)
	pages := make([][]event.Event, b.N)
	for i := range pages {
		pages[i] = make([]event.Event, batch)
		for j := range pages[i] {
			n := i*batch + j
			pages[i][j] = storetest.BenchEvent(rng, n, start.Add(time.Duration(n)*10*time.Millisecond))
		}
	}
	// a first event creates the partitions: not timed
	warm := storetest.BenchEvent(rng, b.N*batch, start)
	if _, err := s.Commit(ctx, store.Batch{Events: []event.Event{warm}}); err != nil {
		b.Fatal(err)
	}
	// what an index costs: OKTAGUARD_BENCH_DROP_INDEXES=events_text,... drops them first
	if drop := os.Getenv("OKTAGUARD_BENCH_DROP_INDEXES"); drop != "" {
		for _, ix := range strings.Split(drop, ",") {
			if _, err := mon.Exec(ctx, "DROP INDEX "+pgx.Identifier{strings.TrimSpace(ix)}.Sanitize()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if tr != nil {
		tr.mu.Lock()
		clear(tr.total)
		tr.mu.Unlock()
	}
	runtime.GC() // the pages' garbage is not the commits'
	srv0, srvOK := backendsCPU(ctx, mon)
	cpu0 := cpumeter.Process()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.Commit(ctx, store.Batch{Events: pages[i], Checkpoint: &store.Checkpoint{NextURL: "x"}})
		if err != nil {
			b.Fatal(err)
		}
		if res.EventsInserted != batch {
			b.Fatalf("inserted %d, want %d", res.EventsInserted, batch)
		}
	}
	b.StopTimer()
	srv1, ok := backendsCPU(ctx, mon)
	events := float64(b.N * batch)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpumeter.Process()-cpu0).Microseconds())/events, "go-us/event")
	if srvOK && ok {
		b.ReportMetric(float64((srv1-srv0).Microseconds())/events, "server-us/event")
	}
	if raw != nil {
		raw.after(b, s, mon)
	}
	if tr == nil {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	names := make([]string, 0, len(tr.total))
	for k := range tr.total {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return tr.total[names[i]] > tr.total[names[j]] })
	var sum time.Duration
	for _, k := range names {
		sum += tr.total[k]
		b.Logf("%-40s %7.1f ms/page", k, float64(tr.total[k].Microseconds())/1000/float64(b.N))
	}
	b.Logf("%-40s %7.1f ms/page of %.1f ms/page wall", "all statements", float64(sum.Microseconds())/1000/float64(b.N),
		float64(b.Elapsed().Microseconds())/1000/float64(b.N))
}

// BenchmarkHasEvents times the pipeline's dedup probe before each commit:
// 1 000 uuids (half stored) against an org of 30 000 events over 30 days
// (31 day partitions), built in a fresh schema first (~15 s idle), by
// uuid alone (HasEvents: every partition) and with the events' published
// times (HasEventsAt: the partitions of the times' range; the absent
// uuids are given the stored ones' times). Besides ms per probe it
// reports the server's CPU per probe (server-ms/probe, as BenchmarkCommit).
func BenchmarkHasEvents(b *testing.B) {
	dsn := pgtest.Schema(b)
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: dsn, Org: "https://bench.okta.example"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mon, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close(ctx)
	storetest.Fill(b, s, 30000)
	var ids []string
	var pubs []time.Time
	rows, err := s.pool.Query(ctx, "SELECT uuid, published FROM events ORDER BY published LIMIT 500")
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var u string
		var p int64
		if err := rows.Scan(&u, &p); err != nil {
			b.Fatal(err)
		}
		ids, pubs = append(ids, u), append(pubs, store.FromMS(p))
	}
	if err := rows.Err(); err != nil || len(ids) != 500 {
		b.Fatalf("%d uuids: %v", len(ids), err)
	}
	for i := 0; i < 500; i++ {
		ids, pubs = append(ids, fmt.Sprintf("absent-%d", i)), append(pubs, pubs[i])
	}
	for _, c := range []struct {
		name  string
		probe func() (map[string]bool, error)
	}{
		{"uuids", func() (map[string]bool, error) { return s.HasEvents(ctx, ids) }},
		{"uuids+times", func() (map[string]bool, error) { return s.HasEventsAt(ctx, ids, pubs) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			srv0, srvOK := backendsCPU(ctx, mon)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				have, err := c.probe()
				if err != nil || len(have) != 500 {
					b.Fatalf("has %d of 500 stored: %v", len(have), err)
				}
			}
			b.StopTimer()
			srv1, ok := backendsCPU(ctx, mon)
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/probe")
			if srvOK && ok {
				b.ReportMetric(float64((srv1-srv0).Microseconds())/1000/float64(b.N), "server-ms/probe")
			}
		})
	}
}
