package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

func stateOf(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	m, err := s.AllState(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func logSeqs(t *testing.T, s *Store) (first, last, rows int64) {
	t.Helper()
	if err := s.r.QueryRow("SELECT IFNULL(MIN(seq),0), IFNULL(MAX(seq),0), COUNT(*) FROM state_log").Scan(&first, &last, &rows); err != nil {
		t.Fatal(err)
	}
	return first, last, rows
}

// TestStateLogCleanerBoundsLog: 300 commits rewriting the same 200 keys
// (the detector state's pattern: the same subjects again and again), over
// 100 keys written once before, keep
// the log within about three times the live state plus one commit's cleaning,
// the cleaner deletes rows at the head, and the state read back — after a
// reopen too — is exactly the last one written.
func TestStateLogCleanerBoundsLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "log.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.SetStateLogThresholds(0, 1024)
	want := map[string][]byte{}
	// cold keys, written once: the cleaner must carry them to the tail
	cold := Batch{State: map[string][]byte{}}
	for i := 0; i < 100; i++ {
		k := fmt.Sprintf("detect.s/cold%03d/x", i)
		cold.State[k] = []byte(k)
		want[k] = cold.State[k]
	}
	mustCommit(t, s, cold)
	maxLog := int64(0)
	for c := 0; c < 300; c++ {
		b := Batch{State: map[string][]byte{}}
		for i := 0; i < 40; i++ {
			k := fmt.Sprintf("detect.s/user%03d/engine/u", (c*37+i*11)%200)
			b.State[k] = []byte(fmt.Sprintf("%s-%d-%0100d", k, c, i))
			want[k] = b.State[k]
		}
		mustCommit(t, s, b)
		st, err := s.StateLogStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.LiveKeys != len(want) {
			t.Fatalf("commit %d: %d live keys, want %d", c, st.LiveKeys, len(want))
		}
		maxLog = max(maxLog, st.LogBytes)
		// stateLogRatio times the live bytes, plus this commit's delta and
		// a chunk (500 rows) of cleaning overshoot
		if limit := stateLogRatio*st.LiveBytes + 3*40*200 + 500*200; st.LogBytes > limit {
			t.Fatalf("commit %d: log %d bytes for %d live: above %d", c, st.LogBytes, st.LiveBytes, limit)
		}
	}
	first, last, rows := logSeqs(t, s)
	if first <= 101 || rows >= last {
		t.Fatalf("the cleaner deleted nothing at the head: seq %d..%d, %d rows", first, last, rows)
	}
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("state after 300 commits differs (%d keys, want %d)", len(got), len(want))
	}
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := stateOf(t, s2); !reflect.DeepEqual(got, want) {
		t.Fatalf("state after reopen differs (%d keys, want %d)", len(got), len(want))
	}
	t.Logf("log peaked at %d bytes", maxLog)
}

// TestStateLogCleanFailureRollsBack: a commit that fails between two
// slices of the cleaner (a crash point) keeps nothing — neither its delta
// nor the slices already moved — and the next commit goes on exactly.
func TestStateLogCleanFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "log.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetStateLogThresholds(1<<30, 1<<30) // no cleaning while the log fills
	want := map[string][]byte{}
	put := func(c int) Batch {
		b := Batch{State: map[string][]byte{}}
		for i := 0; i < 600; i++ {
			k := fmt.Sprintf("detect.s/user%04d/engine/u", i)
			b.State[k] = []byte(fmt.Sprint(k, c))
		}
		if c > 0 {
			b.State["detect.s/user0000/engine/u"] = nil
		}
		return b
	}
	apply := func(b Batch) {
		for k, v := range b.State {
			if v == nil {
				delete(want, k)
			} else {
				want[k] = v
			}
		}
	}
	for c := 0; c < 4; c++ {
		b := put(c)
		mustCommit(t, s, b)
		apply(b)
	}
	f0, l0, n0 := logSeqs(t, s)
	s.SetStateLogThresholds(0, 1<<30) // now the whole head is cleaned, in slices of 1 000 rows
	slices := 0
	boom := errors.New("crash between two slices")
	s.stateCleanHook = func() error {
		slices++
		if slices == 2 {
			return boom
		}
		return nil
	}
	b := put(4)
	if _, err := s.Commit(ctx, b); !errors.Is(err, boom) {
		t.Fatalf("commit failing in the cleaner: %v, want %v", err, boom)
	}
	if slices != 2 {
		t.Fatalf("the cleaner ran %d slices, want 2 (the test must fail mid-way)", slices)
	}
	if f, l, n := logSeqs(t, s); f != f0 || l != l0 || n != n0 {
		t.Fatalf("log after the failed commit: seq %d..%d, %d rows; before %d..%d, %d rows", f, l, n, f0, l0, n0)
	}
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatal("state changed by a failed commit")
	}
	s.stateCleanHook = nil
	mustCommit(t, s, b)
	apply(b)
	if f, _, _ := logSeqs(t, s); f <= f0 {
		t.Fatalf("the cleaner did not run: head still at %d", f)
	}
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatal("state after the retried commit differs")
	}
}

// TestStateLogTwoWriters: two handles on one file commit in turn; each
// sees the other's rows (its map of the log is rebuilt when the log
// changed under it), so the cleaner never drops a row the other made live.
func TestStateLogTwoWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "log.db")
	var hs [2]*Store
	for i := range hs {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.SetStateLogThresholds(0, 256)
		hs[i] = s
	}
	want := map[string][]byte{}
	for c := 0; c < 60; c++ {
		b := Batch{State: map[string][]byte{}}
		for i := 0; i < 5; i++ {
			k := fmt.Sprintf("detect.s/user%02d/x", (c*7+i*3)%30)
			b.State[k] = []byte(fmt.Sprint(c, k))
			want[k] = b.State[k]
		}
		mustCommit(t, hs[c%2], b)
	}
	for i, s := range hs {
		if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("handle %d reads a different state (%d keys, want %d)", i, len(got), len(want))
		}
	}
	if f, _, _ := logSeqs(t, hs[0]); f <= 1 {
		t.Fatal("the cleaner never ran")
	}
}

// TestStateLogMigratesInPlaceStore: a store whose state was written in
// place by the code before schema 14 (the state table) opens with every
// key in the log, in key order, the state table emptied, and commits on.
func TestStateLogMigratesInPlaceStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	v := migrationVersion(t, "CREATE TABLE state_log")
	old, err := openAt(ctx, path, Options{StateInPlace: true}, v-1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"detect.engine": []byte("h"), "other": {}}
	for i := 0; i < 300; i++ {
		want[fmt.Sprintf("detect.s/user%03d/engine/u", i)] = []byte(fmt.Sprint("u", i))
	}
	mustCommit(t, old, Batch{State: want, Events: mkEvents(0, 5, t0, 1)})
	mustCommit(t, old, Batch{State: map[string][]byte{"detect.s/user007/engine/u": nil}})
	delete(want, "detect.s/user007/engine/u")
	if got := stateOf(t, old); !reflect.DeepEqual(got, want) {
		t.Fatal("the in-place path reads a different state")
	}
	old.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("migrated state differs: %d keys, want %d", len(got), len(want))
	}
	if n := countRows(t, s, "state"); n != 0 {
		t.Fatalf("state table keeps %d rows after the migration", n)
	}
	var prev string
	rows, err := s.r.Query("SELECT key FROM state_log ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		if k <= prev {
			t.Fatalf("log rows not in key order: %q after %q", k, prev)
		}
		prev = k
	}
	rows.Close()
	mustCommit(t, s, Batch{StateReset: []string{"detect.s/"}, State: map[string][]byte{"detect.s/a/x": []byte("a")}})
	if got := stateOf(t, s); len(got) != 3 || string(got["detect.s/a/x"]) != "a" || string(got["detect.engine"]) != "h" {
		t.Fatalf("state after a reset on the migrated store: %q", got)
	}
}
