package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// refUsers is the straightforward users summary: every event of the range
// grouped per actor and country, no roll-up.
func refUsers(ctx context.Context, t *testing.T, s *Store, q store.UserQuery) []store.UserSummary {
	t.Helper()
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		t.Fatal(err)
	}
	agg := store.NewUserAgg()
	w := s.where()
	w.add("published BETWEEN ? AND ?", lo, hi)
	w.add("actor <> ''")
	if q.Search != "" {
		addActorSearch(w, q.Search)
	}
	rows, err := s.pool.Query(ctx, `SELECT actor, country, MAX(published), (array_agg(ip ORDER BY published DESC))[1],
		(array_agg(actor_id ORDER BY published DESC))[1], COUNT(*), COUNT(*) FILTER (WHERE `+failed+`) FROM events`+w.sql()+` GROUP BY actor, country`, w.args...)
	if err != nil {
		t.Fatal(err)
	}
	err = agg.ScanActivity(rows)
	rows.Close()
	if err != nil {
		t.Fatal(err)
	}
	aw := s.where()
	aw.add("time BETWEEN ? AND ?", lo, hi)
	aw.add("actor <> ''")
	if q.Search != "" {
		addActorSearch(aw, q.Search)
	}
	arows, err := s.pool.Query(ctx, "SELECT actor, MAX(actor_id), severity, COUNT(*) FROM alerts"+aw.sql()+" GROUP BY actor, severity", aw.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer arows.Close()
	if err := agg.ScanAlerts(arows); err != nil {
		t.Fatal(err)
	}
	return agg.Ranked(q.Limit)
}

// UserSummaries (whole days and hours from the sealed user segments and
// the roll-up rows not sealed yet, sub-hour edges from events) equals the per-event computation on
// random ranges, aligned and not, with searches and limits, with the
// closed buckets sealed into segments by the commits.
func TestUserSummariesExact(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://users.okta.example", MaxConns: 2}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 9))
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	countries := []string{"France", "Norway", "Japan"}
	var evs []event.Event
	var alerts []alert.Alert
	for n := range 4000 {
		user := rng.IntN(60)
		ev := event.Event{
			// distinct milliseconds: the newest event of an actor is unique
			UUID: fmt.Sprintf("usr-%06d", n), Published: start.Add(time.Duration(n)*90*time.Second + time.Duration(rng.IntN(80_000))*time.Millisecond),
			EventType: "user.session.start", Severity: "INFO",
			Actor:   event.Actor{ID: fmt.Sprintf("00u%03d-%d", user, rng.IntN(2)), Type: "User", AlternateID: fmt.Sprintf("User%02d@example.com", user)},
			Client:  event.Client{IPAddress: fmt.Sprintf("10.0.%d.%d", user, rng.IntN(5)), Geo: event.Geo{Country: countries[rng.IntN(3)], City: "c"}},
			Outcome: event.Outcome{Result: []string{"SUCCESS", "SUCCESS", "SUCCESS", "FAILURE", "DENY"}[rng.IntN(5)]},
			Raw:     []byte(`{}`),
		}
		if n%25 == 0 {
			ev.Client.Geo.Country = ""
		}
		evs = append(evs, ev)
		if n%40 == 0 {
			alerts = append(alerts, alert.Alert{ID: fmt.Sprintf("al-%d", n), Detector: "failed_logins", Severity: []string{"low", "high", "medium"}[n%3],
				Time: ev.Published, Actor: ev.Actor.AlternateID, ActorID: ev.Actor.ID, EventIDs: []string{ev.UUID}})
		}
	}
	for i := 0; i < len(evs); i += 500 {
		b := store.Batch{Events: evs[i:min(i+500, len(evs))]}
		if i == 0 {
			b.Alerts = alerts
		}
		if _, err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// every closed bucket is sealed by the commits: rows are left only in
	// each table's newest bucket
	var segs, closedRows int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(DISTINCT (span, bucket)) FROM user_seg_parts WHERE org = $1),
		(SELECT COUNT(*) FROM user_days WHERE org = $1 AND bucket < (SELECT MAX(bucket) FROM user_days WHERE org = $1)) +
		(SELECT COUNT(*) FROM user_hours WHERE org = $1 AND bucket < (SELECT MAX(bucket) FROM user_hours WHERE org = $1))`, s.org).Scan(&segs, &closedRows); err != nil {
		t.Fatal(err)
	}
	if segs < 90 || closedRows != 0 {
		t.Fatalf("%d segments, %d rows of closed buckets: the commits did not seal", segs, closedRows)
	}
	end := evs[len(evs)-1].Published
	for i := range 30 {
		from := start.Add(time.Duration(rng.Int64N(int64(end.Sub(start) / 2))))
		to := from.Add(time.Duration(rng.Int64N(int64(end.Sub(from)))) + time.Hour)
		switch i % 3 {
		case 0: // whole days and hours: roll-ups only
			from, to = from.Truncate(24*time.Hour), to.Truncate(time.Hour)
		case 1:
			from = from.Truncate(time.Hour)
		}
		q := store.UserQuery{From: from, To: to, Limit: 100}
		if i%4 == 3 {
			q.Search = "user1"
		}
		if i%5 == 4 {
			q.Limit = 7
		}
		want := refUsers(ctx, t, s, q)
		if len(want) == 0 {
			t.Fatalf("query %d %+v: no users, the test proves nothing", i, q)
		}
		got, err := s.UserSummaries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d %+v:\n got %+v\nwant %+v", i, q, got, want)
		}
	}
}
