package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// geoSetEvents returns n events over the given span from `from`, in
// order: a few dozen actors (and events without one), sign-in and other
// types, failures, locations that round together at 1 and 2 decimals,
// and events without a location.
func geoSetEvents(rng *rand.Rand, start, n int, from time.Time, span time.Duration) []event.Event {
	types := []string{"user.session.start", "user.authentication.sso", "user.authentication.verify",
		"user.session.end", "app.oauth2.as.authorize", "policy.evaluate_sign_on"}
	evs := make([]event.Event, n)
	for i := range evs {
		at := from.Add(time.Duration(int64(i) * int64(span) / int64(n)))
		ev := mkEventNoRaw(start+i, at.Add(time.Duration(rng.IntN(1000))*time.Millisecond))
		ev.UUID = fmt.Sprintf("geo-%d", start+i)
		ev.EventType = types[rng.IntN(len(types))]
		ev.Actor.AlternateID = ""
		if rng.IntN(30) > 0 {
			ev.Actor.AlternateID = fmt.Sprintf("u%02d@example.com", rng.IntN(40))
		}
		ev.Outcome = event.Outcome{Result: "SUCCESS"}
		if rng.IntN(6) == 0 {
			ev.Outcome = event.Outcome{Result: []string{"FAILURE", "DENY"}[rng.IntN(2)]}
		}
		ev.Client.Geo = event.Geo{}
		if rng.IntN(10) > 0 {
			p := rng.IntN(5)
			ev.Client.Geo = event.Geo{City: fmt.Sprintf("c%d", p), Country: []string{"US", "DE"}[p%2],
				Lat: 40 + float64(p)*0.037 + float64(rng.IntN(3))*0.004, Lon: -3 + float64(p)*0.051, HasLatLon: true}
		}
		ev.Raw = rawFor(&ev)
		evs[i] = ev
	}
	return evs
}

// checkGeoAgainstRaw compares GeoPoints with distinct actors (and without)
// from the roll-ups against the raw-row path (COUNT(DISTINCT actor) over
// the range's events, as before schema 18) at random ranges: sub-hour,
// hour- and day-aligned ends, with the plugin's filters.
func checkGeoAgainstRaw(t *testing.T, s *Store, lo, hi time.Time, rounds int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	at := func() time.Time {
		d := hi.Sub(lo) + 4*time.Hour
		x := lo.Add(-2*time.Hour + time.Duration(rng.Int64N(int64(d))))
		switch rng.IntN(3) {
		case 0:
			return x.Truncate(time.Hour)
		case 1:
			return x.Truncate(24 * time.Hour)
		}
		return x
	}
	for i := 0; i < rounds; i++ {
		a, b := at(), at()
		if b.Before(a) {
			a, b = b, a
		}
		if i == 0 {
			a, b = time.Time{}, time.Time{} // open range
		}
		checkGeoQuery(t, s, i, randomGeoQuery(rng, a, b))
	}
}

// randomGeoQuery is a Geomap query of [a, b] with random panel filters.
func randomGeoQuery(rng *rand.Rand, a, b time.Time) GeoQuery {
	return GeoQuery{From: a, To: b, Limit: 1000, EventTypePrefix: []string{"", "", "user.session.start", "user.", "app."}[rng.IntN(5)],
		Outcome: []string{"", "", "failure", "SUCCESS"}[rng.IntN(4)], ByOutcome: rng.IntN(3) == 0, Precision: 1 + rng.IntN(2)}
}

// checkGeoQuery compares q's points with and without distinct actors
// against the raw-row path, field for field.
func checkGeoQuery(t *testing.T, s *Store, round int, q GeoQuery) {
	t.Helper()
	ctx := context.Background()
	for _, actors := range []bool{true, false} {
		q.CountActors = actors
		s.geoOld = true
		want, err := s.GeoPoints(ctx, q)
		s.geoOld = false
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GeoPoints(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d, %+v:\n got %+v\nwant %+v", round, q, got, want)
		}
	}
}

func TestGeoSetsEqualRawRows(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	evs := geoSetEvents(rng, 0, 2500, t0.Add(-90*time.Minute), 5*24*time.Hour)
	for i := 0; i < len(evs); i += 250 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+250, len(evs))]})
	}
	if n := countRows(t, s, "geo_sealed_days"); n != 5 {
		t.Fatalf("%d sealed days, want 5 (the 5 closed days of 6)", n)
	}
	// late events in sealed days, and in the open day
	late := geoSetEvents(rng, 10000, 200, t0.Add(time.Hour), 4*24*time.Hour)
	mustCommit(t, s, Batch{Events: late})
	if n := countRows(t, s, "geo_sealed_days"); n != 5 {
		t.Fatalf("%d sealed days after late events, want 5", n)
	}
	var null int64
	if err := s.r.QueryRow("SELECT COUNT(*) FROM geo_hours WHERE actors IS NULL").Scan(&null); err != nil || null != 0 {
		t.Fatalf("%d geo_hours rows without sets (%v)", null, err)
	}
	checkGeoAgainstRaw(t, s, t0, t0.Add(5*24*time.Hour), 60, 1)

	// a prune that cuts into a sealed day: its hours' sets are rebuilt, the
	// day is sealed again
	if _, err := s.Prune(ctx, t0.Add(36*time.Hour+17*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// days -1 and 0 pruned, day 1 cut (resealed from its hours), 2 and 3
	if n := countRows(t, s, "geo_sealed_days"); n != 3 {
		t.Fatalf("%d sealed days after the prune, want 3", n)
	}
	checkGeoAgainstRaw(t, s, t0, t0.Add(5*24*time.Hour), 40, 2)
}

func TestGeoSetsMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v17.db", geoSetsVersion-1)
	rng := rand.New(rand.NewPCG(5, 6))
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// a build stopped after its first step: the store is usable and exact
	// (the unbuilt hours are read from raw rows)
	half := openAfterOneBuildStep(t, old, path, geoSetEvents(rng, 0, 1500, t0, 3*24*time.Hour+5*time.Hour))
	if v, _ := half.SchemaVersion(ctx); v != LatestSchemaVersion() {
		t.Fatalf("schema %d, want %d", v, LatestSchemaVersion())
	}
	lo, hi, err := geoBuildRange(ctx, half.r)
	// 77 hours of events, the newest 6 built
	if err != nil || lo >= hi || hi-lo != (3*24+5-geoBuildHours)*hourMS {
		t.Fatalf("build range after one step [%d, %d) (%v), want %d hours left", lo, hi, err, 3*24+5-geoBuildHours)
	}
	checkGeoAgainstRaw(t, half, t0, t0.Add(3*24*time.Hour), 20, 3)
	// commits during the build, in built and unbuilt hours
	more := geoSetEvents(rng, 5000, 150, t0.Add(2*time.Hour), 3*24*time.Hour+4*time.Hour)
	mustCommit(t, half, Batch{Events: more})
	checkGeoAgainstRaw(t, half, t0, t0.Add(3*24*time.Hour), 20, 4)

	s := reopenLatest(t, half, path)
	if lo, hi, err := geoBuildRange(ctx, s.r); err != nil || lo < hi {
		t.Fatalf("build range after a full open [%d, %d) (%v), want none", lo, hi, err)
	}
	if n := countRows(t, s, "geo_sealed_days"); n != 3 {
		t.Fatalf("%d sealed days, want 3", n)
	}
	checkGeoAgainstRaw(t, s, t0, t0.Add(3*24*time.Hour), 40, 5)
}

func TestGeoSetCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for i := 0; i < 200; i++ {
		var a, b []uint32
		want := map[uint32]bool{}
		for j := rng.IntN(50); j > 0; j-- {
			x := rng.Uint32N(1 << uint(1+rng.IntN(31)))
			a = append(a, x)
			want[x] = true
		}
		for j := rng.IntN(50); j > 0; j-- {
			x := rng.Uint32N(1 << 12)
			b = append(b, x)
			want[x] = true
		}
		enc := func(ids []uint32) []byte {
			m := map[uint32]bool{}
			var u []uint32
			for _, x := range ids {
				if !m[x] {
					m[x] = true
					u = append(u, x)
				}
			}
			sortU32(u)
			return appendGeoSet(nil, u)
		}
		un, err := unionGeoSets(enc(a), enc(b))
		if err != nil {
			t.Fatal(err)
		}
		got := map[uint32]bool{}
		prev := -1
		if err := forGeoSet(un, func(id uint32) {
			if int(id) <= prev {
				t.Fatalf("union not sorted: %d after %d", id, prev)
			}
			prev = int(id)
			got[id] = true
		}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) && len(want) > 0 {
			t.Fatalf("union %v, want %v", got, want)
		}
	}
	if err := forGeoSet([]byte{0x80}, func(uint32) {}); err == nil {
		t.Fatal("a truncated set decoded without error")
	}
}

func sortU32(u []uint32) {
	for i := 1; i < len(u); i++ {
		for j := i; j > 0 && u[j] < u[j-1]; j-- {
			u[j], u[j-1] = u[j-1], u[j]
		}
	}
}

// openAfterOneBuildStep commits evs to an old store in pages of 500,
// closes it and opens it at the latest schema with the geo build at open
// stopped after its first step, as an interrupted build would leave it.
func openAfterOneBuildStep(t *testing.T, old *Store, path string, evs []event.Event) *Store {
	t.Helper()
	for i := 0; i < len(evs); i += 500 {
		mustCommit(t, old, Batch{Events: evs[i:min(i+500, len(evs))]})
	}
	old.Close()
	s, err := OpenWithOptions(context.Background(), path, Options{geoBuildLimit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
