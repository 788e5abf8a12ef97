package store

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"slices"
)

// Minutes inside the Geomap roll-up's hours (schema 19).
//
// A Geomap query whose ends fall inside an hour (a dashboard's now-24h)
// read those two partial hours from raw rows on schema 18, twice (counts,
// then the distinct actors): about 80 % of its cost at 10 M events. Every
// geo_hours row now also carries column mins:
//
//   - the row's events per minute of the hour: for each minute with
//     events, its count and the newest event's offset in the minute (ms);
//   - each actor of the row's set with the first and the last minute of
//     the hour it has an event in.
//
// A partial hour that starts on the hour, [h, h+m minutes), has the
// actors whose first minute is < m and the events of minutes < m; one
// that ends on the hour, [h+m minutes, h+1h), the actors whose last
// minute is >= m and the events of minutes >= m. The part of a range end
// finer than a minute (under a minute of rows) is read from raw rows, as
// is a range inside a single hour (neither end on the hour: first and
// last minutes cannot tell whether an actor has an event in the middle).
// Exact, like COUNT(DISTINCT actor) over the rows.
//
// A commit merges its page's minutes into the rows it upserts
// (oktaguard_geomins_union); a prune rebuilds the hours it cut from the
// events left (buildGeoHour). geo_days has no minutes: whole days need
// none. Rows of stores migrated from schema 18 have no minutes yet:
// geo_mins_build holds the hours [lo, hi) still to build, built with the
// sets of schema 18 at open (buildGeoSetsStep, newest first, resumable);
// a partial hour in that range is read from raw rows as before.
//
// Encoding (varints unless said): the number of minutes k, then k times
// (minute delta, count, newest offset in the minute), then until the end
// per actor in number order (number delta, first minute byte, last minute
// byte). An empty blob is a row without events.

const geoMinsVersion = 19

// geoMinsMigration is constant time: a column added, and the range of
// existing hours (MIN and MAX each read from the primary key's ends).
const geoMinsMigration = `
ALTER TABLE geo_hours ADD COLUMN mins BLOB; -- NULL until built (geo_mins_build)
CREATE TABLE geo_mins_build (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	lo INTEGER NOT NULL,          -- hours in [lo, hi) have no minutes yet
	hi INTEGER NOT NULL
);
INSERT INTO geo_mins_build SELECT 1, (SELECT MIN(bucket) FROM geo_hours), (SELECT MAX(bucket) FROM geo_hours) + 3600000
	WHERE EXISTS (SELECT 1 FROM geo_hours);
`

func init() { registerGeoUnion("oktaguard_geomins_union", unionGeoMins) }

// geoMinute is one minute of a geo_hours row: its events and the newest
// one's offset in the minute (ms).
type geoMinute struct {
	min  uint8
	n    uint64
	last uint32
}

// geoMinActor is an actor of a geo_hours row with the first and last
// minute of the hour it has an event in.
type geoMinActor struct {
	id          uint32
	first, last uint8
}

// geoMins is a decoded mins column.
type geoMins struct {
	minutes []geoMinute
	actors  []geoMinActor
}

var errGeoMins = errors.New("store: corrupt geo minutes")

func (m *geoMins) reset() { m.minutes, m.actors = m.minutes[:0], m.actors[:0] }

// appendGeoMins encodes m (minutes and actors sorted, each once).
func appendGeoMins(dst []byte, m *geoMins) []byte {
	if dst == nil {
		dst = []byte{}
	}
	if len(m.minutes) == 0 && len(m.actors) == 0 {
		return dst
	}
	dst = binary.AppendUvarint(dst, uint64(len(m.minutes)))
	var prev uint8
	for _, x := range m.minutes {
		dst = binary.AppendUvarint(dst, uint64(x.min-prev))
		dst = binary.AppendUvarint(dst, x.n)
		dst = binary.AppendUvarint(dst, uint64(x.last))
		prev = x.min
	}
	var pid uint32
	for _, a := range m.actors {
		dst = binary.AppendUvarint(dst, uint64(a.id-pid))
		dst = append(dst, a.first, a.last)
		pid = a.id
	}
	return dst
}

// decodeGeoMins decodes b into m (reusing its slices).
func decodeGeoMins(b []byte, m *geoMins) error {
	m.reset()
	if len(b) == 0 {
		return nil
	}
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	k, ok := next()
	if !ok || k > 60 {
		return errGeoMins
	}
	var minute uint64
	for i := uint64(0); i < k; i++ {
		d, ok1 := next()
		n, ok2 := next()
		last, ok3 := next()
		minute += d
		if !ok1 || !ok2 || !ok3 || minute > 59 || (i > 0 && d == 0) || last >= uint64(minuteMS) {
			return errGeoMins
		}
		m.minutes = append(m.minutes, geoMinute{uint8(minute), n, uint32(last)})
	}
	var id uint64
	for first := true; len(b) > 0; first = false {
		d, ok := next()
		if !ok || len(b) < 2 || (!first && d == 0) {
			return errGeoMins
		}
		id += d
		if id > 1<<32-1 || b[0] > b[1] || b[1] > 59 {
			return errGeoMins
		}
		m.actors = append(m.actors, geoMinActor{uint32(id), b[0], b[1]})
		b = b[2:]
	}
	return nil
}

// unionGeoMins merges two encoded mins: counts summed and the newest
// offset kept per minute, the first and last minutes widened per actor.
func unionGeoMins(a, b []byte) ([]byte, error) {
	var x, y geoMins
	if err := decodeGeoMins(a, &x); err != nil {
		return nil, err
	}
	if err := decodeGeoMins(b, &y); err != nil {
		return nil, err
	}
	out := geoMins{
		minutes: mergeSorted(x.minutes, y.minutes, func(m geoMinute) uint32 { return uint32(m.min) },
			func(p, q geoMinute) geoMinute { return geoMinute{p.min, p.n + q.n, max(p.last, q.last)} }),
		actors: mergeSorted(x.actors, y.actors, func(a geoMinActor) uint32 { return a.id },
			func(p, q geoMinActor) geoMinActor {
				return geoMinActor{p.id, min(p.first, q.first), max(p.last, q.last)}
			}),
	}
	return appendGeoMins(make([]byte, 0, len(a)+len(b)), &out), nil
}

// mergeSorted merges two lists sorted by key, each key once, into one,
// combining the entries of a key both have.
func mergeSorted[T any](x, y []T, key func(T) uint32, both func(T, T) T) []T {
	out := make([]T, 0, len(x)+len(y))
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch kx, ky := key(x[i]), key(y[j]); {
		case kx < ky:
			out = append(out, x[i])
			i++
		case ky < kx:
			out = append(out, y[j])
			j++
		default:
			out = append(out, both(x[i], y[j]))
			i, j = i+1, j+1
		}
	}
	return append(append(out, x[i:]...), y[j:]...)
}

// geoHit is one located event of a page (or of a rebuilt hour): its
// actor's number and its offset in the hour (ms).
type geoHit struct {
	id uint32
	at int64
}

// geoSetAndMins encodes the actor set and the minutes of one geo_hours
// key's events; hits is reordered.
func geoSetAndMins(hits []geoHit, ids []uint32, m *geoMins) (set, mins []byte) {
	var n [60]uint64
	var last [60]uint32
	ids = ids[:0]
	m.reset()
	slices.SortFunc(hits, func(a, b geoHit) int {
		if a.id != b.id {
			return int(int64(a.id) - int64(b.id))
		}
		return int(a.at - b.at)
	})
	for i, h := range hits {
		// (a time before 1970 is in the hour bucket truncated toward 0:
		// its offset is clamped into the hour)
		at := min(max(h.at, 0), hourMS-1)
		mi := uint8(at / minuteMS)
		off := uint32(at % minuteMS)
		if n[mi] == 0 || off > last[mi] {
			last[mi] = off
		}
		n[mi]++
		if i == 0 || hits[i-1].id != h.id {
			ids = append(ids, h.id)
			m.actors = append(m.actors, geoMinActor{h.id, mi, mi})
		} else {
			m.actors[len(m.actors)-1].last = mi // hits of an actor in time order
		}
	}
	for mi := range n {
		if n[mi] > 0 {
			m.minutes = append(m.minutes, geoMinute{uint8(mi), n[mi], last[mi]})
		}
	}
	return appendGeoSet(nil, ids), appendGeoMins(nil, m)
}

// geoMinsBuildRange is the range of hours whose minutes are not built yet
// (lo >= hi: none; always none below schema 19).
func (s *Store) geoMinsBuildRange(ctx context.Context, q rowQuerier) (lo, hi int64, err error) {
	if !s.geoMins {
		return 0, 0, nil
	}
	return readBuildRange(ctx, q, "geo_mins_build")
}

// geoPartial is how a raw span [a, b) of a Geomap query with distinct
// actors is read: whole minutes [ma, mb) of hour h from the rows' minutes
// (none when ma == mb), and the rest, [a, ma) and [mb, b), from raw rows.
type geoPartial struct {
	h, ma, mb int64
}

// splitGeoPartial splits a raw span that starts or ends on an hour into
// whole minutes and the pieces under a minute at its other end; ok is
// false for a span with neither end on an hour (read from raw rows).
func splitGeoPartial(a, b int64) (p geoPartial, ok bool) {
	if a < 0 || b <= a {
		return p, false
	}
	h := a - a%hourMS
	if b > h+hourMS {
		return p, false
	}
	switch {
	case a == h: // [h, b): minutes before b's
		return geoPartial{h, h, b - (b-h)%minuteMS}, true
	case b == h+hourMS: // [a, h+1h): minutes from the one after a's start
		ma := a + (minuteMS-(a-h)%minuteMS)%minuteMS
		return geoPartial{h, ma, b}, true
	}
	return p, false
}

// geoScanMinutes folds the geo_hours rows of one hour, restricted to the
// whole minutes [ma, mb) of p (a prefix or a suffix of the hour), into
// agg: (lat, lon, outcome, failed, country, city, mins).
func (g *geoActorAgg) scanMinutes(rows *sql.Rows, p geoPartial) error {
	m0, m1 := uint8((p.ma-p.h)/minuteMS), uint8((p.mb-p.h)/minuteMS) // #nosec G115 -- whole minutes inside one hour: 0..60
	var mins geoMins
	var raw []byte
	for rows.Next() {
		pt := &GeoPoint{}
		var failed, unbuilt bool
		if err := rows.Scan(&pt.Lat, &pt.Lon, &pt.Outcome, &failed, &pt.Country, &pt.City, &raw, &unbuilt); err != nil {
			return err
		}
		if unbuilt {
			return errors.New("store: geo row without its minutes")
		}
		if err := decodeGeoMins(raw, &mins); err != nil {
			return err
		}
		var last uint32
		seen := false
		for _, x := range mins.minutes {
			if x.min >= m0 && x.min < m1 {
				pt.Count += int64(x.n)                         // #nosec G115 -- a per-minute count (uint32) widened
				last = uint32(x.min)*uint32(minuteMS) + x.last // ascending minutes: the last one is the newest
				seen = true
			}
		}
		if !seen {
			continue // no event of this row in the span
		}
		if failed {
			pt.Failures = pt.Count
		}
		pt.LastSeen = fromMS(p.h + int64(last))
		set := g.point(pt)
		for _, a := range mins.actors {
			// an actor has an event in a prefix [0, m1) iff its first
			// minute is before m1, in a suffix [m0, 60) iff its last is
			// at or after m0
			if a.first < m1 && a.last >= m0 {
				set.Add(a.id)
			}
		}
	}
	return rows.Err()
}
