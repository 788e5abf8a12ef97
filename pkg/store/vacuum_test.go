package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fileMode reads a file's auto_vacuum mode on a connection of its own.
func fileMode(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode int
	if err := db.QueryRow("PRAGMA auto_vacuum").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// vacAnswers is what the store answers over [from, to]: counts, events,
// series, geo, users, alerts, event types and actors, as JSON.
func vacAnswers(t *testing.T, s *Store, from, to time.Time) string {
	t.Helper()
	ctx := context.Background()
	var out []any
	add := func(v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("answer %d: %v", len(out), err)
		}
		out = append(out, v)
	}
	add(s.Stats(ctx))
	add(s.QueryEvents(ctx, EventQuery{From: from, To: to, Limit: 50000}))
	add(s.QueryEvents(ctx, EventQuery{From: from, To: to, Text: "London", Limit: 50000, NoRaw: true}))
	add(s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Hour, GroupBy: "eventType", Limit: 100}))
	add(s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: 5 * time.Minute, GroupBy: "outcome", Limit: 100}))
	add(s.GeoPoints(ctx, GeoQuery{From: from, To: to, CountActors: true, Limit: 1000}))
	add(s.GeoPoints(ctx, GeoQuery{From: from, To: to, ByOutcome: true, Precision: 2, Limit: 1000}))
	add(s.UserSummaries(ctx, UserQuery{From: from, To: to, Limit: 1000}))
	add(s.QueryAlerts(ctx, AlertQuery{From: from, To: to, Limit: 1000}))
	add(s.EventTypes(ctx, "", 1000))
	add(s.Actors(ctx, "", 1000))
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func integrityOK(t *testing.T, s *Store) {
	t.Helper()
	var res string
	if err := s.r.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q (%v)", res, err)
	}
}

// fillVac commits n events a minute apart from t0, 1 000 per commit,
// with an alert per 100 events.
func fillVac(t *testing.T, s *Store, n int) {
	t.Helper()
	for i := 0; i < n; i += 1000 {
		evs := mkEvents(i, 1000, t0.Add(time.Duration(i)*time.Minute), time.Minute)
		var als []detectAlert
		for j := 0; j < len(evs); j += 100 {
			als = append(als, mkAlert(fmt.Sprintf("al-%d", i+j), "failed_logins", "high", evs[j].Published, evs[j].Actor.AlternateID, evs[j].UUID))
		}
		mustCommit(t, s, Batch{Events: evs, Alerts: als})
	}
}

// A new store is created with incremental auto-vacuum, and a backup of
// it (VACUUM INTO) keeps the mode.
func TestNewStoreIncrementalAutoVacuum(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	mustCommit(t, s, Batch{Events: mkEvents(0, 10, t0, time.Minute)})
	if m := fileMode(t, path); m != 2 {
		t.Fatalf("auto_vacuum of a new store = %d, want 2 (incremental)", m)
	}
	fs, err := s.FileStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fs.AutoVacuum != AutoVacuumIncremental || fs.FileBytes <= 0 || fs.PageSize != 8192 || fs.Path != path {
		t.Fatalf("FileStats = %+v", fs)
	}
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := s.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if m := fileMode(t, dest); m != 2 {
		t.Fatalf("auto_vacuum of the backup = %d, want 2", m)
	}
	// an existing store keeps the mode it was created with
	old, oldPath := openOld(t, "old.db", len(migrations))
	old.Close()
	if m := fileMode(t, oldPath); m != 2 {
		t.Fatalf("openAt: auto_vacuum = %d", m)
	}
	none := filepath.Join(t.TempDir(), "none.db")
	s2, err := OpenWithOptions(ctx, none, Options{autoVacuumNone: true})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3, err := Open(ctx, none)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if fs, err := s3.FileStats(ctx); err != nil || fs.AutoVacuum != AutoVacuumNone {
		t.Fatalf("a store created without auto-vacuum, reopened: %+v (%v), want mode none", fs, err)
	}
}

// Prune of most events gives the disk back: when Prune returns, the file
// is within a few percent of the pages still in use, and every answer
// equals that of the same store without auto-vacuum pruned the same way.
func TestPruneGivesDiskBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n, cutN = 6000, 4500
	open := func(name string, o Options) (*Store, string) {
		path := filepath.Join(dir, name)
		s, err := OpenWithOptions(ctx, path, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fillVac(t, s, n)
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		return s, path
	}
	s, path := open("prune.db", Options{vacMinFree: 64, vacStepPages: 64})
	ref, refPath := open("none.db", Options{autoVacuumNone: true})
	full := fileSize(t, path)
	cut := t0.Add(cutN * time.Minute)
	for _, st := range []*Store{s, ref} {
		if pruned, err := st.Prune(ctx, cut); err != nil || pruned != cutN {
			t.Fatalf("Prune = %d, %v", pruned, err)
		}
	}
	fs, err := s.FileStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, path)
	t.Logf("file %d B with %d events, %d B after pruning %d (%d B free, %d steps); without auto-vacuum %d B",
		full, n, size, cutN, fs.FreeBytes, fs.VacuumSteps, fileSize(t, refPath))
	if size > full/2 || fs.FreeBytes*100 > size*vacuumKeepPct || fs.VacuumSteps == 0 {
		t.Fatalf("after Prune the file is %d B (%d B free; %d B before): want it cut to what is used", size, fs.FreeBytes, full)
	}
	if size*3/2 > fileSize(t, refPath) {
		t.Fatalf("the file is %d B, without auto-vacuum %d B: no disk given back", size, fileSize(t, refPath))
	}
	from, to := t0, t0.Add(2*n*time.Minute)
	if got, want := vacAnswers(t, s, from, to), vacAnswers(t, ref, from, to); got != want {
		t.Fatal("the answers differ from those of the store without auto-vacuum")
	}
	if st, _ := s.Stats(ctx); st.Events != n-cutN {
		t.Fatalf("%d events left, want %d", st.Events, n-cutN)
	}
	integrityOK(t, s)
}

// With the free list over the thresholds, each commit runs one step that
// frees at most its bound, and the file falls under the bound within the
// commits that bound allows.
func TestCommitsDrainFreeListInBoundedSteps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "steps.db")
	const step = 32
	s, err := OpenWithOptions(ctx, path, Options{vacMinFree: 64, vacStepPages: step})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fillVac(t, s, 6000)
	// the prune without its drain: the commits that follow must drain
	if _, err := s.prune(ctx, t0.Add(5000*time.Minute)); err != nil {
		t.Fatal(err)
	}
	free, pages, err := s.freePages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keep := pages * vacuumKeepPct / 100
	if free <= 64 || free*100 <= pages*vacuumStartPct {
		t.Fatalf("the prune freed %d of %d pages: too few for the test", free, pages)
	}
	from, to := t0.Add(5500*time.Minute), t0.Add(12000*time.Minute)
	want := vacAnswers(t, s, from, to)
	bound := (pages - free + keep + step) * 8192
	maxCommits := int((free-keep)/step) + 2
	for i := 0; ; i++ {
		if i > maxCommits {
			t.Fatalf("the file is still %d B after %d commits (bound %d B)", fileSize(t, path), i, bound)
		}
		s.mu.Lock()
		steps, freed := s.vac.steps, s.vac.freed
		s.mu.Unlock()
		// a small commit: a write transaction of its own
		mustCommit(t, s, Batch{State: map[string][]byte{"k": []byte(fmt.Sprint(i))}})
		s.mu.Lock()
		steps, freed = s.vac.steps-steps, s.vac.freed-freed
		s.mu.Unlock()
		if steps != 1 || freed <= 0 || freed > step {
			t.Fatalf("commit %d: %d steps freed %d pages, want one step of 1 to %d", i, steps, freed, step)
		}
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			t.Fatal(err)
		}
		if fileSize(t, path) <= bound {
			break
		}
	}
	if got := vacAnswers(t, s, from, to); got != want {
		t.Fatal("the answers changed with the vacuum steps")
	}
	integrityOK(t, s)
}

// Compact converts a store created without auto-vacuum: every row kept,
// the mode incremental, the free pages given back; a live lease of
// another instance refuses it.
func TestCompactConvertsOldStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := OpenWithOptions(ctx, path, Options{autoVacuumNone: true})
	if err != nil {
		t.Fatal(err)
	}
	fillVac(t, s, 5000)
	if _, err := s.Prune(ctx, t0.Add(4000*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	grown := fileSize(t, path)
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fs, err := s.FileStats(ctx)
	if err != nil || fs.AutoVacuum != AutoVacuumNone || fs.FreeBytes*2 < fs.FileBytes || fs.FileBytes != grown {
		t.Fatalf("before compact: %+v (%v): want mode none and most of the file free after the prune", fs, err)
	}
	from, to := t0, t0.Add(6000*time.Minute)
	want := vacAnswers(t, s, from, to)
	counts := map[string]int64{}
	for _, tb := range []string{"events", "events_raw", "alerts", "alert_events", "user_hours", "geo_hours", "event_counts"} {
		counts[tb] = countRows(t, s, tb)
	}

	// refused while another instance leads the org on the file
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if _, err := other.Lead(ctx, fmt.Sprintf("%s/%d/serve", host, os.Getpid()), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Compact(ctx); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("Compact beside a live lease: %v, want ErrStoreInUse", err)
	}
	if err := other.Resign(ctx, fmt.Sprintf("%s/%d/serve", host, os.Getpid())); err != nil {
		t.Fatal(err)
	}
	other.Close()

	before, after, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.AutoVacuum != AutoVacuumNone || after.AutoVacuum != AutoVacuumIncremental || after.FreeBytes != 0 ||
		after.FileBytes >= before.FileBytes/2 || fileMode(t, path) != 2 {
		t.Fatalf("Compact: before %+v, after %+v", before, after)
	}
	if got := vacAnswers(t, s, from, to); got != want {
		t.Fatal("the answers changed with Compact")
	}
	for tb, n := range counts {
		if got := countRows(t, s, tb); got != n {
			t.Fatalf("%s: %d rows after Compact, want %d", tb, got, n)
		}
	}
	integrityOK(t, s)
	// the store goes on working, and now gives pages back by itself
	fillVac(t, s, 2000)
	if !s.incremental {
		t.Fatal("the handle does not know the new mode")
	}
}
