package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Series sources and group-bys of SeriesQuery.
const (
	SourceEvents = "events"
	SourceAlerts = "alerts"

	GroupNone      = ""
	GroupEventType = "eventType"
	GroupOutcome   = "outcome"
	GroupCountry   = "country"
	GroupDetector  = "detector"
	GroupSeverity  = "severity"
)

// SeriesQuery counts events or alerts per time bucket.
type SeriesQuery struct {
	From, To time.Time     // required
	Interval time.Duration // bucket width (≥ 1 ms); buckets start at multiples of Interval since the Unix epoch
	Source   string        // "events" (default) or "alerts"; Detector/Severity filters or group-bys imply "alerts"
	GroupBy  string        // events: eventType|outcome|country|""; alerts: detector|severity|""

	// event filters
	Actor           string
	EventTypePrefix string
	Outcome         string
	Country         string
	IP              string
	// alert filters (Actor applies too)
	Detector string
	Severity string
	// Statuses keeps the alerts whose triage status is one of these (an
	// alert never triaged is open); empty counts every alert. Alert rules
	// count open alerts only, so a resolved incident stops paging.
	Statuses []string

	// Limit is the maximum number of groups (series) returned: the ones with
	// the largest totals are kept. Required, 1..MaxLimit.
	Limit int
	// Fill adds zero points so that every returned group has a point in every
	// bucket of [From, To] (with GroupBy "" a zero series is returned even
	// when nothing matched) — what alert rules need.
	Fill bool
}

// SeriesPoint is the count of one group in one bucket.
type SeriesPoint struct {
	Time  time.Time // bucket start
	Group string    // "" without GroupBy
	Count int64
}

const (
	minuteMS  = int64(60_000)
	fiveMinMS = 5 * minuteMS
	hourMS    = int64(3_600_000)
)

// countRollups are the event count tables, coarsest first; each row holds
// one whole bucket of its width (maintained by Commit and Prune).
var countRollups = []struct {
	width int64
	table string
}{
	{hourMS, "event_counts_hour"},
	{fiveMinMS, "event_counts_5m"},
	{minuteMS, "event_counts"},
}

type seriesKey struct {
	t int64
	g string
}

// CountSeries returns counts per bucket (and group), sorted by time then group.
// Event counts without an actor or IP filter come from per-minute and
// per-hour roll-ups (exact; maintained by Commit and Prune), so they stay
// fast on large stores; other counts scan the indexed rows.
func (s *Store) CountSeries(ctx context.Context, q SeriesQuery) ([]SeriesPoint, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	if q.From.IsZero() || q.To.IsZero() {
		return nil, fmt.Errorf("store: %w: series need both from and to", ErrInvalidQuery)
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	iv := q.Interval.Milliseconds()
	if iv <= 0 {
		return nil, fmt.Errorf("store: %w: interval must be at least 1ms, got %s", ErrInvalidQuery, q.Interval)
	}
	first := floorTo(lo, iv)
	if nb := (hi-first)/iv + 1; nb > int64(s.opts.MaxBuckets) {
		return nil, fmt.Errorf("store: %w: %d buckets of %s exceed the maximum %d; use a larger interval",
			ErrInvalidQuery, nb, q.Interval, s.opts.MaxBuckets)
	}
	src := q.Source
	alertish := q.Detector != "" || q.Severity != "" || q.GroupBy == GroupDetector || q.GroupBy == GroupSeverity
	switch src {
	case "":
		src = SourceEvents
		if alertish {
			src = SourceAlerts
		}
	case SourceEvents:
		if alertish {
			return nil, fmt.Errorf("store: %w: detector/severity apply to source alerts, not events", ErrInvalidQuery)
		}
	case SourceAlerts:
	default:
		return nil, fmt.Errorf("store: %w: unknown series source %q (events or alerts)", ErrInvalidQuery, q.Source)
	}
	counts := map[seriesKey]int64{}
	if src == SourceAlerts {
		err = s.alertSeries(ctx, q, lo, hi, iv, counts)
	} else {
		err = s.eventSeries(ctx, q, lo, hi, iv, counts)
	}
	if err != nil {
		return nil, err
	}
	return shapeSeries(counts, q, first, hi, iv), nil
}

func floorTo(v, m int64) int64 {
	r := v % m
	if r < 0 {
		r += m
	}
	return v - r
}

func ceilTo(v, m int64) int64 {
	f := floorTo(v, m)
	if f == v {
		return v
	}
	return f + m
}

func (s *Store) alertSeries(ctx context.Context, q SeriesQuery, lo, hi, iv int64, counts map[seriesKey]int64) error {
	grp := "''"
	switch q.GroupBy {
	case GroupNone:
	case GroupDetector:
		grp = "detector"
	case GroupSeverity:
		grp = "severity"
	default:
		return fmt.Errorf("store: %w: alerts cannot be grouped by %q (detector, severity or none)", ErrInvalidQuery, q.GroupBy)
	}
	if q.EventTypePrefix != "" || q.Outcome != "" || q.Country != "" || q.IP != "" {
		return fmt.Errorf("store: %w: eventType/outcome/country/ip filters apply to events, not alerts", ErrInvalidQuery)
	}
	w := alertWhere(lo, hi, q.Detector, q.Severity, q.Actor)
	if err := statusFilter(&w, q.Statuses); err != nil {
		return err
	}
	return s.scanCounts(ctx, fmt.Sprintf("SELECT time - (time %% %d), %s, COUNT(*) FROM alerts%s GROUP BY 1, 2", iv, grp, w.sql()),
		w.args, iv, counts)
}

func (s *Store) eventSeries(ctx context.Context, q SeriesQuery, lo, hi, iv int64, counts map[seriesKey]int64) error {
	grp := "''"
	switch q.GroupBy {
	case GroupNone:
	case GroupEventType:
		grp = "event_type"
	case GroupOutcome:
		grp = "outcome"
	case GroupCountry:
		grp = "country"
	default:
		return fmt.Errorf("store: %w: events cannot be grouped by %q (eventType, outcome, country or none)", ErrInvalidQuery, q.GroupBy)
	}
	// rows: events in [a, b) (b exclusive) scanned directly
	rawSpan := func(a, b int64) error {
		if a >= b {
			return nil
		}
		eq := EventQuery{Actor: q.Actor, EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome, Country: q.Country, IP: q.IP}
		eq.hours = s.entityHours
		w := eq.where(a, b-1, "")
		return s.scanCounts(ctx, fmt.Sprintf("SELECT published - (published %% %d), %s, COUNT(*) FROM events%s GROUP BY 1, 2",
			iv, grp, w.sql()), w.args, iv, counts)
	}
	rollSpan := func(table string, a, b int64) error {
		if a >= b {
			return nil
		}
		query, args := s.rollupSeriesSQL(q, grp, table, a, b, iv)
		return s.scanCounts(ctx, query, args, iv, counts)
	}
	return ReadEventSeries(q, lo, hi, iv, rawSpan, rollSpan)
}

// rollupSeriesSQL counts [a, b) of a count roll-up per bucket of iv ms and
// group expression grp, from its outcome-only table when q allows it.
func (s *Store) rollupSeriesSQL(q SeriesQuery, grp, table string, a, b, iv int64) (string, []any) {
	var w where
	w.add("bucket >= ? AND bucket < ?", a, b)
	if q.EventTypePrefix != "" {
		w.add("event_type >= ? AND event_type < ?", q.EventTypePrefix, prefixUpper(q.EventTypePrefix))
	}
	if q.Outcome != "" {
		w.add("outcome = ?", strings.ToUpper(q.Outcome))
	}
	if q.Country != "" {
		w.add("country = ?", q.Country)
	}
	if t := s.seriesOutcomeTable(q, table); t != "" {
		table = t // a few rows a bucket (series_outcome.go)
	}
	return fmt.Sprintf("SELECT bucket - (bucket %% %d), %s, SUM(n) FROM %s%s GROUP BY 1, 2", iv, grp, table, w.sql()), w.args
}

const maxInt64 = int64(^uint64(0) >> 1)

func (s *Store) scanCounts(ctx context.Context, query string, args []any, iv int64, counts map[seriesKey]int64) error {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: count series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t, n int64
		var g string
		if err := rows.Scan(&t, &g, &n); err != nil {
			return fmt.Errorf("store: count series: %w", err)
		}
		counts[seriesKey{floorTo(t, iv), g}] += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: count series: %w", err)
	}
	return nil
}

func shapeSeries(counts map[seriesKey]int64, q SeriesQuery, first, hi, iv int64) []SeriesPoint {
	totals := map[string]int64{}
	for k, n := range counts {
		totals[k.g] += n
	}
	groups := make([]string, 0, len(totals))
	for g := range totals {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if totals[groups[i]] != totals[groups[j]] {
			return totals[groups[i]] > totals[groups[j]]
		}
		return groups[i] < groups[j]
	})
	if len(groups) > q.Limit {
		groups = groups[:q.Limit]
	}
	if q.Fill && q.GroupBy == GroupNone && len(groups) == 0 {
		groups = []string{""}
	}
	keep := make(map[string]bool, len(groups))
	for _, g := range groups {
		keep[g] = true
	}
	var out []SeriesPoint
	if q.Fill {
		sort.Strings(groups)
		for t := first; t <= hi; t += iv {
			for _, g := range groups {
				out = append(out, SeriesPoint{Time: time.UnixMilli(t).UTC(), Group: g, Count: counts[seriesKey{t, g}]})
			}
		}
		return out
	}
	for k, n := range counts {
		if keep[k.g] {
			out = append(out, SeriesPoint{Time: time.UnixMilli(k.t).UTC(), Group: k.g, Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Group < out[j].Group
	})
	return out
}
