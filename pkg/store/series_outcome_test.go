package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// outcomeEvents are n events over ~2 days from start at irregular
// milliseconds, with five outcomes (one empty).
func outcomeEvents(first, n int, start time.Time) []event.Event {
	evs := make([]event.Event, n)
	at := start
	outcomes := []string{"SUCCESS", "FAILURE", "DENY", "ALLOW", ""}
	for i := range evs {
		at = at.Add(time.Duration(20+(i*7919)%31)*time.Second + time.Duration(i%997)*time.Millisecond)
		evs[i] = mkEventNoRaw(first+i, at)
		evs[i].Outcome.Result = outcomes[(first+i)*13%len(outcomes)]
	}
	return evs
}

// checkOutcomeSeries compares CountSeries grouped by outcome (and not
// grouped, and filtered on an outcome) with the brute-force count of evs
// over random ranges with unaligned edges, in 1-minute, 5-minute, 1-hour
// and 1-day buckets, and checks that each outcome table holds its full
// roll-up's counts folded per bucket and outcome.
func checkOutcomeSeries(t *testing.T, s *Store, evs []event.Event, seed uint64) {
	t.Helper()
	ctx := context.Background()
	for _, r := range countRollups {
		var diff int64
		if err := s.r.QueryRow(fmt.Sprintf(`SELECT COUNT(*) FROM (
			SELECT bucket, outcome, SUM(n) FROM %[1]s GROUP BY 1, 2 EXCEPT SELECT bucket, outcome, n FROM %[2]s
			UNION ALL
			SELECT bucket, outcome, n FROM %[2]s EXCEPT SELECT bucket, outcome, SUM(n) FROM %[1]s GROUP BY 1, 2)`,
			r.table, outcomeTable(r.table))).Scan(&diff); err != nil {
			t.Fatal(err)
		}
		if diff != 0 {
			t.Fatalf("%s differs from %s folded per outcome in %d rows", outcomeTable(r.table), r.table, diff)
		}
	}
	first, last := evs[0].Published, evs[0].Published
	for _, e := range evs {
		if e.Published.Before(first) {
			first = e.Published
		}
		if e.Published.After(last) {
			last = e.Published
		}
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	span := last.Sub(first) + time.Hour
	intervals := []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour, 24 * time.Hour}
	for range 30 {
		from := first.Add(-30*time.Minute + time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond)
		to := from.Add(time.Duration(rng.Int64N(int64(30 * time.Hour)))).Truncate(time.Millisecond)
		if rng.IntN(3) == 0 {
			from, to = from.Truncate(time.Hour), to.Truncate(5*time.Minute).Add(-time.Millisecond)
		}
		if to.Before(from) {
			to = from
		}
		for _, base := range []SeriesQuery{{GroupBy: GroupOutcome}, {}, {Outcome: "FAILURE"}, {GroupBy: GroupOutcome, Outcome: "DENY"}} {
			q := base
			q.From, q.To, q.Interval, q.Limit = from, to, intervals[rng.IntN(len(intervals))], 1000
			got, err := s.CountSeries(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			want := bruteSeries(evs, q)
			if g, w := seriesString(got), seriesString(want); g != w {
				t.Fatalf("%+v:\n got %s\nwant %s", q, g, w)
			}
		}
	}
}

// TestSeriesOutcomeCountsExact: series grouped by outcome or not grouped
// are read from the outcome tables (schema 13), and stay equal to the
// counts of the raw events through pages, late events and a prune.
func TestSeriesOutcomeCountsExact(t *testing.T) {
	s, _ := openTemp(t)
	evs := outcomeEvents(0, 4000, t0.Add(3*time.Hour+17*time.Millisecond))
	for i := 0; i < len(evs); i += 300 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+300, len(evs))]})
	}
	checkOutcomeSeries(t, s, evs, 1)
	// late events into old buckets
	late := outcomeEvents(50000, 200, evs[0].Published)
	for i := range late {
		late[i].Published = evs[(i*19)%len(evs)].Published.Add(-time.Duration(i) * time.Millisecond)
	}
	mustCommit(t, s, Batch{Events: late})
	all := append(append([]event.Event{}, evs...), late...)
	checkOutcomeSeries(t, s, all, 2)
	cut := evs[1234].Published.Add(7 * time.Millisecond)
	rest := pruneTo(t, s, all, cut)
	checkOutcomeSeries(t, s, rest, 3)
}

// TestSeriesOutcomeCountsPlan: a series by outcome (or without group)
// reads the outcome table of the roll-up by its primary key; an event-type
// or country filter, or another group-by, reads the full roll-up.
func TestSeriesOutcomeCountsPlan(t *testing.T) {
	s, _ := openTemp(t)
	plan := func(q SeriesQuery, grp string) string {
		query, args := s.rollupSeriesSQL(q, grp, "event_counts_5m", 0, 1<<40, 300000)
		return explainPlan(t, s, query, args)
	}
	for _, c := range []struct {
		q   SeriesQuery
		grp string
	}{{SeriesQuery{GroupBy: GroupOutcome}, "outcome"}, {SeriesQuery{}, "''"}, {SeriesQuery{Outcome: "FAILURE"}, "''"}} {
		if p := plan(c.q, c.grp); !strings.Contains(p, "SEARCH event_counts_5m_outcome USING PRIMARY KEY (bucket>? AND bucket<?)") {
			t.Errorf("%+v: plan %q does not search event_counts_5m_outcome by bucket", c.q, p)
		}
	}
	for _, c := range []struct {
		q   SeriesQuery
		grp string
	}{{SeriesQuery{GroupBy: GroupOutcome, EventTypePrefix: "user."}, "outcome"}, {SeriesQuery{Country: "France"}, "''"},
		{SeriesQuery{GroupBy: GroupEventType}, "event_type"}} {
		if p := plan(c.q, c.grp); strings.Contains(p, "_outcome") || !strings.Contains(p, "event_counts_5m") {
			t.Errorf("%+v: plan %q, want the full roll-up", c.q, p)
		}
	}
}

// TestSeriesOutcomeCountsMigration: migration 13 fills the outcome tables
// of a store written at schema 12 from its roll-ups.
func TestSeriesOutcomeCountsMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v12.db", outcomeCountsVersion-1)
	evs := outcomeEvents(0, 2000, t0.Add(time.Hour+3*time.Millisecond))
	for i := 0; i < len(evs); i += 500 {
		mustCommit(t, old, Batch{Events: evs[i:min(i+500, len(evs))]})
	}
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := countRows(t, s, "event_counts_5m_outcome"); n == 0 {
		t.Fatal("event_counts_5m_outcome is empty after the migration")
	}
	checkOutcomeSeries(t, s, evs, 4)
}

// TestUserAlertsCoveringIndex: the users summary's alert counts read the
// covering index alerts_time_actor, not the alert rows.
func TestUserAlertsCoveringIndex(t *testing.T) {
	s, _ := openTemp(t)
	for _, search := range []string{"", "user01"} {
		var w where
		w.add("time BETWEEN ? AND ?", 0, 1<<40)
		w.add("actor <> ''")
		if search != "" {
			w.add("actor LIKE ? ESCAPE '\\'", likeEscape(search))
		}
		detail := explainPlan(t, s, userAlertsSQL+w.sql(), w.args)
		if !strings.Contains(detail, "COVERING INDEX alerts_time_actor") || strings.Contains(detail, "TEMP B-TREE") {
			t.Errorf("search %q: plan %q does not read the covering index", search, detail)
		}
	}
}
