package store

import (
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Helpers shared with the other backends (pkg/store/postgres), so that the
// query semantics — bounds, bucket alignment, roll-up spans, series
// shaping — are one implementation.

// Bounds converts From/To to inclusive unix-ms bounds (zero = open); From
// after To is an ErrInvalidQuery.
func Bounds(from, to time.Time) (lo, hi int64, err error) { return bounds(from, to) }

// FloorTo rounds v down to a multiple of m.
func FloorTo(v, m int64) int64 { return floorTo(v, m) }

// CeilTo rounds v up to a multiple of m.
func CeilTo(v, m int64) int64 { return ceilTo(v, m) }

// EndExclusive is the exclusive end of an inclusive upper bound.
func EndExclusive(hi int64) int64 { return endExclusive(hi) }

// Span is [A, B) read from a roll-up of bucket width Level (0 = raw rows).
type Span struct{ Level, A, B int64 }

// Spans splits [lo, end) into whole buckets of the coarsest level possible
// (levels coarsest first) and finer pieces at the edges, down to raw rows.
func Spans(lo, end int64, levels []int64) []Span {
	in := spans(lo, end, levels)
	out := make([]Span, len(in))
	for i, s := range in {
		out[i] = Span{s.level, s.a, s.b}
	}
	return out
}

// SeriesSpan is [A, B) of an event series read from a count roll-up
// (Table) or, with Table "", from the event rows.
type SeriesSpan struct {
	Table string
	A, B  int64
}

// EventSeriesSpans plans an event series over [lo, hi] (inclusive) with
// buckets of iv ms: the whole buckets of the coarsest count roll-up whose
// width divides the interval (so a result bucket holds whole roll-up
// buckets), the edges from finer roll-ups, the sub-minute edges from the
// rows; only rows when the query filters on what the roll-ups do not
// keep (actor, IP) or the interval is not whole minutes. Every backend's
// CountSeries reads these spans.
func EventSeriesSpans(q SeriesQuery, lo, hi, iv int64) []SeriesSpan {
	end := endExclusive(hi)
	var levels []int64
	tables := map[int64]string{}
	if q.Actor == "" && q.IP == "" && iv%minuteMS == 0 {
		for _, r := range countRollups {
			if iv%r.width == 0 {
				levels = append(levels, r.width)
				tables[r.width] = r.table
			}
		}
	}
	var out []SeriesSpan
	for _, sp := range spans(lo, end, levels) {
		out = append(out, SeriesSpan{tables[sp.level], sp.a, sp.b})
	}
	return out
}

// ReadEventSeries reads each span of EventSeriesSpans with raw (event
// rows) or roll (a count roll-up table), stopping at the first error.
func ReadEventSeries(q SeriesQuery, lo, hi, iv int64, raw func(a, b int64) error, roll func(table string, a, b int64) error) error {
	for _, sp := range EventSeriesSpans(q, lo, hi, iv) {
		var err error
		if sp.Table == "" {
			err = raw(sp.A, sp.B)
		} else {
			err = roll(sp.Table, sp.A, sp.B)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Rollup is one event-count roll-up level: its bucket width and table.
type Rollup struct {
	Width int64
	Table string
}

// CountRollups are the event-count roll-up levels, coarsest first.
func CountRollups() []Rollup {
	out := make([]Rollup, len(countRollups))
	for i, r := range countRollups {
		out[i] = Rollup{r.width, r.table}
	}
	return out
}

// SeriesCounts accumulates counts per bucket start and group.
type SeriesCounts map[SeriesBucket]int64

// SeriesBucket is one bucket of one group.
type SeriesBucket struct {
	T     int64 // bucket start, unix ms
	Group string
}

// ShapeSeries orders, limits (the groups with the largest totals) and
// fills counts the way CountSeries returns them; first is the first
// bucket start, hi the inclusive upper bound, iv the interval in ms.
func ShapeSeries(c SeriesCounts, q SeriesQuery, first, hi, iv int64) []SeriesPoint {
	m := make(map[seriesKey]int64, len(c))
	for k, n := range c {
		m[seriesKey{k.T, k.Group}] += n
	}
	return shapeSeries(m, q, first, hi, iv)
}

// Milliseconds of the roll-up widths.
const (
	MinuteMS = minuteMS
	HourMS   = hourMS
	DayMS    = dayMS
)

// MS is t in unix milliseconds (0 for the zero time); FromMS the reverse.
func MS(t time.Time) int64 { return ms(t) }

// FromMS is the UTC time of unix milliseconds (the zero time for 0).
func FromMS(v int64) time.Time { return fromMS(v) }

// EventColumns are the normalized columns the stores derive from an event
// (beyond its plain fields).
type EventColumns struct {
	Published                          int64
	IP, Country, City, Session, Target string
	Lat, Lon                           float64
	HasGeo                             bool
}

// ColumnsOf derives an event's stored columns.
func ColumnsOf(ev *event.Event) EventColumns {
	c := columnsOf(ev)
	return c.columns()
}

func (c *cols) columns() EventColumns {
	return EventColumns{Published: c.published, IP: c.ip, Country: c.country, City: c.city, Session: c.session,
		Target: c.target, Lat: c.latF, Lon: c.lonF, HasGeo: c.hasGeo}
}
