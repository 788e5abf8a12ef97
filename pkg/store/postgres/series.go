package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// CountSeries counts the org's events or alerts per bucket, with the same
// semantics as the SQLite store (whole roll-up buckets from the coarsest
// roll-up whose width divides the interval, the edges from finer ones and
// from the rows; see store.Store.CountSeries).
func (s *Store) CountSeries(ctx context.Context, q store.SeriesQuery) ([]store.SeriesPoint, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	if q.From.IsZero() || q.To.IsZero() {
		return nil, fmt.Errorf("store: %w: series need both from and to", store.ErrInvalidQuery)
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	iv := q.Interval.Milliseconds()
	if iv <= 0 {
		return nil, fmt.Errorf("store: %w: interval must be at least 1ms, got %s", store.ErrInvalidQuery, q.Interval)
	}
	first := store.FloorTo(lo, iv)
	if nb := (hi-first)/iv + 1; nb > int64(s.cfg.MaxBuckets) {
		return nil, fmt.Errorf("store: %w: %d buckets of %s exceed the maximum %d; use a larger interval",
			store.ErrInvalidQuery, nb, q.Interval, s.cfg.MaxBuckets)
	}
	alertish := q.Detector != "" || q.Severity != "" || q.GroupBy == store.GroupDetector || q.GroupBy == store.GroupSeverity
	src := q.Source
	switch src {
	case "":
		src = store.SourceEvents
		if alertish {
			src = store.SourceAlerts
		}
	case store.SourceEvents:
		if alertish {
			return nil, fmt.Errorf("store: %w: detector/severity apply to source alerts, not events", store.ErrInvalidQuery)
		}
	case store.SourceAlerts:
	default:
		return nil, fmt.Errorf("store: %w: unknown series source %q (events or alerts)", store.ErrInvalidQuery, q.Source)
	}
	counts := store.SeriesCounts{}
	if src == store.SourceAlerts {
		err = s.alertSeries(ctx, q, lo, hi, iv, counts)
	} else {
		err = s.eventSeries(ctx, q, lo, hi, iv, counts)
	}
	if err != nil {
		return nil, err
	}
	return store.ShapeSeries(counts, q, first, hi, iv), nil
}

func (s *Store) alertSeries(ctx context.Context, q store.SeriesQuery, lo, hi, iv int64, counts store.SeriesCounts) error {
	grp := "''"
	switch q.GroupBy {
	case store.GroupNone:
	case store.GroupDetector:
		grp = "detector"
	case store.GroupSeverity:
		grp = "severity"
	default:
		return fmt.Errorf("store: %w: alerts cannot be grouped by %q (detector, severity or none)", store.ErrInvalidQuery, q.GroupBy)
	}
	if q.EventTypePrefix != "" || q.Outcome != "" || q.Country != "" || q.IP != "" {
		return fmt.Errorf("store: %w: eventType/outcome/country/ip filters apply to events, not alerts", store.ErrInvalidQuery)
	}
	w := s.where()
	w.add("time BETWEEN ? AND ?", lo, hi)
	if q.Detector != "" {
		w.add("detector = ?", q.Detector)
	}
	if q.Severity != "" {
		w.add("severity = ?", strings.ToLower(q.Severity))
	}
	if q.Actor != "" {
		w.add("actor = ?", q.Actor)
	}
	if err := s.statusFilter(w, q.Statuses); err != nil {
		return err
	}
	return s.scanCounts(ctx, fmt.Sprintf("SELECT time - mod(time, %d), %s, COUNT(*) FROM alerts%s GROUP BY 1, 2", iv, grp, w.sql()),
		w.args, iv, counts)
}

func (s *Store) eventSeries(ctx context.Context, q store.SeriesQuery, lo, hi, iv int64, counts store.SeriesCounts) error {
	grp := "''"
	switch q.GroupBy {
	case store.GroupNone:
	case store.GroupEventType:
		grp = "event_type"
	case store.GroupOutcome:
		grp = "outcome"
	case store.GroupCountry:
		grp = "country"
	default:
		return fmt.Errorf("store: %w: events cannot be grouped by %q (eventType, outcome, country or none)", store.ErrInvalidQuery, q.GroupBy)
	}
	rawSpan := func(a, b int64) error {
		if a >= b {
			return nil
		}
		w := s.where()
		eventWhere(w, store.EventQuery{Actor: q.Actor, EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome, Country: q.Country, IP: q.IP}, a, b-1)
		return s.scanCounts(ctx, fmt.Sprintf("SELECT published - mod(published, %d), %s, COUNT(*) FROM events%s GROUP BY 1, 2",
			iv, grp, w.sql()), w.args, iv, counts)
	}
	rollSpan := func(table string, a, b int64) error {
		w := s.where()
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
		return s.scanCounts(ctx, fmt.Sprintf("SELECT bucket - mod(bucket, %d), %s, SUM(n)::bigint FROM %s%s GROUP BY 1, 2",
			iv, grp, s.seriesTable(q, table), w.sql()), w.args, iv, counts)
	}
	return store.ReadEventSeries(q, lo, hi, iv, rawSpan, rollSpan)
}

func (s *Store) scanCounts(ctx context.Context, query string, args []any, iv int64, counts store.SeriesCounts) error {
	rows, err := s.pool.Query(ctx, query, args...)
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
		counts[store.SeriesBucket{T: store.FloorTo(t, iv), Group: g}] += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: count series: %w", err)
	}
	return nil
}
