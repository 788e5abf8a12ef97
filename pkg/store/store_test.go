package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/testsamples"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func TestOpenPragmasAndDirs(t *testing.T) {
	s, path := openTemp(t)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	var mode string
	var fk, sync int
	if err := s.w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := s.w.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 1 {
		t.Fatalf("synchronous = %d, %v; want 1 (NORMAL)", sync, err)
	}
	var ps int
	if err := s.w.QueryRow("PRAGMA page_size").Scan(&ps); err != nil || ps != 8192 {
		t.Fatalf("page_size = %d, %v; want 8192", ps, err)
	}
	// readers are read-only
	if _, err := s.r.Exec("INSERT INTO state(key, value, updated_at) VALUES ('x', 'y', 0)"); err == nil {
		t.Fatal("write through the read pool succeeded; want query_only")
	}
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v != LatestSchemaVersion() {
		t.Fatalf("schema version = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenWithOptions(ctx, filepath.Join(dir, "a.db"), Options{Synchronous: "full"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var sync int
	if err := s.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
	if _, err := OpenWithOptions(ctx, filepath.Join(dir, "b.db"), Options{Synchronous: "OFF"}); err == nil {
		t.Fatal("synchronous=OFF accepted")
	}
	if _, err := Open(ctx, ""); err == nil {
		t.Fatal("empty path accepted")
	}
	// a file where the directory should be
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, filepath.Join(blocker, "sub", "x.db"))
	wantErrContains(t, err, "create directory")
}

func TestMigrationsIdempotentAndUpgrade(t *testing.T) {
	ctx := context.Background()
	// Build a version-1 database with events written by that version.
	old, path := openOld(t, "old.db", 1)
	if v, _ := old.SchemaVersion(ctx); v != 1 {
		t.Fatalf("old version = %d, want 1", v)
	}
	for i := 0; i < 30; i++ {
		ev := mkEvent(i, t0.Add(time.Duration(i)*time.Minute))
		c := columnsOf(&ev)
		if _, err := old.w.Exec(insertEventSQL, ev.UUID, c.published, ev.EventType, ev.Actor.AlternateID, ev.Actor.ID,
			ev.Actor.Type, ev.Actor.DisplayName, ev.Outcome.Result, ev.Outcome.Reason, c.ip, c.country, c.city,
			c.lat, c.lon, c.session, ev.Severity, ev.DisplayMessage, c.target, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	for round := 0; round < 2; round++ { // upgrade, then a no-op re-open
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if v, _ := s.SchemaVersion(ctx); v != LatestSchemaVersion() {
			t.Fatalf("round %d: version = %d, want %d", round, v, LatestSchemaVersion())
		}
		if n := countRows(t, s, "schema_migrations"); n != int64(LatestSchemaVersion()) {
			t.Fatalf("round %d: %d migration rows, want %d", round, n, LatestSchemaVersion())
		}
		if n := countRows(t, s, "events"); n != 30 {
			t.Fatalf("round %d: events = %d, want 30 (data kept)", round, n)
		}
		var sum int64
		for _, tbl := range []string{"event_counts", "event_counts_5m", "event_counts_hour"} {
			if err := s.r.QueryRow("SELECT SUM(n) FROM " + tbl).Scan(&sum); err != nil || sum != 30 {
				t.Fatalf("round %d: %s backfill sum = %d, %v; want 30", round, tbl, sum, err)
			}
		}
		var gh int64
		ud := dayEntryEvents(t, s) // a day without a segment is its hours (user_days.go)
		s.r.QueryRow("SELECT SUM(n) FROM geo_hours").Scan(&gh)
		if ud != 30 || gh != 30 {
			t.Fatalf("round %d: user/geo roll-up backfill = %d/%d, want 30/30", round, ud, gh)
		}
		if n := countRows(t, s, "actors"); n != 30 {
			t.Fatalf("round %d: actors = %d, want 30", round, n)
		}
		s.Close()
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if _, err := s.w.Exec("INSERT INTO schema_migrations(version, applied_at) VALUES (99, 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, path)
	wantErrContains(t, err, "newer than this build")
}

func TestCommitReopenSameData(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	evs := mkEvents(0, 300, t0, time.Second)
	cp := Checkpoint{NextURL: "https://acme.okta.com/api/v1/logs?after=abc&limit=1000&sortOrder=ASCENDING",
		MaxPublished: evs[299].Published, BackfillSince: t0.Add(-7 * 24 * time.Hour), BackfillDone: true}
	alerts := mkAlert("a1", "failed_logins", "medium", evs[10].Published, evs[10].Actor.AlternateID, evs[10].UUID, evs[17].UUID)
	res := mustCommit(t, s, Batch{Events: evs, Checkpoint: &cp,
		Alerts: []detectAlert{alerts},
		State:  map[string][]byte{"detect/failed_logins": []byte(`{"x":1}`), "empty": {}}})
	if res.EventsInserted != 300 || res.AlertsInserted != 1 {
		t.Fatalf("result = %+v", res)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Commit(ctx, Batch{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close = %v, want ErrClosed", err)
	}

	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, ok, err := s2.LoadCheckpoint(ctx)
	if err != nil || !ok {
		t.Fatalf("LoadCheckpoint = %v, %v", ok, err)
	}
	if got.NextURL != cp.NextURL || !got.MaxPublished.Equal(cp.MaxPublished) || !got.BackfillSince.Equal(cp.BackfillSince) ||
		!got.BackfillDone || got.UpdatedAt.IsZero() {
		t.Fatalf("checkpoint = %+v, want %+v", got, cp)
	}
	uuids := []string{"missing-uuid"}
	for _, e := range evs {
		uuids = append(uuids, e.UUID)
	}
	has, err := s2.HasEvents(ctx, uuids)
	if err != nil {
		t.Fatal(err)
	}
	if len(has) != 300 || has["missing-uuid"] {
		t.Fatalf("HasEvents: %d found (missing-uuid=%v), want 300", len(has), has["missing-uuid"])
	}
	v, ok, err := s2.GetState(ctx, "detect/failed_logins")
	if err != nil || !ok || string(v) != `{"x":1}` {
		t.Fatalf("GetState = %q, %v, %v", v, ok, err)
	}
	v, ok, err = s2.GetState(ctx, "empty")
	if err != nil || !ok || len(v) != 0 {
		t.Fatalf("GetState(empty) = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := s2.GetState(ctx, "nope"); ok || err != nil {
		t.Fatalf("GetState(nope) = %v, %v", ok, err)
	}
	// raw JSON is stored compressed and round-trips byte for byte
	raw, n := blockOf(t, s2, evs[42].UUID)
	if !bytes.HasPrefix(raw, zstdMagic) || len(raw) >= n*len(evs[42].Raw)/2 {
		t.Fatalf("a block of %d events stored as %d bytes (zstd: %v), want a zstd frame under half its ~%d bytes of JSON",
			n, len(raw), bytes.HasPrefix(raw, zstdMagic), n*len(evs[42].Raw))
	}
	ev42, ok, err := s2.GetEvent(ctx, evs[42].UUID)
	if err != nil || !ok {
		t.Fatalf("GetEvent = %v, %v", ok, err)
	}
	if !bytes.Equal(ev42.Raw, evs[42].Raw) {
		t.Fatal("raw JSON differs after reopen")
	}
	// state delete with a nil value
	mustCommit(t, s2, Batch{State: map[string][]byte{"detect/failed_logins": nil}})
	if _, ok, _ := s2.GetState(ctx, "detect/failed_logins"); ok {
		t.Fatal("state key not deleted by a nil value")
	}
	all, err := s2.AllState(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("AllState = %v, %v; want only \"empty\"", all, err)
	}
}

func TestLoadCheckpointAbsent(t *testing.T) {
	s, _ := openTemp(t)
	_, ok, err := s.LoadCheckpoint(context.Background())
	if ok || err != nil {
		t.Fatalf("LoadCheckpoint on empty store = %v, %v; want false, nil", ok, err)
	}
}

func TestCommitDuplicatesCountedOnce(t *testing.T) {
	s, _ := openTemp(t)
	first := mkEvents(0, 100, t0, time.Second)
	res := mustCommit(t, s, Batch{Events: first})
	if res.EventsInserted != 100 {
		t.Fatalf("first batch inserted %d, want 100", res.EventsInserted)
	}
	// second batch: 50 old, 50 new, and one new event repeated in the batch
	second := append(mkEvents(50, 100, t0.Add(50*time.Second), time.Second), mkEvent(120, t0))
	res = mustCommit(t, s, Batch{Events: second})
	if res.EventsInserted != 50 {
		t.Fatalf("second batch inserted %d, want 50", res.EventsInserted)
	}
	for i, ok := range res.Inserted {
		want := i >= 50 && i < 100
		if ok != want {
			t.Fatalf("Inserted[%d] = %v, want %v", i, ok, want)
		}
	}
	if n := countRows(t, s, "events"); n != 150 {
		t.Fatalf("events = %d, want 150", n)
	}
	if n := rawStored(t, s); n != 150 {
		t.Fatalf("raw JSON of %d events stored, want 150", n)
	}
	var sum, sum5, sumH, sumA int64
	s.r.QueryRow("SELECT SUM(n) FROM event_counts").Scan(&sum)
	s.r.QueryRow("SELECT SUM(n) FROM event_counts_5m").Scan(&sum5)
	s.r.QueryRow("SELECT SUM(n) FROM event_counts_hour").Scan(&sumH)
	s.r.QueryRow("SELECT (SELECT COALESCE(SUM(events), 0) FROM actors) + (SELECT COALESCE(SUM(events), 0) FROM actors_log)").Scan(&sumA)
	if sum != 150 || sum5 != 150 || sumH != 150 || sumA != 150 {
		t.Fatalf("roll-ups count %d/%d/%d/%d events, want 150 each (duplicates must not count)", sum, sum5, sumH, sumA)
	}
	// alerts are idempotent by id too
	a := mkAlert("dup", "password_spray", "high", t0, "x@example.com", first[0].UUID)
	r1 := mustCommit(t, s, Batch{Alerts: []detectAlert{a, a}})
	r2 := mustCommit(t, s, Batch{Alerts: []detectAlert{a}})
	if r1.AlertsInserted != 1 || !r1.AlertInserted[0] || r1.AlertInserted[1] || r2.AlertsInserted != 0 {
		t.Fatalf("alert dedup: %+v then %+v", r1, r2)
	}
	if n := countRows(t, s, "alert_events"); n != 1 {
		t.Fatalf("alert links = %d, want 1", n)
	}
}

func TestCommitFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	cp := &Checkpoint{NextURL: "https://x/next", MaxPublished: t0}
	st := map[string][]byte{"k": []byte("v")}
	cases := []struct {
		name  string
		batch func() Batch
		hook  func(i int) error
		ctx   func() context.Context
		want  error
	}{
		{name: "hook fails midway", batch: func() Batch {
			return Batch{Events: mkEvents(0, 1000, t0, time.Second), Checkpoint: cp, State: st}
		}, hook: func(i int) error {
			if i == 500 {
				return errors.New("disk on fire")
			}
			return nil
		}},
		{name: "event without uuid", batch: func() Batch {
			evs := mkEvents(0, 100, t0, time.Second)
			evs[60].UUID = ""
			return Batch{Events: evs, Checkpoint: cp, State: st}
		}, want: ErrInvalidBatch},
		{name: "event without published", batch: func() Batch {
			evs := mkEvents(0, 100, t0, time.Second)
			evs[99].Published = time.Time{}
			return Batch{Events: evs, Checkpoint: cp, State: st}
		}, want: ErrInvalidBatch},
		{name: "alert without id after events", batch: func() Batch {
			return Batch{Events: mkEvents(0, 100, t0, time.Second), Checkpoint: cp, State: st,
				Alerts: []detectAlert{mkAlert("ok", "d", "low", t0, "a"), mkAlert("", "d", "low", t0, "a")}}
		}, want: ErrInvalidBatch},
		{name: "empty state key", batch: func() Batch {
			return Batch{Events: mkEvents(0, 100, t0, time.Second), Checkpoint: cp, State: map[string][]byte{"": []byte("x")}}
		}, want: ErrInvalidBatch},
		{name: "cancelled context", batch: func() Batch {
			return Batch{Events: mkEvents(0, 100, t0, time.Second), Checkpoint: cp, State: st}
		}, ctx: func() context.Context {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return c
		}, want: context.Canceled},
		{name: "context cancelled midway", batch: func() Batch {
			return Batch{Events: mkEvents(0, 2000, t0, time.Second), Checkpoint: cp, State: st}
		}, want: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTemp(t)
			s.testHook = tc.hook
			c := ctx
			if tc.ctx != nil {
				c = tc.ctx()
			}
			if tc.name == "context cancelled midway" {
				cc, cancel := context.WithCancel(ctx)
				defer cancel()
				c = cc
				s.testHook = func(i int) error {
					if i == 700 {
						cancel()
					}
					return nil
				}
			}
			_, err := s.Commit(c, tc.batch())
			if err == nil {
				t.Fatal("Commit succeeded, want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
			for _, tbl := range []string{"events", "events_raw", "alerts", "alert_events", "checkpoint", "state_log", "event_counts", "actors", "actors_log"} {
				if n := countRows(t, s, tbl); n != 0 {
					t.Fatalf("%s has %d rows after a failed commit", tbl, n)
				}
			}
			// the store stays usable
			s.testHook = nil
			if res := mustCommit(t, s, Batch{Events: mkEvents(0, 10, t0, time.Second)}); res.EventsInserted != 10 {
				t.Fatalf("commit after failure inserted %d", res.EventsInserted)
			}
		})
	}
}

// TestCheckpointAdvancesOnlyWithEvents: a crash between fetching a page and
// committing it loses nothing, because neither the page nor its checkpoint
// was committed; the restart re-fetches from the previous checkpoint.
func TestCheckpointAdvancesOnlyWithEvents(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	page1 := mkEvents(0, 200, t0, time.Second)
	cp1 := Checkpoint{NextURL: "https://x/logs?after=p1", MaxPublished: page1[199].Published}
	mustCommit(t, s, Batch{Events: page1, Checkpoint: &cp1})
	page2 := mkEvents(200, 200, t0.Add(200*time.Second), time.Second)
	// page2 fetched, then the process dies before Commit.
	s.Close()

	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, _, _ := s2.LoadCheckpoint(ctx)
	if got.NextURL != cp1.NextURL {
		t.Fatalf("checkpoint = %q, want the one committed with page 1", got.NextURL)
	}
	cp2 := Checkpoint{NextURL: "https://x/logs?after=p2", MaxPublished: page2[199].Published}
	res := mustCommit(t, s2, Batch{Events: page2, Checkpoint: &cp2})
	if res.EventsInserted != 200 {
		t.Fatalf("re-fetched page inserted %d, want 200", res.EventsInserted)
	}
	if n := countRows(t, s2, "events"); n != 400 {
		t.Fatalf("events = %d, want 400", n)
	}
}

// TestKilledAfterCommit kills a child process right after Commit returns,
// without Close: the committed batch must be there after reopening.
func TestKilledAfterCommit(t *testing.T) {
	if p := os.Getenv("OKTAGUARD_STORE_CRASH_DB"); p != "" {
		s, err := Open(context.Background(), p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if _, err := s.Commit(context.Background(), Batch{Events: mkEvents(0, 500, t0, time.Second),
			Checkpoint: &Checkpoint{NextURL: "after-crash"}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		proc, _ := os.FindProcess(os.Getpid())
		proc.Kill()
		select {}
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledAfterCommit$")
	cmd.Env = append(os.Environ(), "OKTAGUARD_STORE_CRASH_DB="+path)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 2 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := countRows(t, s, "events"); n != 500 {
		t.Fatalf("events after kill = %d, want 500", n)
	}
	cp, ok, _ := s.LoadCheckpoint(context.Background())
	if !ok || cp.NextURL != "after-crash" {
		t.Fatalf("checkpoint after kill = %+v, %v", cp, ok)
	}
}

func TestConcurrentReadersWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const batches, per = 20, 200
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	done := make(chan struct{})
	var committed atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for b := 0; b < batches; b++ {
			evs := mkEvents(b*per, per, t0.Add(time.Duration(b*per)*time.Second), time.Second)
			if _, err := s.Commit(ctx, Batch{Events: evs, Checkpoint: &Checkpoint{NextURL: fmt.Sprint(b)}}); err != nil {
				errc <- err
				return
			}
			committed.Add(1)
		}
	}()
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(0)
			for {
				seen := committed.Load()
				select {
				case <-done:
					return
				default:
				}
				st, err := s.Stats(ctx)
				if err != nil {
					errc <- err
					return
				}
				if st.Events < last || st.Events%per != 0 {
					errc <- fmt.Errorf("reader saw %d events after %d: a partial batch or going back", st.Events, last)
					return
				}
				last = st.Events
				if _, err := s.HasEvents(ctx, []string{mkEvent(5, t0).UUID}); err != nil {
					errc <- err
					return
				}
				// Read again once the writer has moved on: the reads
				// overlap its next commit without starving it of CPU
				// (readers in a tight loop made this test take minutes
				// under -race on two cores).
				testwait.For(time.Minute, func() bool {
					select {
					case <-done:
						return true
					default:
						return committed.Load() != seen
					}
				})
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if n := countRows(t, s, "events"); n != batches*per {
		t.Fatalf("events = %d, want %d", n, batches*per)
	}
}

func TestDecodedSamplesStore(t *testing.T) {
	files := testsamples.EventFiles(t)
	s, _ := openTemp(t)
	var evs []event.Event
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		rd := event.NewReader(fh)
		for {
			ev, err := rd.Next()
			if err != nil {
				break
			}
			evs = append(evs, ev)
		}
		fh.Close()
	}
	if len(evs) == 0 {
		t.Fatal("no sample decoded")
	}
	res := mustCommit(t, s, Batch{Events: evs})
	// samples may repeat uuids across files; the store keeps each once
	uniq := map[string]bool{}
	for _, e := range evs {
		uniq[e.UUID] = true
	}
	if res.EventsInserted != len(uniq) {
		t.Fatalf("inserted %d, want %d unique", res.EventsInserted, len(uniq))
	}
}

func TestBackupWhileOpen(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	mustCommit(t, s, Batch{Events: mkEvents(0, 250, t0, time.Second), Checkpoint: &Checkpoint{NextURL: "n1"}})
	dest := filepath.Join(t.TempDir(), "backups", "copy.db")
	if err := s.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, dest); err == nil {
		t.Fatal("backup over an existing file succeeded")
	}
	mustCommit(t, s, Batch{Events: mkEvents(250, 10, t0, time.Second)}) // after the backup
	b, err := Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, _ := b.Stats(ctx)
	cp, ok, _ := b.LoadCheckpoint(ctx)
	if st.Events != 250 || !ok || cp.NextURL != "n1" {
		t.Fatalf("backup has %d events, checkpoint %+v", st.Events, cp)
	}
}
