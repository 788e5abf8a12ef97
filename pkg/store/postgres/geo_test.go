package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// refGeo is the straightforward geo computation: every event of the range
// rounded on its own (no roll-up, no grouping by exact location first).
func refGeo(ctx context.Context, t *testing.T, s *Store, q store.GeoQuery) []store.GeoPoint {
	t.Helper()
	prec := q.Precision
	if prec == 0 {
		prec = 1
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		t.Fatal(err)
	}
	w := s.where()
	eventWhere(w, store.EventQuery{Actor: q.Actor, EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome}, lo, hi)
	if q.EventTypePrefix == "" {
		w.add("event_type = ANY(?)", store.SignInEventTypes)
	}
	w.add("lat IS NOT NULL AND lon IS NOT NULL")
	o, actors := "''", "0::bigint"
	if q.ByOutcome {
		o = "outcome"
	}
	if q.CountActors {
		actors = "COUNT(DISTINCT actor)"
	}
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT round(round(lat::numeric, 2), %d)::float8, round(round(lon::numeric, 2), %d)::float8, %s,
		COUNT(*), COUNT(*) FILTER (WHERE %s), %s, MAX(country), MAX(city), MAX(published) FROM events%s GROUP BY 1, 2, 3`,
		prec, prec, o, failed, actors, w.sql()), w.args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	agg := store.NewGeoAgg()
	if err := agg.Scan(rows); err != nil {
		t.Fatal(err)
	}
	return agg.Ranked(q.Limit)
}

// GeoPoints, whose spans mix the hourly roll-up and raw edges and group by
// exact location before rounding, equals the per-event computation on
// random unaligned ranges, for every option: many exact locations round
// to one point, some at half-way values (x.xx5 / x.x5).
func TestGeoPointsExact(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.Schema(t), Org: "https://geo.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	types := []string{"user.session.start", "user.authentication.sso", "user.session.end", "app.oauth2.as.authorize"}
	cities := []struct {
		city, country string
		lat, lon      float64
	}{{"Paris", "France", 48.85, 2.35}, {"Lyon", "France", 45.75, 4.85}, {"Oslo", "Norway", 59.9139, 10.7522}}
	var evs []event.Event
	for n := range 3000 {
		c := cities[rng.IntN(len(cities))]
		ev := event.Event{
			UUID: fmt.Sprintf("geo-%06d", n), Published: start.Add(time.Duration(rng.Int64N(int64(60 * time.Hour)))),
			EventType: types[rng.IntN(len(types))], Severity: "INFO",
			Actor:   event.Actor{ID: fmt.Sprintf("00u%d", n%40), Type: "User", AlternateID: fmt.Sprintf("u%02d@example.com", n%40)},
			Client:  event.Client{IPAddress: "10.0.0.1", Geo: event.Geo{City: c.city, Country: c.country, HasLatLon: true}},
			Outcome: event.Outcome{Result: []string{"SUCCESS", "SUCCESS", "FAILURE", "DENY"}[rng.IntN(4)]},
			Raw:     []byte(`{}`),
		}
		// offsets of 0.005 / 0.0025 hit half-way values at 2 and 1 decimals
		ev.Client.Geo.Lat = c.lat + float64(rng.IntN(9))*0.005 + float64(rng.IntN(3))*0.0025
		ev.Client.Geo.Lon = c.lon - float64(rng.IntN(9))*0.005
		if n%50 == 0 {
			ev.Client.Geo.HasLatLon = false
		}
		evs = append(evs, ev)
	}
	for i := 0; i < len(evs); i += 500 {
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i:min(i+500, len(evs))]}); err != nil {
			t.Fatal(err)
		}
	}
	nonEmpty := 0
	for i := range 40 {
		from := start.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))).Truncate(time.Second)
		to := from.Add(time.Duration(rng.Int64N(int64(40 * time.Hour))))
		if i%4 == 0 { // aligned to the hour: the roll-up alone
			from, to = from.Truncate(time.Hour), to.Truncate(time.Hour)
		}
		q := store.GeoQuery{From: from, To: to, Precision: 1 + i%2, ByOutcome: i%3 == 0, Limit: 1000}
		switch i % 5 {
		case 1:
			q.EventTypePrefix = "user.session."
		case 2:
			q.Outcome = "failure"
		case 3:
			q.CountActors = true
		case 4:
			q.Actor = "u07@example.com"
		}
		if i%7 == 6 {
			q.Limit = 3
		}
		got, err := s.GeoPoints(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := refGeo(ctx, t, s, q)
		if len(want) > 0 {
			nonEmpty++
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d %+v:\n got %s\nwant %s", i, q, pts(got), pts(want))
		}
	}
	if nonEmpty < 30 {
		t.Fatalf("only %d of 40 queries had points: the test proves little", nonEmpty)
	}
}

func pts(ps []store.GeoPoint) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %v,%v %s n=%d f=%d a=%d %s %s %s", p.Lat, p.Lon, p.Outcome, p.Count, p.Failures, p.Actors, p.Country, p.City, p.LastSeen.Format(time.RFC3339Nano))
	}
	return b.String()
}
