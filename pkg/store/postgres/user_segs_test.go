package postgres

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// A store with user roll-up rows at schema 5 is sealed after migration 6
// by the first commit, not the open (every closed bucket into a segment,
// the users summary exact before and after), and Prune then drops the pruned days' segments and recounts
// the actors from the rows and segments kept.
func TestUserSegsMigratedAndPruned(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://segs.okta.example", MaxConns: 2}
	old, err := openAt(ctx, cfg, userSegsVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -5)
	var evs []event.Event
	for n := range 1500 {
		evs = append(evs, event.Event{
			UUID: fmt.Sprintf("seg-%05d", n), Published: day.Add(time.Duration(n)*5*time.Minute + time.Duration(n%7)*time.Millisecond),
			EventType: "user.session.start", Severity: "INFO",
			Actor:   event.Actor{ID: fmt.Sprintf("00u%d", n%30), Type: "User", AlternateID: fmt.Sprintf("a%02d@example.com", n%30)},
			Client:  event.Client{IPAddress: fmt.Sprintf("10.1.0.%d", n%9), Geo: event.Geo{Country: []string{"France", "Peru"}[n%2]}},
			Outcome: event.Outcome{Result: []string{"SUCCESS", "FAILURE"}[n%3/2]},
			Raw:     []byte(`{}`),
		})
	}
	if _, err := old.Commit(ctx, store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	var rowsBefore int
	if err := old.pool.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM user_days) + (SELECT COUNT(*) FROM user_hours)").Scan(&rowsBefore); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	counts := func() (segs, rows int) {
		t.Helper()
		if err := s.pool.QueryRow(ctx, "SELECT (SELECT COUNT(DISTINCT (span, bucket)) FROM user_seg_parts) + (SELECT COUNT(*) FROM user_segs), (SELECT COUNT(*) FROM user_days) + (SELECT COUNT(*) FROM user_hours)").Scan(&segs, &rows); err != nil {
			t.Fatal(err)
		}
		return segs, rows
	}
	if segs, rows := counts(); segs != 0 || rows != rowsBefore {
		t.Fatalf("after open: %d segments, %d of %d rows (the open writes nothing)", segs, rows, rowsBefore)
	}
	end := evs[len(evs)-1].Published.Add(time.Minute)
	check := func(stage string) {
		t.Helper()
		for _, q := range []store.UserQuery{
			{From: day.Add(-time.Hour), To: end, Limit: 100},
			{From: day.Add(26*time.Hour + 17*time.Minute), To: end.Add(-3 * time.Hour), Limit: 10},
			{From: day.Add(24 * time.Hour), To: day.Add(72 * time.Hour), Search: "A1", Limit: 100},
		} {
			got, err := s.UserSummaries(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := refUsers(ctx, t, s, q)
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %+v:\n got %+v\nwant %+v", stage, q, got, want)
			}
		}
	}
	check("rows at open")
	// the first commit seals them (its budget is more than the ~1 000 rows)
	page := []event.Event{evs[len(evs)-1], evs[len(evs)-2]}
	for i := range page {
		page[i].UUID += "-next"
		page[i].Published = page[i].Published.Add(time.Minute)
	}
	if _, err := s.Commit(ctx, store.Batch{Events: page}); err != nil {
		t.Fatal(err)
	}
	evs = append(evs, page...)
	// 1500 events 5 minutes apart: ~5.2 days, ~125 hours; all but the
	// newest day and hour sealed
	if segs, rows := counts(); segs < 120 || rows >= rowsBefore/10 {
		t.Fatalf("after the first commit: %d segments, %d of %d rows left", segs, rows, rowsBefore)
	}
	check("sealed by the first commit")
	cut := day.Add(48 * time.Hour)
	if n, err := s.Prune(ctx, cut); err != nil || n == 0 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	var left int
	if err := s.pool.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM user_segs WHERE bucket < $1) + (SELECT COUNT(*) FROM user_seg_parts WHERE bucket < $1)", cut.UnixMilli()).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d segments before the cut after Prune (%v)", left, err)
	}
	check("pruned")
	actors, err := s.Actors(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, e := range evs {
		if !e.Published.Before(cut) {
			want[e.Actor.AlternateID]++
		}
	}
	if len(actors) != len(want) {
		t.Fatalf("%d actors after prune, want %d", len(actors), len(want))
	}
	for _, a := range actors {
		if a.Events != want[a.Actor] {
			t.Fatalf("actor %s: %d events after prune, want %d", a.Actor, a.Events, want[a.Actor])
		}
	}
}

// The users search folds ASCII letters only, in sealed segments and in
// the rows not sealed yet alike: "émile" finds éMILE (and not Émile) in
// both, where ILIKE on the rows would also have found Émile.
func TestUserSearchFoldsASCIIOnly(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.Schema(t), Org: "https://fold.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	actors := []string{"Émile@x.example", "éMILE@y.example", "emile@z.example"}
	var evs []event.Event
	for d := range 3 { // three days: two sealed, the newest as rows
		for i, a := range actors {
			evs = append(evs, event.Event{UUID: fmt.Sprintf("fold-%d-%d", d, i), Published: day.Add(time.Duration(d)*24*time.Hour + time.Duration(i)*time.Minute),
				EventType: "user.session.start", Actor: event.Actor{ID: "00u" + a, Type: "User", AlternateID: a},
				Outcome: event.Outcome{Result: "SUCCESS"}, Raw: []byte(`{}`)})
		}
	}
	for _, e := range evs { // one page per event: each new day closes the previous one
		if _, err := s.Commit(ctx, store.Batch{Events: []event.Event{e}}); err != nil {
			t.Fatal(err)
		}
	}
	var segs int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(DISTINCT bucket) FROM user_seg_parts WHERE span = $1", store.DayMS).Scan(&segs); err != nil || segs != 2 {
		t.Fatalf("%d days sealed into parts (%v), want 2", segs, err)
	}
	for search, want := range map[string][]string{"émile": {"éMILE@y.example"}, "EMILE": {"emile@z.example"}, "MILE@": actors} {
		got, err := s.UserSummaries(ctx, store.UserQuery{From: day, To: day.Add(72 * time.Hour), Search: search, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("search %q: %+v, want %v", search, got, want)
		}
		for _, u := range got {
			if u.Events != 3 || !slices.Contains(want, u.Actor) {
				t.Fatalf("search %q: %+v, want %v with 3 events each (sealed days and rows)", search, got, want)
			}
		}
	}
}
