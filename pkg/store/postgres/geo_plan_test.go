package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// The geo roll-up statement is planned without parallel workers even when
// the planner is told they cost nothing (migration 5); the same statement
// on an events-sized table without the setting is planned parallel, so the
// check can fail.
func TestGeoRollupNotParallel(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	for _, kv := range [][2]string{{"parallel_setup_cost", "0"}, {"parallel_tuple_cost", "0"}, {"min_parallel_table_scan_size", "0"},
		{"max_parallel_workers_per_gather", "2"}} {
		dsn = pgtest.WithParam(dsn, kv[0], kv[1])
	}
	s, err := Open(ctx, Config{DSN: dsn, Org: "https://plan.okta.example", MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.pool.Exec(ctx, `INSERT INTO geo_hours (org, bucket, event_type, outcome, lat, lon, country, city, n, last_seen)
		SELECT $1, i::bigint * 3600000, 'user.session.start', 'SUCCESS', (i % 50)::float8, 1, 'c', 'c', 1, i
		FROM generate_series(1, 5000) i`, s.org); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE geo_hours"); err != nil {
		t.Fatal(err)
	}
	w := s.where()
	w.add("bucket >= ? AND bucket < ?", int64(0), int64(5000*3600000))
	w.add("event_type = ANY(?)", store.SignInEventTypes)
	plan := func(query string, args []any) string {
		t.Helper()
		rows, err := s.pool.Query(ctx, "EXPLAIN "+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			b.WriteString(line + "\n")
		}
		return b.String()
	}
	if p := plan(geoRollupSQL("geo_hours", 1, "''", w), w.args); strings.Contains(p, "Gather") || strings.Contains(p, "Parallel") {
		t.Fatalf("geo roll-up planned parallel:\n%s", p)
	}
	if _, err := s.pool.Exec(ctx, "ALTER TABLE geo_hours RESET (parallel_workers)"); err != nil {
		t.Fatal(err)
	}
	if p := plan(geoRollupSQL("geo_hours", 1, "''", w), w.args); !strings.Contains(p, "Parallel") {
		t.Fatalf("without migration 5's setting the plan is not parallel either, the test proves nothing:\n%s", p)
	}
}
