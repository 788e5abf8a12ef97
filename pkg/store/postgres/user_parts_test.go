package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// partEvents are n events of users users, one a minute from start (each
// at its own millisecond), in three countries.
func partEvents(rng *rand.Rand, prefix string, start time.Time, n, users int) []event.Event {
	countries := []string{"France", "Norway", "Japan"}
	evs := make([]event.Event, n)
	for i := range evs {
		u := rng.IntN(users)
		evs[i] = event.Event{
			UUID: fmt.Sprintf("%s-%06d", prefix, i), Published: start.Add(time.Duration(i)*time.Minute + time.Duration(rng.IntN(59_000))*time.Millisecond),
			EventType: "user.session.start", Severity: "INFO",
			Actor:   event.Actor{ID: fmt.Sprintf("00u%04d", u), Type: "User", AlternateID: fmt.Sprintf("p%04d@example.com", u)},
			Client:  event.Client{IPAddress: fmt.Sprintf("10.2.%d.%d", u%250, rng.IntN(4)), Geo: event.Geo{Country: countries[rng.IntN(3)]}},
			Outcome: event.Outcome{Result: []string{"SUCCESS", "SUCCESS", "FAILURE"}[rng.IntN(3)]},
			Raw:     []byte(`{}`),
		}
	}
	return evs
}

// checkUsersExact compares the users summary with the raw events on whole
// days, aligned hours and unaligned ends over [from, to).
func checkUsersExact(ctx context.Context, t *testing.T, s *Store, rng *rand.Rand, from, to time.Time, stage string) {
	t.Helper()
	span := to.Sub(from)
	a := from.Add(time.Duration(rng.Int64N(int64(span / 2))))
	for i, q := range []store.UserQuery{
		{From: from, To: to, Limit: 1000},
		{From: a.Truncate(time.Hour), To: to.Truncate(time.Hour), Limit: 50},
		{From: a, To: a.Add(time.Duration(rng.Int64N(int64(span/2))) + time.Hour), Limit: 1000},
	} {
		want := refUsers(ctx, t, s, q)
		got, err := s.UserSummaries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if (len(want) == 0 && i == 0) || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %+v: %d users, want %d (equal %v)", stage, q, len(got), len(want), reflect.DeepEqual(got, want))
		}
	}
}

// unfinished reports whether a closed bucket is part moved: parts and
// rows of one bucket at once.
func unfinished(ctx context.Context, t *testing.T, s *Store) (int64, bool) {
	t.Helper()
	var b *int64
	if err := s.pool.QueryRow(ctx, `SELECT MIN(p.bucket) FROM user_seg_parts p WHERE p.org = $1 AND p.span = $2
		AND EXISTS (SELECT 1 FROM user_days d WHERE d.org = p.org AND d.bucket = p.bucket)`, s.org, store.DayMS).Scan(&b); err != nil {
		t.Fatal(err)
	}
	if b == nil {
		return 0, false
	}
	return *b, true
}

// The seal moves at most its budget of entries a commit (a day's ~600
// rows take several commits), and the users summary equals the raw events
// at every commit boundary while a day is part moved; a restart (the open
// leaves the move to the next commits) and a prune in the middle of a
// move keep it so, and a late page into a moved day too.
func TestUserSealBoundedPerCommit(t *testing.T) {
	ctx := context.Background()
	const budget = 150
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://parts.okta.example", MaxConns: 2, sealBudget: budget}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	rng := rand.New(rand.NewPCG(41, 42))
	start := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	evs := partEvents(rng, "p", start, 4*24*60-200, 220)
	var mid, restarted, pruned, late int
	var cut time.Time
	for i := 0; i < len(evs); i += 50 {
		page := evs[i:min(i+50, len(evs))]
		if _, err := s.Commit(ctx, store.Batch{Events: page}); err != nil {
			t.Fatal(err)
		}
		if s.sealWork > budget {
			t.Fatalf("commit %d sealed %d entries, over the budget %d", i/50, s.sealWork, budget)
		}
		end := page[len(page)-1].Published.Add(time.Millisecond)
		day, moving := unfinished(ctx, t, s)
		if moving {
			mid++
		}
		switch {
		case moving && restarted == 0:
			// a restart in the middle of a move: the open writes nothing
			// (the next commits move the rest)
			restarted++
			s.Close()
			if s, err = Open(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			if still, ok := unfinished(ctx, t, s); !ok || still != day {
				t.Fatalf("after the open: day %d part moved %v, want day %d still part moved", still, ok, day)
			}
		case moving && late == 0:
			// late events into the day being moved
			late++
			lates := partEvents(rng, "late", time.UnixMilli(day).UTC(), 100, 300)
			if _, err := s.Commit(ctx, store.Batch{Events: lates}); err != nil {
				t.Fatal(err)
			}
		case moving && pruned == 0 && day > start.UnixMilli():
			// a prune of the day being moved
			pruned++
			cut = time.UnixMilli(day + store.DayMS).UTC()
			if _, err := s.Prune(ctx, cut); err != nil {
				t.Fatal(err)
			}
			var left int
			if err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM user_seg_parts WHERE org = $1 AND bucket < $2)
				+ (SELECT COUNT(*) FROM user_days WHERE org = $1 AND bucket < $2) + (SELECT COUNT(*) FROM user_hours WHERE org = $1 AND bucket < $2)`,
				s.org, cut.UnixMilli()).Scan(&left); err != nil || left != 0 {
				t.Fatalf("%d parts or rows before the cut after the prune (%v)", left, err)
			}
		}
		from := start
		if !cut.IsZero() {
			from = cut
		}
		checkUsersExact(ctx, t, s, rng, from, end, fmt.Sprintf("commit %d (moving %v)", i/50, moving))
	}
	if mid < 5 || restarted == 0 || late == 0 || pruned == 0 {
		t.Fatalf("%d boundaries in the middle of a move, restarted %d, late %d, pruned %d: the test proves little", mid, restarted, late, pruned)
	}
	var parts, maxN int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(*), COALESCE(MAX(n), 0) FROM user_seg_parts WHERE org = $1", s.org).Scan(&parts, &maxN); err != nil {
		t.Fatal(err)
	}
	if parts == 0 || maxN > budget {
		t.Fatalf("%d parts, the largest of %d entries (a part holds at most %d)", parts, maxN, budget)
	}
}

// A store at schema 9 (segments whole, in user_segs) migrates by creating
// a table; its segments are read as before beside the parts the commits
// write from then on.
func TestUserPartsMigration(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://partsm.okta.example", MaxConns: 2}
	old, err := openAt(ctx, cfg, userPartsVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(43, 44))
	start := time.Date(2026, 11, 12, 0, 0, 0, 0, time.UTC)
	evs := partEvents(rng, "m", start, 3*24*60, 150)
	half := len(evs) / 2
	for i := 0; i < half; i += 500 {
		if _, err := old.Commit(ctx, store.Batch{Events: evs[i:min(i+500, half)]}); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	cfg.sealBudget = 100
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := half; i < len(evs); i += 100 {
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i:min(i+100, len(evs))]}); err != nil {
			t.Fatal(err)
		}
	}
	var segs, parts int
	if err := s.pool.QueryRow(ctx, "SELECT (SELECT COUNT(*) FROM user_segs WHERE org = $1), (SELECT COUNT(*) FROM user_seg_parts WHERE org = $1)",
		s.org).Scan(&segs, &parts); err != nil {
		t.Fatal(err)
	}
	if segs == 0 || parts == 0 {
		t.Fatalf("%d segments, %d parts: want both", segs, parts)
	}
	checkUsersExact(ctx, t, s, rng, start, evs[len(evs)-1].Published.Add(time.Millisecond), "migrated")
}
