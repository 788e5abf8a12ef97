package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// actorsLogEvents are n events of page p, one per actor (actor i of
// every page is the same): some without an actor id (never an actor's
// first), some late (older than what was committed before), some with
// a changed id.
func actorsLogEvents(p, n int) []eventT {
	evs := mkEvents(p*1000, n, t0.Add(time.Duration(p)*time.Hour), time.Minute)
	for i := range evs {
		ev := &evs[i]
		switch (p + i) % 5 {
		case 1:
			if p > 0 {
				ev.Actor.ID = ""
			}
		case 2:
			ev.Published = ev.Published.Add(-48 * time.Hour)
		case 3:
			ev.Actor.ID = fmt.Sprintf("00unew%d", p)
		}
	}
	return evs
}

// TestActorsLogMatchesInPlace commits the same pages to a store at schema
// 14 (actors updated in place) and to a current one whose log folds every
// few rows, then prunes both: Actors lists the same actors, ids, counts
// and times after every step, and the log is folded (bounded).
func TestActorsLogMatchesInPlace(t *testing.T) {
	ctx := context.Background()
	old, _ := openOld(t, "old.db", actorsLogVersion-1)
	defer old.Close()
	cur, _ := openOld(t, "cur.db", LatestSchemaVersion())
	defer cur.Close()
	cur.actorsLogMin = 40
	if old.actorsLog || !cur.actorsLog {
		t.Fatalf("actorsLog = %v / %v, want false / true", old.actorsLog, cur.actorsLog)
	}
	same := func(step string) {
		t.Helper()
		for _, search := range []string{"", "R01", "user1"} {
			want, err := old.Actors(ctx, search, 1000)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cur.Actors(ctx, search, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 && search == "" {
				t.Fatalf("%s: no actors", step)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: Actors(%q) with the log =\n%+v\nin place =\n%+v", step, search, got, want)
			}
		}
	}
	maxLog := int64(0)
	for p := 0; p < 30; p++ {
		evs := actorsLogEvents(p, 37)
		mustCommit(t, old, Batch{Events: evs})
		mustCommit(t, cur, Batch{Events: evs})
		same(fmt.Sprintf("page %d", p))
		maxLog = max(maxLog, countRows(t, cur, "actors_log"))
	}
	if n := countRows(t, cur, "actors"); n == 0 {
		t.Fatal("the log was never folded")
	}
	// folded when above max(table/4, 40) rows: never more than that plus a page's actors
	if maxLog > 40+37 {
		t.Fatalf("the log reached %d rows, want at most %d", maxLog, 40+37)
	}
	for _, cut := range []time.Duration{5 * time.Hour, 12 * time.Hour, 25 * time.Hour} {
		if _, err := old.Prune(ctx, t0.Add(cut)); err != nil {
			t.Fatal(err)
		}
		if _, err := cur.Prune(ctx, t0.Add(cut)); err != nil {
			t.Fatal(err)
		}
		same(fmt.Sprintf("prune before +%s", cut))
	}
	// everything pruned: no actor is listed, and a fold drops them from the table
	if _, err := cur.Prune(ctx, t0.Add(1000*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if a, err := cur.Actors(ctx, "", 1000); err != nil || len(a) != 0 {
		t.Fatalf("after pruning everything Actors = %d actors, %v", len(a), err)
	}
	if err := cur.foldActorsNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n, l := countRows(t, cur, "actors"), countRows(t, cur, "actors_log"); n != 0 || l != 0 {
		t.Fatalf("after a fold of an empty store: %d actors, %d log rows", n, l)
	}
}

// foldActorsNow folds the whole log (tests).
func (s *Store) foldActorsNow(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM actors_log").Scan(&last); err != nil {
		return err
	}
	if err := foldActors(ctx, tx, last); err != nil {
		return err
	}
	s.actorsRows = -1
	return tx.Commit()
}

// TestActorsLogMigration: a store at schema 14 migrates in place (its
// actors table is the folded part, the log starts empty) and keeps
// listing the same actors, before and after new pages.
func TestActorsLogMigration(t *testing.T) {
	ctx := context.Background()
	ref, _ := openOld(t, "ref.db", actorsLogVersion-1)
	defer ref.Close()
	old, path := openOld(t, "old.db", actorsLogVersion-1)
	for p := 0; p < 5; p++ {
		evs := actorsLogEvents(p, 50)
		mustCommit(t, ref, Batch{Events: evs})
		mustCommit(t, old, Batch{Events: evs})
	}
	before, err := old.Actors(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	s := reopenLatest(t, old, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("version %d, %v", v, err)
	}
	after, err := s.Actors(ctx, "", 1000)
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("after the migration Actors = %+v, %v; want %+v", after, err, before)
	}
	s.actorsLogMin = 30
	for p := 5; p < 12; p++ {
		evs := actorsLogEvents(p, 50)
		mustCommit(t, ref, Batch{Events: evs})
		mustCommit(t, s, Batch{Events: evs})
	}
	want, _ := ref.Actors(ctx, "", 1000)
	got, err := s.Actors(ctx, "", 1000)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after new pages Actors = %+v, %v; want %+v", got, err, want)
	}
}
