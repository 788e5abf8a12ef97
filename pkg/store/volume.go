package store

import (
	"context"
	"database/sql"
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

// Rows is what VolumeCounts.Scan reads: *sql.Rows and pgx.Rows both are.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// VolumeCounts gathers a logs volume: events per bucket start and level.
type VolumeCounts map[seriesKey]int64

// Scan adds the rows (a time in the bucket in unix ms, severity, count) of
// a logs-volume GROUP BY, from events or from event_levels: severities
// that differ only in case are one level.
func (c VolumeCounts) Scan(rows Rows, iv int64) error {
	for rows.Next() {
		var t, n int64
		var sev string
		if err := rows.Scan(&t, &sev, &n); err != nil {
			return fmt.Errorf("store: logs volume: %w", err)
		}
		c[seriesKey{floorTo(t, iv), strings.ToLower(sev)}] += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: logs volume: %w", err)
	}
	return nil
}

// Points returns the counts sorted by time, then level (levels with no
// event left out).
func (c VolumeCounts) Points() []VolumePoint {
	out := make([]VolumePoint, 0, len(c))
	for k, n := range c {
		if n != 0 {
			out = append(out, VolumePoint{Time: time.UnixMilli(k.t).UTC(), Level: k.g, Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Level < out[j].Level
	})
	return out
}

// Per-minute counts by severity (schema 21, table event_levels): Commit
// adds a page's events to them and Prune subtracts the deleted ones, like
// the count roll-ups (which do not keep the severity). A logs volume
// without a filter, in whole minutes, reads a row per minute and level
// from them, and only its sub-minute ends from the events.

// levelCountsVersion is the schema version that has event_levels.
const levelCountsVersion = 21

const levelCountsMigration = `
CREATE TABLE event_levels (
	bucket   INTEGER NOT NULL,   -- unix ms, start of the minute
	severity TEXT    NOT NULL,   -- as stored in events.severity
	n        INTEGER NOT NULL,
	PRIMARY KEY (bucket, severity)
) WITHOUT ROWID;
INSERT INTO event_levels SELECT published - (published % 60000), severity, COUNT(*) FROM events GROUP BY 1, 2;
`

// LevelKey is one row of the per-minute counts by severity.
type LevelKey struct {
	Bucket   int64
	Severity string
}

// Unfiltered reports whether q selects every event of its range: the
// per-minute counts by severity can answer it.
func (q EventQuery) Unfiltered() bool {
	return q.Actor == "" && q.EventTypePrefix == "" && q.Outcome == "" && q.IP == "" && q.Country == "" &&
		q.Text == "" && q.SessionID == "" && len(q.Exclude) == 0
}

// VolumeSpans splits a logs volume over [lo, hi] into the whole minutes
// read from the per-minute counts (Level minuteMS) and the ends read from
// the events (Level 0): every span from the events when q filters or the
// interval is not whole minutes (a minute would straddle two buckets).
func VolumeSpans(q VolumeQuery, lo, hi, iv int64) []Span {
	var levels []int64
	if q.Unfiltered() && iv%minuteMS == 0 {
		levels = []int64{minuteMS}
	}
	return Spans(lo, endExclusive(hi), levels)
}

// upsertLevels adds a page's per-minute counts by severity.
func upsertLevels(ctx context.Context, tx *sql.Tx, m map[LevelKey]int64) error {
	args := make([]any, 0, 3*len(m))
	for k, n := range m {
		args = append(args, k.Bucket, k.Severity, n)
	}
	for at := 0; at < len(args); at += 3 * maxRows {
		part := args[at:min(len(args), at+3*maxRows)]
		// #nosec G202 -- a constant statement and a run of ? placeholders
		q := "INSERT INTO event_levels (bucket, severity, n) VALUES (?,?,?)" + strings.Repeat(",(?,?,?)", len(part)/3-1) +
			" ON CONFLICT(bucket, severity) DO UPDATE SET n = n + excluded.n"
		if _, err := tx.ExecContext(ctx, q, part...); err != nil {
			return fmt.Errorf("store: commit: event_levels: %w", err)
		}
	}
	return nil
}

// pruneLevels are Prune's statements for event_levels: the deleted events
// (ids in set) are subtracted, emptied rows dropped.
func pruneLevels(set string) (subtract, empty string) {
	return `UPDATE event_levels AS c SET n = c.n - d.k FROM (SELECT published - (published % 60000) AS b,
			severity, COUNT(*) AS k FROM events WHERE id IN ` + set + ` GROUP BY 1, 2) AS d
			WHERE c.bucket = d.b AND c.severity = d.severity`, "DELETE FROM event_levels WHERE n <= 0"
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
	counts := VolumeCounts{}
	for _, sp := range VolumeSpans(q, lo, hi, iv) {
		if sp.Level != 0 && s.levelCounts {
			err = s.volumeRows(ctx, counts, iv, fmt.Sprintf(
				"SELECT bucket - (bucket %% %d), severity, SUM(n) FROM event_levels WHERE bucket >= ? AND bucket < ? GROUP BY 1, 2", iv),
				sp.A, sp.B)
		} else {
			err = s.volumeEvents(ctx, counts, q.EventQuery, sp.A, sp.B-1, iv)
		}
		if err != nil {
			return nil, err
		}
	}
	return counts.Points(), nil
}

// volumeEvents counts the events of [lo, hi] matching eq per bucket and
// severity.
func (s *Store) volumeEvents(ctx context.Context, counts VolumeCounts, eq EventQuery, lo, hi, iv int64) error {
	var err error
	if eq.ftsMatch, err = s.ftsPlan(ctx, eq.Text); err != nil {
		return err
	}
	eq.hours = s.entityHours
	w := eq.where(lo, hi, "")
	// #nosec G201 G202 -- iv is an integer; the conditions are code-built with every value a bound ? argument
	return s.volumeRows(ctx, counts, iv, fmt.Sprintf("SELECT published - (published %% %d), severity, COUNT(*) FROM events%s GROUP BY 1, 2",
		iv, w.sql()), w.args...)
}

func (s *Store) volumeRows(ctx context.Context, counts VolumeCounts, iv int64, query string, args ...any) error {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: logs volume: %w", err)
	}
	defer rows.Close()
	return counts.Scan(rows, iv)
}
