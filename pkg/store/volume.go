package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// VolumeQuery counts the events an EventQuery selects per time bucket and
// level: Explore's logs volume. Its filters are EventQuery's and mean the
// same (actor, type prefix, outcome, IP, country, free text, session,
// exclusions); Limit, NoRaw and Oldest do not apply: every matching event
// is counted.
type VolumeQuery struct {
	EventQuery
	// Interval is the bucket width (≥ 1 ms); buckets start at multiples of
	// Interval since the Unix epoch, as CountSeries'.
	Interval time.Duration
}

// VolumePoint is the number of matching events of one level in one
// bucket. Level is the severity column in lower case ("info", "warn", …;
// "" for an event without one).
type VolumePoint struct {
	Time  time.Time // bucket start
	Level string
	Count int64
}

// VolumeBuckets checks q (both ends set, a positive interval, at most
// maxBuckets buckets, valid exclusions) and returns its inclusive unix-ms
// bounds and the interval in ms: what every backend's CountVolume checks
// before it reads.
func VolumeBuckets(q VolumeQuery, maxBuckets int) (lo, hi, iv int64, err error) {
	if q.From.IsZero() || q.To.IsZero() {
		return 0, 0, 0, fmt.Errorf("store: %w: a logs volume needs both from and to", ErrInvalidQuery)
	}
	if lo, hi, err = bounds(q.From, q.To); err != nil {
		return 0, 0, 0, err
	}
	if iv = q.Interval.Milliseconds(); iv <= 0 {
		return 0, 0, 0, fmt.Errorf("store: %w: interval must be at least 1ms, got %s", ErrInvalidQuery, q.Interval)
	}
	if nb := (hi-floorTo(lo, iv))/iv + 1; nb > int64(maxBuckets) {
		return 0, 0, 0, fmt.Errorf("store: %w: %d buckets of %s exceed the maximum %d; use a larger interval",
			ErrInvalidQuery, nb, q.Interval, maxBuckets)
	}
	if err := CheckExclusions(q.Exclude); err != nil {
		return 0, 0, 0, err
	}
	return lo, hi, iv, nil
}

// Rows is what ScanVolume reads: *sql.Rows and pgx.Rows both are.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanVolume reads the rows (bucket start or any time in the bucket in
// unix ms, severity, count) of a logs-volume GROUP BY and returns the
// points sorted by time, then level: severities that differ only in case
// are one level.
func ScanVolume(rows Rows, iv int64) ([]VolumePoint, error) {
	counts := map[seriesKey]int64{}
	for rows.Next() {
		var t, n int64
		var sev string
		if err := rows.Scan(&t, &sev, &n); err != nil {
			return nil, fmt.Errorf("store: logs volume: %w", err)
		}
		counts[seriesKey{floorTo(t, iv), strings.ToLower(sev)}] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: logs volume: %w", err)
	}
	out := make([]VolumePoint, 0, len(counts))
	for k, n := range counts {
		out = append(out, VolumePoint{Time: time.UnixMilli(k.t).UTC(), Level: k.g, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Level < out[j].Level
	})
	return out, nil
}

// CountVolume counts the events matching q per bucket and level, in the
// database: one GROUP BY over the rows QueryEvents would read (the same
// conditions and indexes), never the rows themselves. The count roll-ups
// do not keep the severity, so they cannot serve it.
func (s *Store) CountVolume(ctx context.Context, q VolumeQuery) ([]VolumePoint, error) {
	lo, hi, iv, err := VolumeBuckets(q, s.opts.MaxBuckets)
	if err != nil {
		return nil, err
	}
	eq := q.EventQuery
	if eq.ftsMatch, err = s.ftsPlan(ctx, eq.Text); err != nil {
		return nil, err
	}
	eq.hours = s.entityHours
	w := eq.where(lo, hi, "")
	// #nosec G201 G202 -- iv is an integer; the conditions are code-built with every value a bound ? argument
	query := fmt.Sprintf("SELECT published - (published %% %d), severity, COUNT(*) FROM events%s GROUP BY 1, 2", iv, w.sql())
	rows, err := s.r.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: logs volume: %w", err)
	}
	defer rows.Close()
	return ScanVolume(rows, iv)
}
