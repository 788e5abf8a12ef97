package postgres

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// checkOutcomeTables: every outcome table holds its full table's counts
// summed per bucket and outcome, no more, no less.
func checkOutcomeTables(ctx context.Context, t *testing.T, s *Store) {
	t.Helper()
	for _, r := range store.CountRollups() {
		var bad, rows int
		if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FILTER (WHERE o.n IS DISTINCT FROM f.n), COUNT(*)
			FROM (SELECT * FROM `+outcomeTable(r.Table)+` WHERE org = $1) o
			FULL JOIN (SELECT bucket, outcome, SUM(n) AS n FROM `+r.Table+` WHERE org = $1 GROUP BY 1, 2) f USING (bucket, outcome)`,
			s.org).Scan(&bad, &rows); err != nil {
			t.Fatal(err)
		}
		if bad > 0 || rows == 0 {
			t.Fatalf("%s: %d of %d rows differ from %s's sums", outcomeTable(r.Table), bad, rows, r.Table)
		}
	}
}

// Series grouped by outcome or not grouped read the outcome tables and
// answer as the full roll-ups do, through late events and a prune; a store
// with data migrated from schema 8 has them filled.
func TestSeriesOutcomeCounts(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DSN: pgtest.Schema(t), Org: "https://outcome.okta.example", MaxConns: 2}
	old, err := openAt(ctx, cfg, outcomeCountsVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(31, 32))
	const days = 4
	evs := geoSetEvents(rng, "o", 4000, days)
	commitInOrder(ctx, t, old, evs[:2000])
	old.Close()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkOutcomeTables(ctx, t, s) // filled by the migration
	commitInOrder(ctx, t, s, evs[2000:3500])
	for i := 3500; i < len(evs); i += 100 { // late, in random order
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i:min(i+100, len(evs))]}); err != nil {
			t.Fatal(err)
		}
	}
	checkOutcomeTables(ctx, t, s)
	compare := func() {
		t.Helper()
		for i := range 30 {
			from := geoSetsStart.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour)))).Truncate(time.Second)
			to := from.Add(time.Duration(rng.Int64N(int64(days) * int64(24*time.Hour))))
			q := store.SeriesQuery{From: from, To: to, Interval: []time.Duration{time.Minute, 5 * time.Minute, time.Hour}[i%3],
				GroupBy: []string{store.GroupOutcome, store.GroupNone}[i%2], Limit: 50}
			if i%5 == 0 {
				q.Outcome = "failure"
			}
			got, err := s.CountSeries(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			s.outcomeCounts = false // the full roll-ups (held to the raw events by the contract suite)
			want, err := s.CountSeries(ctx, q)
			s.outcomeCounts = true
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("query %d %+v:\n got %v\nwant %v", i, q, got, want)
			}
		}
	}
	compare()
	if _, err := s.Prune(ctx, geoSetsStart.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkOutcomeTables(ctx, t, s)
	compare()
}
