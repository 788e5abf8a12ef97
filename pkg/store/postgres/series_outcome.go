package postgres

import "github.com/oktaguard/oktaguard/pkg/store"

// Outcome count roll-ups (schema 9; SQLite's schema 13,
// pkg/store/series_outcome.go): beside each event-count roll-up, the same
// counts per bucket and outcome only. The full roll-ups hold a row per
// (bucket, event type, outcome, country), ~100 a 5-minute bucket of the
// 10 M benchmark store, so a week in 5-minute buckets grouped by outcome
// read ~200 000 rows for ~4 000 points; these tables answer a series
// grouped by outcome or not grouped, without an event-type or country
// filter, from ~2 rows a bucket. Commit adds to them in its transaction
// and Prune drops their buckets with the full ones'.

const outcomeCountsVersion = 9

// outcomeTable is the outcome-only table beside a count roll-up.
func outcomeTable(rollupTable string) string { return rollupTable + "_outcome" }

func outcomeRollupSQL(table string) rollup {
	return rollup{table: outcomeTable(table), cols: []string{"bucket", "outcome", "n"},
		types: []string{"bigint", "text", "bigint"}, nkeys: 2, set: [][2]string{{"n", "{t}.n + {x}.n"}}}
}

// seriesTable is the table that answers a count roll-up's span for q: its
// outcome table when q needs neither event types nor countries.
func (s *Store) seriesTable(q store.SeriesQuery, rollupTable string) string {
	if !s.outcomeCounts || q.EventTypePrefix != "" || q.Country != "" ||
		(q.GroupBy != store.GroupNone && q.GroupBy != store.GroupOutcome) {
		return rollupTable
	}
	return outcomeTable(rollupTable)
}

// queueOutcomeCounts queues the page's counts of one roll-up level folded
// per bucket and outcome.
func (s *Store) queueOutcomeCounts(q *stmtBatch, table string, m map[store.CountKey]int64) {
	type key struct {
		bucket  int64
		outcome string
	}
	sum := map[key]int64{}
	for k, n := range m {
		sum[key{k.Bucket, k.Outcome}] += n
	}
	b, oc, n := make([]int64, 0, len(sum)), make([]string, 0, len(sum)), make([]int64, 0, len(sum))
	for k, v := range sum {
		b, oc, n = append(b, k.bucket), append(oc, k.outcome), append(n, v)
	}
	q.add(outcomeTable(table), outcomeRollupSQL(table).upsertSQL(s.cfg.rollupsOnConflict), s.org, b, oc, n)
}
