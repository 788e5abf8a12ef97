package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// geoMinuteEvents returns events of the hours [from, from+hours) placed
// on and around minute boundaries (on the minute, 1 ms and 1 s after,
// half a minute, 1 s and 1 ms before the next), a few actors each, in
// random order.
func geoMinuteEvents(rng *rand.Rand, start int, from time.Time, hours int) []event.Event {
	offs := []time.Duration{0, time.Millisecond, time.Second, 30 * time.Second, time.Minute - time.Second, time.Minute - time.Millisecond}
	var evs []event.Event
	for m := 0; m < hours*60; m++ {
		for _, off := range offs {
			if rng.IntN(4) == 0 {
				continue
			}
			ev := geoSetEvents(rng, start+len(evs), 1, from, time.Minute)[0]
			ev.Published = from.Add(time.Duration(m)*time.Minute + off)
			ev.Raw = rawFor(&ev)
			evs = append(evs, ev)
			if rng.IntN(2) == 0 {
				// another actor's event of the same key in the same minute
				dup := ev
				dup.UUID = fmt.Sprintf("geo-dup-%d", start+len(evs))
				dup.Actor.AlternateID = fmt.Sprintf("u%02d@example.com", rng.IntN(40))
				dup.Published = from.Add(time.Duration(m)*time.Minute + offs[rng.IntN(len(offs))])
				dup.Raw = rawFor(&dup)
				evs = append(evs, dup)
			}
		}
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// geoMinuteEnds are range ends on and around minute boundaries.
func geoMinuteEnd(rng *rand.Rand, from time.Time, hours int) time.Time {
	at := from.Add(time.Duration(rng.IntN(hours*60+1)) * time.Minute)
	return at.Add([]time.Duration{0, 0, time.Millisecond, -time.Millisecond, time.Second, -time.Second,
		30 * time.Second, time.Minute - time.Millisecond}[rng.IntN(8)])
}

// TestGeoMinutesEqualRawRows: with ends inside hours, the Geomap query
// with distinct actors reads the partial hours' whole minutes from the
// rows' minutes (schema 19) and is still exact, field for field, against
// the raw rows: ends on a minute, 1 ms and 1 s either side of one, on an
// event's own time, ranges under an hour and inside one hour, ranges
// across midnight, pages committed out of order (the upsert merges the
// minutes) and after a prune into an hour.
func TestGeoMinutesEqualRawRows(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	rng := rand.New(rand.NewPCG(21, 22))
	t0 := time.Date(2026, 3, 2, 21, 0, 0, 0, time.UTC) // 21:00 to 01:00: across midnight
	const hours = 4
	evs := geoMinuteEvents(rng, 0, t0, hours)
	for i := 0; i < len(evs); i += 97 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+97, len(evs))]})
	}
	var null int64
	if err := s.r.QueryRow("SELECT COUNT(*) FROM geo_hours WHERE mins IS NULL").Scan(&null); err != nil || null != 0 {
		t.Fatalf("%d geo_hours rows without minutes (%v)", null, err)
	}
	check := func(rounds int, seed uint64, edges bool) {
		rng := rand.New(rand.NewPCG(seed, 1))
		round := 0
		q := func(a, b time.Time) {
			if b.Before(a) {
				a, b = b, a
			}
			checkGeoQuery(t, s, round, randomGeoQuery(rng, a, b))
			round++
		}
		for i := 0; i < rounds; i++ {
			q(geoMinuteEnd(rng, t0, hours), geoMinuteEnd(rng, t0, hours))
		}
		if !edges {
			return
		}
		// the edges of minutes of one hour (its first, second, last and
		// some between) as the start, then as the end, of a range to the
		// other side of the hour, and of a range under an hour
		h := t0.Add(2 * time.Hour) // 23:00
		for _, m := range []int{0, 1, 2, 17, 30, 31, 58, 59, 60, 1 + rng.IntN(58), 1 + rng.IntN(58)} {
			for _, off := range []time.Duration{-time.Second, -time.Millisecond, 0, time.Millisecond, time.Second} {
				at := h.Add(time.Duration(m)*time.Minute + off)
				q(at, t0.Add(hours*time.Hour))
				q(t0, at)
				q(at, at.Add(17*time.Minute)) // under an hour
			}
		}
		// an event's own time as either end (To is inclusive)
		for i := 0; i < 15; i++ {
			at := evs[rng.IntN(len(evs))].Published
			q(at, at.Add(time.Duration(rng.IntN(3))*time.Hour))
			q(at.Add(-time.Duration(rng.IntN(3))*time.Hour), at)
		}
		q(t0.Add(2*time.Hour+50*time.Minute+30*time.Second), t0.Add(3*time.Hour+10*time.Minute+1)) // across midnight
	}
	check(60, 1, true)

	// a prune into the first hour: its minutes are rebuilt from the events left
	if _, err := s.Prune(ctx, t0.Add(23*time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	check(40, 2, false)

	// the minutes are what the partial hours are read from: a corrupt
	// one is reported, not a wrong answer
	if _, err := s.w.Exec("UPDATE geo_hours SET mins = x'ff' WHERE bucket = ?", t0.Add(2*time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	_, err := s.GeoPoints(ctx, GeoQuery{From: t0.Add(2*time.Hour + 10*time.Minute), To: t0.Add(3*time.Hour + 10*time.Minute),
		Limit: 100, EventTypePrefix: "user.", CountActors: true})
	wantErrContains(t, err, "corrupt geo minutes")
}

// TestGeoMinutesMigration: a schema-18 store gets its minutes at open,
// newest hours first and resumably; meanwhile a partial hour without
// minutes is read from raw rows (exact), and commits during the build
// land in built and unbuilt hours.
func TestGeoMinutesMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v18.db", geoMinsVersion-1)
	rng := rand.New(rand.NewPCG(23, 24))
	t0 := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	const hours = 9
	half := openAfterOneBuildStep(t, old, path, geoMinuteEvents(rng, 0, t0, hours))
	if lo, hi, err := geoBuildRange(ctx, half.r); err != nil || lo < hi {
		t.Fatalf("set build range [%d, %d) (%v) on a built schema-18 store, want none", lo, hi, err)
	}
	lo, hi, err := half.geoMinsBuildRange(ctx, half.r)
	if err != nil || hi-lo != (hours-geoBuildHours)*hourMS || lo != t0.UnixMilli() {
		t.Fatalf("minutes build range after one step [%d, %d) (%v), want the oldest %d hours", lo, hi, err, hours-geoBuildHours)
	}
	var null int64
	if err := half.r.QueryRow("SELECT COUNT(*) FROM geo_hours WHERE mins IS NULL AND bucket >= ?", hi).Scan(&null); err != nil || null != 0 {
		t.Fatalf("%d built rows without minutes (%v)", null, err)
	}
	check := func(s *Store, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 1))
		for i := 0; i < 40; i++ {
			a, b := geoMinuteEnd(rng, t0, hours), geoMinuteEnd(rng, t0, hours)
			if b.Before(a) {
				a, b = b, a
			}
			checkGeoQuery(t, s, i, randomGeoQuery(rng, a, b))
		}
	}
	check(half, 3)
	more := geoMinuteEvents(rng, 100000, t0.Add(2*time.Hour), 6)[:400]
	mustCommit(t, half, Batch{Events: more})
	check(half, 4)

	s := reopenLatest(t, half, path)
	if lo, hi, err := s.geoMinsBuildRange(ctx, s.r); err != nil || lo < hi {
		t.Fatalf("minutes build range after a full open [%d, %d) (%v), want none", lo, hi, err)
	}
	if err := s.r.QueryRow("SELECT COUNT(*) FROM geo_hours WHERE mins IS NULL").Scan(&null); err != nil || null != 0 {
		t.Fatalf("%d rows without minutes after the build (%v)", null, err)
	}
	check(s, 5)
}

func TestGeoMinsCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for i := 0; i < 300; i++ {
		var all []geoHit
		parts := make([][]byte, 2)
		for p := range parts {
			var hits []geoHit
			for j := rng.IntN(30); j > 0; j-- {
				hits = append(hits, geoHit{rng.Uint32N(1 << uint(1+rng.IntN(31))), rng.Int64N(hourMS)})
			}
			all = append(all, hits...)
			var m geoMins
			_, parts[p] = geoSetAndMins(append([]geoHit(nil), hits...), nil, &m)
		}
		un, err := unionGeoMins(parts[0], parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var m geoMins
		_, want := geoSetAndMins(all, nil, &m)
		if string(un) != string(want) {
			t.Fatalf("union of two pages' minutes differs from the minutes of their events together")
		}
		var got geoMins
		if err := decodeGeoMins(un, &got); err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, x := range got.minutes {
			n += x.n
		}
		if n != uint64(len(all)) {
			t.Fatalf("%d events in the minutes, want %d", n, len(all))
		}
	}
	for _, bad := range []string{"\xff", "\x01\x3c\x01\x00", "\x01\x00\x01\x00\x05\x02\x01"} {
		if err := decodeGeoMins([]byte(bad), &geoMins{}); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("%q decoded without an error (%v)", bad, err)
		}
	}
}
