package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Outcome count roll-ups (schema 13): beside each event-count roll-up
// (countRollups), the same counts per bucket and outcome only. The full
// roll-ups hold a row per (bucket, event type, outcome, country): ~100 a
// 5-minute bucket at 10 M events, so a week in 5-minute buckets grouped by
// outcome read and grouped ~206 000 rows (a temp b-tree sort, ~150 ms) for
// ~4 000 points. These tables answer a series grouped by outcome or not
// grouped, with no event-type or country filter, from ~2 rows a bucket.
// Commit adds to them and Prune subtracts from them with the full ones.

// outcomeCountsVersion is the schema version that has the outcome tables.
const outcomeCountsVersion = 13

// outcomeTable is the outcome-only table beside a count roll-up.
func outcomeTable(rollup string) string { return rollup + "_outcome" }

func outcomeCountsMigration() string {
	var b strings.Builder
	for _, r := range countRollups {
		t := outcomeTable(r.table)
		fmt.Fprintf(&b, `
CREATE TABLE %[1]s (
	bucket  INTEGER NOT NULL,   -- unix ms, start of the bucket (as in %[2]s)
	outcome TEXT    NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (bucket, outcome)
) WITHOUT ROWID;
INSERT INTO %[1]s SELECT bucket, outcome, SUM(n) FROM %[2]s GROUP BY bucket, outcome;
`, t, r.table)
	}
	// the users summary counts each actor's alerts of the range
	// (users.go): a covering index reads them without the alert rows
	// (their JSON makes a row span pages)
	b.WriteString("\nCREATE INDEX alerts_time_actor ON alerts(time, actor, severity, actor_id);\n")
	return b.String()
}

// seriesOutcomeTable is the outcome-only table that answers the span of a
// count roll-up for q, or "" when q needs the full roll-up.
func (s *Store) seriesOutcomeTable(q SeriesQuery, rollup string) string {
	if !s.outcomeCounts || q.EventTypePrefix != "" || q.Country != "" ||
		(q.GroupBy != GroupNone && q.GroupBy != GroupOutcome) {
		return ""
	}
	return outcomeTable(rollup)
}

// upsertOutcomeCounts adds a page's counts of one roll-up level to its
// outcome table (a few rows a page: one statement of exactly that many).
func upsertOutcomeCounts(ctx context.Context, tx *sql.Tx, rollup string, m map[CountKey]int64) error {
	type key struct {
		bucket  int64
		outcome string
	}
	folded := map[key]int64{}
	for k, n := range m {
		folded[key{k.Bucket, k.Outcome}] += n
	}
	if len(folded) == 0 {
		return nil
	}
	t := outcomeTable(rollup)
	args := make([]any, 0, 3*len(folded))
	for k, n := range folded {
		args = append(args, k.bucket, k.outcome, n)
	}
	for at := 0; at < len(args); at += 3 * maxRows {
		part := args[at:min(len(args), at+3*maxRows)]
		// #nosec G202 -- t is a constant rollup table name plus _outcome; the rest are ? placeholders
		q := "INSERT INTO " + t + " (bucket, outcome, n) VALUES (?,?,?)" + strings.Repeat(",(?,?,?)", len(part)/3-1) +
			" ON CONFLICT(bucket, outcome) DO UPDATE SET n = n + excluded.n"
		if _, err := tx.ExecContext(ctx, q, part...); err != nil {
			return fmt.Errorf("store: commit: %s: %w", t, err)
		}
	}
	return nil
}

// pruneOutcomeCounts are Prune's statements for the outcome tables: the
// deleted events (ids bound as ?1, the set) are subtracted, emptied rows
// dropped.
func pruneOutcomeCounts(set string) (subtract, empty []string) {
	for _, r := range countRollups {
		t := outcomeTable(r.table)
		subtract = append(subtract, fmt.Sprintf(`UPDATE %[1]s AS c SET n = c.n - d.k FROM (SELECT published - (published %% %[2]d) AS b,
			outcome, COUNT(*) AS k FROM events WHERE id IN %[3]s GROUP BY 1, 2) AS d
			WHERE c.bucket = d.b AND c.outcome = d.outcome`, t, r.width, set))
		empty = append(empty, "DELETE FROM "+t+" WHERE n <= 0")
	}
	return subtract, empty
}
