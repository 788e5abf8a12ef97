package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

var geoSetsStart = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// geoSetEvents is n located (mostly) events of the org's prefix spread
// over days days from geoSetsStart; actors overlap between points and hours.
func geoSetEvents(rng *rand.Rand, prefix string, n, days int) []event.Event {
	types := []string{"user.session.start", "user.authentication.sso", "user.session.end", "user.authentication.verify"}
	cities := []struct {
		city, country string
		lat, lon      float64
	}{{"Paris", "France", 48.85, 2.35}, {"Lyon", "France", 45.75, 4.85}, {"Oslo", "Norway", 59.9139, 10.7522}}
	evs := make([]event.Event, n)
	for i := range evs {
		c := cities[rng.IntN(len(cities))]
		u := rng.IntN(60)
		evs[i] = event.Event{
			UUID: fmt.Sprintf("%s-%06d", prefix, i), Published: geoSetsStart.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour)))),
			EventType: types[rng.IntN(len(types))], Severity: "INFO",
			Actor: event.Actor{ID: fmt.Sprintf("00u%d", u), Type: "User", AlternateID: fmt.Sprintf("%s%02d@example.com", prefix, u)},
			Client: event.Client{IPAddress: "10.0.0.1", Geo: event.Geo{City: c.city, Country: c.country, HasLatLon: true,
				Lat: c.lat + float64(rng.IntN(5))*0.005, Lon: c.lon - float64(rng.IntN(3))*0.005}},
			Outcome: event.Outcome{Result: []string{"SUCCESS", "SUCCESS", "FAILURE"}[rng.IntN(3)]},
			Raw:     []byte(`{}`),
		}
		if i%40 == 0 {
			evs[i].Client.Geo.HasLatLon = false
		}
	}
	return evs
}

// commitInOrder commits the events oldest first in pages of 300, as the
// pipeline does; late ones are committed after, as they come.
func commitInOrder(ctx context.Context, t *testing.T, s *Store, evs []event.Event) {
	t.Helper()
	evs = slices.Clone(evs)
	slices.SortFunc(evs, func(a, b event.Event) int { return a.Published.Compare(b.Published) })
	for i := 0; i < len(evs); i += 300 {
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i:min(i+300, len(evs))]}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkGeoSets compares Geomap queries with distinct users on random
// ranges (hour, sub-hour and day ends) with COUNT(DISTINCT actor) over the
// raw rows (refGeo), and requires them answered from the sets; and the
// same queries without the distinct users.
func checkGeoSets(ctx context.Context, t *testing.T, s *Store, rng *rand.Rand, days int) {
	t.Helper()
	nonEmpty, dayRuns := 0, 0
	for i := range 40 {
		from := geoSetsStart.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour)))).Truncate(time.Second)
		to := from.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
		switch i % 4 {
		case 0: // whole hours
			from, to = from.Truncate(time.Hour), to.Truncate(time.Hour)
		case 1: // whole days
			from, to = from.Truncate(24*time.Hour), to.Truncate(24*time.Hour).Add(24*time.Hour)
		case 2: // a day start, a sub-hour end
			from = from.Truncate(24 * time.Hour)
		}
		q := store.GeoQuery{From: from, To: to, Precision: 1 + i%2, ByOutcome: i%3 == 0, CountActors: true, Limit: 1000}
		switch i % 5 {
		case 1:
			q.EventTypePrefix = "user.session."
		case 2:
			q.Outcome = "failure"
		}
		lo, hi, err := store.Bounds(q.From, q.To)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.geoPointsFromSets(ctx, q, q.Precision, lo, store.EndExclusive(hi))
		if err != nil || !ok {
			t.Fatalf("query %d from the sets: ok %v, %v", i, ok, err)
		}
		want := refGeo(ctx, t, s, q)
		if len(want) > 0 {
			nonEmpty++
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d %+v:\n got %s\nwant %s", i, q, pts(got), pts(want))
		}
		viaAPI, err := s.GeoPoints(ctx, q)
		if err != nil || !reflect.DeepEqual(viaAPI, want) {
			t.Fatalf("query %d GeoPoints: %v\n got %s\nwant %s", i, err, pts(viaAPI), pts(want))
		}
		// the counts alone (sealed days from geo_days, hours from geo_hours)
		counts := q
		counts.CountActors = false
		if got, err := s.GeoPoints(ctx, counts); err != nil || !reflect.DeepEqual(got, refGeo(ctx, t, s, counts)) {
			t.Fatalf("query %d counts: %v\n got %s\nwant %s", i, err, pts(got), pts(refGeo(ctx, t, s, counts)))
		}
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := s.geoSetSpans(ctx, tx, lo, store.EndExclusive(hi))
		tx.Rollback(ctx) //nolint:errcheck // read only
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range sp {
			if x.Level == store.DayMS {
				dayRuns++
				break
			}
		}
	}
	if nonEmpty < 30 || dayRuns < 10 {
		t.Fatalf("%d of 40 queries had points, %d read sealed days: the test proves little", nonEmpty, dayRuns)
	}
}

// checkSetsEqualRaw: every hour row's set is the numbers of its raw
// events' actors, and every sealed day's rows are its hours' union.
func checkSetsEqualRaw(ctx context.Context, t *testing.T, s *Store) {
	t.Helper()
	var bad int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM geo_hours h LEFT JOIN (
			SELECT published - published % 3600000 AS bucket, event_type, outcome, round(lat::numeric, 2)::float8 AS lat,
				round(lon::numeric, 2)::float8 AS lon, country, city, array_agg(DISTINCT g.gid ORDER BY g.gid) AS ids
			FROM events e LEFT JOIN geo_actor_ids g ON g.org = e.org AND g.login = e.actor
			WHERE e.org = $1 AND lat IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7) r
		USING (bucket, event_type, outcome, lat, lon, country, city)
		WHERE h.org = $1 AND h.actors IS DISTINCT FROM r.ids`, s.org).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Fatalf("%d geo_hours rows whose set is not their raw events' actors", bad)
	}
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM geo_days d LEFT JOIN (
			SELECT bucket - bucket % 86400000 AS bucket, event_type, outcome, lat, lon, country, city, SUM(n) AS hn
			FROM geo_hours WHERE org = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7) r
		USING (bucket, event_type, outcome, lat, lon, country, city) LEFT JOIN (
			SELECT bucket - bucket % 86400000 AS bucket, event_type, outcome, lat, lon, country, city,
				array_agg(DISTINCT u ORDER BY u) AS ids FROM geo_hours, unnest(actors) u WHERE org = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7) a
		USING (bucket, event_type, outcome, lat, lon, country, city)
		WHERE d.org = $1 AND (d.actors IS DISTINCT FROM COALESCE(a.ids, '{}') OR d.n IS DISTINCT FROM r.hn)`, s.org).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Fatalf("%d geo_days rows that are not their hours' union", bad)
	}
}

// Distinct users per Geomap point from the actor sets equal COUNT(DISTINCT
// actor) over the raw rows, with late events (into sealed days too), two
// orgs in one database, and after a prune.
func TestGeoSetsExact(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	s, err := Open(ctx, Config{DSN: dsn, Org: "https://geoa.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := Open(ctx, Config{DSN: dsn, Org: "https://geob.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rng := rand.New(rand.NewPCG(11, 12))
	const days = 5
	evs := geoSetEvents(rng, "a", 6000, days)
	late := evs[5000:] // committed after the rest: into closed, sealed days
	commitInOrder(ctx, t, s, evs[:5000])
	commitInOrder(ctx, t, other, geoSetEvents(rng, "b", 2000, days))
	var sealed int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(*) FROM geo_sealed_days WHERE org = $1", s.org).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if sealed != days-1 {
		t.Fatalf("%d sealed days, want %d (every day but the last)", sealed, days-1)
	}
	for i := 0; i < len(late); i += 100 {
		if _, err := s.Commit(ctx, store.Batch{Events: late[i:min(i+100, len(late))]}); err != nil {
			t.Fatal(err)
		}
	}
	checkSetsEqualRaw(ctx, t, s)
	checkSetsEqualRaw(ctx, t, other)
	// no set of one org holds a number of the other's actors
	var cross int
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM geo_hours h, unnest(h.actors) u
		WHERE h.org = $1 AND NOT EXISTS (SELECT 1 FROM geo_actor_ids g WHERE g.org = $1 AND g.gid = u)`, s.org).Scan(&cross); err != nil {
		t.Fatal(err)
	}
	if cross > 0 {
		t.Fatalf("%d numbers in org a's sets that are not org a's actors", cross)
	}
	checkGeoSets(ctx, t, s, rng, days)
	checkGeoSets(ctx, t, other, rng, days)

	// prune the first two days: the sets go with their buckets
	if _, err := s.Prune(ctx, geoSetsStart.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM geo_days WHERE org = $1 AND bucket < $2)
		+ (SELECT COUNT(*) FROM geo_sealed_days WHERE org = $1 AND bucket < $2)`, s.org, geoSetsStart.Add(48*time.Hour).UnixMilli()).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left > 0 {
		t.Fatalf("%d day rows of pruned days left", left)
	}
	checkSetsEqualRaw(ctx, t, s)
	checkGeoSets(ctx, t, s, rng, days)
	checkGeoSets(ctx, t, other, rng, days) // the other org kept its days
}

// A store with data at schema 7 migrates in constant time and answers
// exactly meanwhile (raw rows); the build gives every row its set and
// seals the closed days, and a reopened store with the build interrupted
// (and a late page committed into the unbuilt days) goes on.
func TestGeoSetsMigration(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	cfg := Config{DSN: dsn, Org: "https://geom.okta.example", MaxConns: 2}
	old, err := openAt(ctx, cfg, geoSetsVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	const days = 4
	evs := geoSetEvents(rng, "m", 4000, days)
	commitInOrder(ctx, t, old, evs)
	old.Close()

	// the build interrupted after its first step (the newest hours)
	stepped := cfg
	stepped.geoNoBuild = true
	s, err := Open(ctx, stepped)
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi int64
	unbuiltDays := func() {
		t.Helper()
		if err := s.pool.QueryRow(ctx, "SELECT geo_unbuilt_lo, geo_unbuilt_hi FROM orgs WHERE id = $1", s.org).Scan(&lo, &hi); err != nil {
			t.Fatal(err)
		}
	}
	unbuiltDays()
	if lo != geoSetsStart.UnixMilli() || hi != geoSetsStart.Add(days*24*time.Hour).UnixMilli() {
		t.Fatalf("days to build [%d, %d) after the migration, want [%d, %d)", lo, hi, geoSetsStart.UnixMilli(), geoSetsStart.Add(days*24*time.Hour).UnixMilli())
	}
	if left, err := s.buildGeoStep(ctx, 0); err != nil || left != days*24-geoBuildHours {
		t.Fatalf("first build step: %d hours left (want %d), %v", left, days*24-geoBuildHours, err)
	}
	unbuiltDays()
	if lo != geoSetsStart.UnixMilli() || hi != geoSetsStart.Add(days*24*time.Hour-geoBuildHours*time.Hour).UnixMilli() {
		t.Fatalf("hours to build [%d, %d) after one step, want the newest %d built", lo, hi, geoBuildHours)
	}
	// exact meanwhile: a range with unbuilt days is read from raw rows
	q := store.GeoQuery{From: geoSetsStart, To: geoSetsStart.Add(days * 24 * time.Hour), CountActors: true, ByOutcome: true, Limit: 1000}
	if _, ok, err := s.geoPointsFromSets(ctx, q, 1, q.From.UnixMilli(), q.To.UnixMilli()); err != nil || ok {
		t.Fatalf("unbuilt range answered from the sets: ok %v, %v", ok, err)
	}
	got, err := s.GeoPoints(ctx, q)
	if err != nil || !reflect.DeepEqual(got, refGeo(ctx, t, s, q)) {
		t.Fatalf("during the build: %v\n got %s\nwant %s", err, pts(got), pts(refGeo(ctx, t, s, q)))
	}
	// a late page into an unbuilt day, while the build is stopped
	late := geoSetEvents(rng, "late", 300, 1)
	if _, err := s.Commit(ctx, store.Batch{Events: late}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := WaitGeoBuild(wctx, s); err != nil {
		t.Fatal(err)
	}
	if unbuiltDays(); lo < hi {
		t.Fatalf("after the build: [%d, %d) left", lo, hi)
	}
	var nulls, sealed int
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM geo_hours WHERE org = $1 AND actors IS NULL),
		(SELECT COUNT(*) FROM geo_sealed_days WHERE org = $1)`, s.org).Scan(&nulls, &sealed); err != nil {
		t.Fatal(err)
	}
	if nulls > 0 || sealed != days-1 {
		t.Fatalf("after the build: %d rows without a set, %d sealed days (want 0, %d)", nulls, sealed, days-1)
	}
	checkSetsEqualRaw(ctx, t, s)
	checkGeoSets(ctx, t, s, rng, days)
}
