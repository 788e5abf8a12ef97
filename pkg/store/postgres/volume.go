package postgres

import (
	"context"
	"fmt"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// levelCountsVersion is the schema version that has event_levels.
const levelCountsVersion = 11

// levelRollup is event_levels' upsert: a page's counts per minute and
// severity added to the rows.
var levelRollup = rollup{table: "event_levels", cols: []string{"bucket", "severity", "n"},
	types: []string{"bigint", "text", "bigint"}, nkeys: 2, set: [][2]string{{"n", "{t}.n + {x}.n"}}}

// queueLevels queues the page's per-minute counts by severity.
func queueLevels(q *stmtBatch, org int32, plain bool, m map[store.LevelKey]int64) {
	b, sev, n := make([]int64, 0, len(m)), make([]string, 0, len(m)), make([]int64, 0, len(m))
	for k, v := range m {
		b, sev, n = append(b, k.Bucket), append(sev, k.Severity), append(n, v)
	}
	q.add("event_levels", levelRollup.upsertSQL(plain), org, b, sev, n)
}

// CountVolume counts the org's events matching q per bucket and level, as
// the SQLite store does (store.Store.CountVolume): without a filter, in
// whole minutes, from event_levels and the sub-minute ends from the rows;
// otherwise one GROUP BY over the rows QueryEvents would read (the same
// conditions, free text included).
func (s *Store) CountVolume(ctx context.Context, q store.VolumeQuery) ([]store.VolumePoint, error) {
	lo, hi, iv, err := store.VolumeBuckets(q, s.cfg.MaxBuckets)
	if err != nil {
		return nil, err
	}
	counts := store.VolumeCounts{}
	for _, sp := range store.VolumeSpans(q, lo, hi, iv) {
		w := s.where()
		var query string
		if sp.Level != 0 && s.levelCounts {
			w.add("bucket >= ? AND bucket < ?", sp.A, sp.B)
			query = fmt.Sprintf("SELECT bucket - mod(bucket, %d), severity, SUM(n)::bigint FROM event_levels%s GROUP BY 1, 2", iv, w.sql())
		} else {
			eventWhere(w, q.EventQuery, sp.A, sp.B-1)
			if q.Text != "" {
				if err := s.textConds(ctx, w, q.Text); err != nil {
					return nil, err
				}
			}
			// #nosec G201 G202 -- iv is an integer; the conditions are code-built with every value a bound $n argument
			query = fmt.Sprintf("SELECT published - mod(published, %d), severity, COUNT(*) FROM events%s GROUP BY 1, 2", iv, w.sql())
		}
		rows, err := s.pool.Query(ctx, query, w.args...)
		if err != nil {
			return nil, fmt.Errorf("store: logs volume: %w", err)
		}
		err = counts.Scan(rows, iv)
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return counts.Points(), nil
}
