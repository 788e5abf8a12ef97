package pipeline

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// offlinePipeline is a pipeline whose pages the test hands over (hold,
// due, commitBatch) instead of polling: no Okta behind it.
func offlinePipeline(t *testing.T, o Options) *Pipeline {
	t.Helper()
	s := testSettings(t, "http://127.0.0.1:1", t.TempDir())
	p, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func page(evs []json.RawMessage, n int, full bool) okta.Page {
	return okta.Page{Events: evs, Next: fmt.Sprintf("http://127.0.0.1:1/api/v1/logs?after=p%d", n), Limit: len(evs), Full: full}
}

func stored(t *testing.T, p *Pipeline, evs []json.RawMessage) int {
	t.Helper()
	var ids []string
	for _, r := range evs {
		var v struct{ UUID string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.UUID)
	}
	have, err := p.Store().HasEvents(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return len(have)
}

// An event of a held page repeated by a later page of the same batch is
// dropped: it is stored once and counted as a duplicate; nothing is
// stored before the batch's commit, and the checkpoint is the last page's.
func TestBatchDropsDuplicatesAcrossHeldPages(t *testing.T) {
	p := offlinePipeline(t, Options{BatchEvents: 1000, BatchAge: time.Hour})
	ctx := context.Background()
	now := time.Now()
	evs := genEvents(41, 30, now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	p3 := append([]json.RawMessage{evs[4]}, evs[20:]...) // page 3 repeats an event of page 1
	pages := []okta.Page{page(evs[:10], 1, true), page(evs[10:20], 2, true), page(p3, 3, true)}
	var b *batch
	for i, pg := range pages {
		var err error
		if b, err = p.hold(ctx, b, pg); err != nil {
			t.Fatal(err)
		}
		if p.due(b, pg) {
			t.Fatalf("page %d of 1 000 events' bound: due", i+1)
		}
	}
	if n := stored(t, p, evs); n != 0 {
		t.Fatalf("%d events stored before the batch's commit", n)
	}
	if err := p.commitBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, p, evs); n != 30 {
		t.Fatalf("stored %d of 30 events", n)
	}
	st := p.Status()
	if st.EventsIngested != 30 || st.Duplicates != 1 || st.Pages != 3 {
		t.Fatalf("status after the batch: ingested %d, duplicates %d, pages %d; want 30, 1, 3", st.EventsIngested, st.Duplicates, st.Pages)
	}
	cp, ok, err := p.Store().LoadCheckpoint(ctx)
	if err != nil || !ok || cp.NextURL != pages[2].Next {
		t.Fatalf("checkpoint %+v (%v, %v), want the last page's next link", cp, ok, err)
	}
	// the uuids of the committed batch are in the seen-set: a later page
	// repeating one drops it without asking the store
	b, err = p.hold(ctx, nil, page(evs[:1], 4, true))
	if err != nil || len(b.events) != 0 || b.dups != 1 {
		t.Fatalf("a committed event held again: %d fresh, %d dups (%v)", len(b.events), b.dups, err)
	}
}

// Events the store already holds but the seen-set forgot (a restart) are
// dropped from the middle of a page: the fresh ones are kept in their
// order, each once, into the commit and the subscribers' update; events
// before and after a dropped one, a duplicate within the page included.
func TestBatchDropsStoredEventsInPlace(t *testing.T) {
	p := offlinePipeline(t, Options{BatchEvents: 1000, BatchAge: time.Hour})
	ctx := context.Background()
	now := time.Now()
	evs := genEvents(43, 10, now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	uuidOf := func(r json.RawMessage) string {
		var v struct{ UUID string }
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		return v.UUID
	}
	first := []json.RawMessage{evs[2], evs[5], evs[7]}
	if err := p.commitBatch(ctx, mustHold(t, p, page(first, 1, false))); err != nil {
		t.Fatal(err)
	}
	p.seen.Reset() // as after a restart: only the store knows them
	sub, cancel := p.Subscribe(4)
	defer cancel()
	pg := append(append([]json.RawMessage{}, evs...), evs[3]) // evs[3] twice in the page
	b := mustHold(t, p, page(pg, 2, false))
	var want []string
	for i, r := range evs {
		if i != 2 && i != 5 && i != 7 {
			want = append(want, uuidOf(r))
		}
	}
	var got []string
	for i := range b.events {
		got = append(got, b.events[i].UUID)
	}
	if !slices.Equal(got, want) || b.dups != 4 {
		t.Fatalf("held %v (%d dups), want %v (4 dups)", got, b.dups, want)
	}
	if err := p.commitBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if n := stored(t, p, evs); n != 10 {
		t.Fatalf("stored %d of 10 events", n)
	}
	var u Update
	select {
	case u = <-sub:
	default:
		t.Fatal("no update published after the commit")
	}
	got = got[:0]
	for i := range u.Events {
		got = append(got, u.Events[i].UUID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
}

func mustHold(t *testing.T, p *Pipeline, pg okta.Page) *batch {
	t.Helper()
	b, err := p.hold(context.Background(), nil, pg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The bounds: a short page, the events' bound and the age bound each make
// the held pages due; below them full pages are held.
func TestBatchBounds(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	tick := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	// No pace bound: commitBatch times its commits on the wall clock, and a
	// commit slowed by the machine's load (seconds under -race at load 40)
	// would shrink the next batch below these bounds (TestBatchBoundFollowsCommitPace tests
	// that bound on its own).
	p := offlinePipeline(t, Options{Now: now, BatchEvents: 25, BatchAge: 2 * time.Second, BatchCommitBudget: time.Hour})
	ctx := context.Background()
	evs := genEvents(42, 100, clock.Add(-3*time.Hour), clock.Add(-2*time.Hour))
	type step struct {
		evs     []json.RawMessage
		full    bool
		advance time.Duration // clock moves before the page
		due     bool
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"short page at once", []step{{evs[0:10], false, 0, true}}},
		{"short page after held ones", []step{{evs[10:20], true, 0, false}, {evs[20:25], false, 0, true}}},
		{"events bound", []step{{evs[25:35], true, 0, false}, {evs[35:45], true, 0, false}, {evs[45:55], true, 0, true}}},
		{"age bound", []step{{evs[55:60], true, 0, false}, {evs[60:65], true, time.Second, false}, {evs[65:70], true, time.Second, true}}},
	} {
		var b *batch
		for i, s := range c.steps {
			tick(s.advance)
			var err error
			pg := page(s.evs, i, s.full)
			if b, err = p.hold(ctx, b, pg); err != nil {
				t.Fatal(err)
			}
			if got := p.due(b, pg); got != s.due {
				t.Fatalf("%s: page %d due = %v, want %v", c.name, i+1, got, s.due)
			}
		}
		if err := p.commitBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if n := stored(t, p, evs[:70]); n != 70 {
		t.Fatalf("stored %d of 70", n)
	}
}

// Through Run: a backfill of full pages is committed in batches, the short
// page at the head of the log commits what is held at once, and live
// pages afterwards are committed one by one as before.
func TestBatchBackfillThenLive(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	now := time.Now()
	sim.Add(genEvents(43, 450, now.Add(-24*time.Hour), now.Add(-time.Minute))...)
	s := testSettings(t, url, t.TempDir())
	p, err := New(s, Options{OktaOptions: fastOkta(), BatchEvents: 10000, BatchAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	updates, stop := p.Subscribe(100)
	defer stop()
	defer runInBackground(t, p)()
	// 4 full pages and a short one: held, then one commit
	u := <-updates
	if len(u.Events) != 450 {
		t.Fatalf("the backfill's first commit carried %d events, want all 450 (one batch)", len(u.Events))
	}
	if st := p.Status(); st.Pages != 5 || !st.BackfillDone {
		t.Fatalf("status after the backfill: %+v", st)
	}
	for i := 0; i < 3; i++ {
		sim.Add(genEvents(uint64(50+i), 7, time.Now().Add(-time.Second), time.Now())...)
		if u := <-updates; len(u.Events) != 7 {
			t.Fatalf("live page %d: a commit of %d events, want 7", i+1, len(u.Events))
		}
	}
}

// Cancelling Run while pages are held commits them (within the grace):
// everything polled is stored once, the checkpoint is the last held
// page's, and a restart resumes from it.
func TestBatchShutdownCommitsHeldPages(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	now := time.Now()
	sim.Add(genEvents(44, 1000, now.Add(-48*time.Hour), now.Add(-time.Hour))...)
	dir := t.TempDir()
	s := testSettings(t, url, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := New(s, Options{OktaOptions: fastOkta(), BatchEvents: 10000, BatchAge: time.Hour, BeforeCommit: func(n int) {
		if n == 5 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.EventsIngested != 500 || st.Pages != 5 {
		t.Fatalf("after the shutdown: ingested %d, pages %d; want 500, 5", st.EventsIngested, st.Pages)
	}
	p.Close()
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 500 {
		t.Fatalf("store holds %d events, want the 5 held pages' 500", got)
	}
	served := sim.Stats().EventsServed
	p2 := newTestPipeline(t, s, &syncBuffer{})
	defer p2.Close()
	if err := runUntil(t, p2, 20*time.Second, storeHasAll(p2, sim)); err != nil {
		t.Fatal(err)
	}
	if re := sim.Stats().EventsServed - served; re != 500 {
		t.Fatalf("the restart read %d events, want the 500 not committed", re)
	}
	p2.Close()
	assertExactlyOnce(t, sim, s.Storage.Path)
}

// storedAlerts reads every alert of st as JSON keyed by id.
func storedAlerts(t *testing.T, st store.Backend) map[string]string {
	t.Helper()
	as, err := st.QueryAlerts(context.Background(), store.AlertQuery{From: time.Unix(0, 0), To: time.Now().Add(time.Hour), Limit: store.DefaultMaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range as {
		if _, dup := out[a.ID]; dup {
			t.Fatalf("alert %s returned twice", a.ID)
		}
		js, _ := json.Marshal(a)
		out[a.ID] = string(js)
	}
	return out
}

// The same traffic (generated attacks, incidents that grow across pages)
// ingested one page per commit and in batches stores the same alerts:
// same ids, detectors, actors, windows, counts and event ids, each once.
func TestBatchAlertsSameAsPagePerCommit(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 7, Users: 40, Days: 10, Attacks: true, NoExtended: true,
		Start: time.Now().UTC().AddDate(0, 0, -11)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ds.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	var evs []json.RawMessage
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		evs = append(evs, json.RawMessage(l))
	}
	backfill := time.Since(ds.Start.Add(-time.Hour)) // from before the first generated day
	sim, url := startSim(t, oktasim.Options{})
	if err := sim.Add(evs...); err != nil {
		t.Fatal(err)
	}
	backends := []string{"sqlite"}
	if os.Getenv(pgtest.EnvDSN) != "" {
		backends = append(backends, "postgres")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			var got [2]map[string]string
			for i, batchEvents := range []int{1, 10000} {
				s := testSettings(t, url, t.TempDir())
				s.Okta.PageLimit = 1000
				s.Okta.Backfill = backfill
				s.IPLists = ds.Lists.Map()
				o := Options{OktaOptions: fastOkta(), BatchEvents: batchEvents, BatchAge: time.Hour}
				if backend == "postgres" {
					st, err := postgres.Open(context.Background(), postgres.Config{DSN: pgtest.Schema(t), Org: url})
					if err != nil {
						t.Fatal(err)
					}
					defer st.Close()
					o.Store = st
				}
				p, err := New(s, o)
				if err != nil {
					t.Fatal(err)
				}
				if err := runUntil(t, p, 60*time.Second, allStored(sim)); err != nil {
					t.Fatal(err)
				}
				got[i] = storedAlerts(t, p.Store())
				p.Close()
			}
			if len(got[0]) < 10 {
				t.Fatalf("the traffic raised %d alerts; the comparison needs attacks", len(got[0]))
			}
			for id, a := range got[0] {
				if got[1][id] != a {
					t.Errorf("alert %s:\n page per commit %s\n batched         %s", id, a, got[1][id])
				}
			}
			for id := range got[1] {
				if _, ok := got[0][id]; !ok {
					t.Errorf("alert %s only with batching: %s", id, got[1][id])
				}
			}
			t.Logf("%d events, %d alerts, identical", len(evs), len(got[0]))
		})
	}
}

// sqliteAlerts counts the alerts of a SQLite store: all, distinct ids,
// password sprays, and incidents (detector, ip, time) stored twice.
func sqliteAlerts(t *testing.T, path string) (all, ids, sprays, twice int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT id), COUNT(*) FILTER (WHERE detector = 'password_spray') FROM alerts`).Scan(&all, &ids, &sprays); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT detector, ip, time FROM alerts GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)`).Scan(&twice); err != nil {
		t.Fatal(err)
	}
	return all, ids, sprays, twice
}

// TestKillWhileBatchPending: the helper commits three 100-event pages at
// once (batch bound 300), holds pages 4 and 5 and is killed with SIGKILL
// before page 6; the store holds the 300 committed events only. A restart
// stores the org's uuid set exactly (0 lost, 0 duplicated) and every
// password spray once.
func TestKillWhileBatchPending(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	start := time.Now().Add(-72 * time.Hour)
	evs := append(genEvents(45, 800, start, time.Now()), sprayEvents(20, start.Add(time.Hour))...)
	sim.Add(byPublished(evs)...)
	dir := t.TempDir()
	runKilledHelper(t, url, dir, 6, 300)
	s := testSettings(t, url, dir)
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 300 {
		t.Fatalf("after the kill the store holds %d events, want 300 (pages 1-3; 4 and 5 were held)", got)
	}
	p := newTestPipeline(t, s, &syncBuffer{})
	defer p.Close()
	if err := runUntil(t, p, 20*time.Second, storeHasAll(p, sim)); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.EventsIngested != int64(len(evs)-300) {
		t.Fatalf("restart ingested %d new events, want %d", st.EventsIngested, len(evs)-300)
	}
	p.Close()
	assertExactlyOnce(t, sim, s.Storage.Path)
	all, ids, sprays, twice := sqliteAlerts(t, s.Storage.Path)
	if sprays != 20 || all != ids || twice != 0 {
		t.Fatalf("alerts: %d stored, %d distinct ids, %d password sprays (want 20), %d incidents stored twice", all, ids, sprays, twice)
	}
}

// runInBackground runs p until the returned stop is called; stop cancels
// Run and reports its error.
func runInBackground(t *testing.T, p *Pipeline) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// The events bound follows the commits' pace: it at most doubles after a
// fast commit and shrinks to what the budget allows after a slow one.
func TestBatchBoundFollowsCommitPace(t *testing.T) {
	p := offlinePipeline(t, Options{BatchCommitBudget: 2 * time.Second})
	for _, c := range []struct {
		n    int
		d    time.Duration
		want int
	}{
		{1000, 100 * time.Millisecond, 2000}, // fast: doubles
		{8000, 1500 * time.Millisecond, 10666},
		{10000, 5 * time.Second, 4000}, // slow: the budget's share
		{100, 0, 200},
	} {
		p.adaptBatch(c.n, c.d)
		if p.batchCap != c.want {
			t.Errorf("after %d events in %s: bound %d, want %d", c.n, c.d, p.batchCap, c.want)
		}
	}
	if n, _ := p.batchLimits(); n != DefaultBatchEvents {
		t.Fatalf("default events bound %d", n)
	}
}

// A failed batch commit stores nothing of the held pages; the pipeline
// rebuilds its engine from the store and polls again from the last
// committed cursor, so the pages are read again and stored once. The
// failure is real: a trigger on the store's checkpoint table aborts the
// transaction while it exists.
func TestBatchFailedCommitResumesFromCommittedCursor(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	now := time.Now()
	sim.Add(genEvents(46, 1000, now.Add(-48*time.Hour), now.Add(-time.Hour))...)
	dir := t.TempDir()
	s := testSettings(t, url, dir)
	db, err := sql.Open("sqlite", "file:"+s.Storage.Path+"?_pragma=busy_timeout(30000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		if _, err := db.Exec(q); err != nil {
			t.Error(err)
		}
	}
	logs := &syncBuffer{}
	p, err := New(s, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), OktaOptions: fastOkta(),
		BatchEvents: 300, BatchAge: time.Hour, BatchCommitBudget: time.Hour, // batches of exactly three pages, whatever the load
		BeforeCommit: func(n int) {
			switch n {
			case 4: // pages 1-3 are committed; the commit of 4-6 fails
				exec(`CREATE TRIGGER fail_commit BEFORE INSERT ON checkpoint BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
			case 8: // pages 4 and 5 read again (n 7, 8): the next commit succeeds
				exec(`DROP TRIGGER fail_commit`)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := runUntil(t, p, 30*time.Second, storeHasAll(p, sim)); err != nil {
		t.Fatal(err)
	}
	st := p.Status()
	if !strings.Contains(st.LastError, "injected failure") {
		t.Fatalf("the injected failure is not the last error: %q", st.LastError)
	}
	if st.EventsIngested != 1000 {
		t.Fatalf("ingested %d events, want 1000", st.EventsIngested)
	}
	// pages 4-6 were read twice, nothing else
	if served := sim.Stats().EventsServed; served != 1300 {
		t.Fatalf("the simulator served %d events, want 1 000 and pages 4-6 again (1 300)", served)
	}
	if !strings.Contains(logs.String(), "commit failed, the pages held since the last commit will be fetched again") {
		t.Fatalf("failure not logged:\n%s", logs.String())
	}
	p.Close()
	assertExactlyOnce(t, sim, s.Storage.Path)
}

// A batch's events reach subscribers in updates of at most one Okta page
// (a live tail sends each update as one frame), every event once.
func TestBatchPublishesPageSizedUpdates(t *testing.T) {
	p := offlinePipeline(t, Options{BatchAge: time.Hour})
	updates, stop := p.Subscribe(100)
	defer stop()
	ctx := context.Background()
	now := time.Now()
	evs := genEvents(47, 2500, now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	var b *batch
	for i := 0; i < 5; i++ {
		var err error
		if b, err = p.hold(ctx, b, page(evs[i*500:(i+1)*500], i, true)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.commitBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for len(seen) < 2500 {
		u := <-updates
		if len(u.Events) == 0 || len(u.Events) > 1000 {
			t.Fatalf("an update of %d events", len(u.Events))
		}
		for _, ev := range u.Events {
			if seen[ev.UUID] {
				t.Fatalf("event %s published twice", ev.UUID)
			}
			seen[ev.UUID] = true
		}
	}
	if len(updates) != 0 {
		t.Fatalf("%d updates more than the events", len(updates))
	}
}
