package store

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// checkCoarseInvariant: every coarse segment equals the merge of the base
// segments of its buckets; it returns how many there are per width.
func checkCoarseInvariant(t *testing.T, s *Store) map[int64]int {
	t.Helper()
	ctx := context.Background()
	counts := map[int64]int{}
	for _, ut := range userTables {
		for _, w := range userSegLevels[ut.span] {
			rows, err := s.r.QueryContext(ctx, "SELECT bucket FROM user_segs WHERE span = ?", w)
			if err != nil {
				t.Fatal(err)
			}
			var segs []int64
			for rows.Next() {
				var c int64
				if err := rows.Scan(&c); err != nil {
					t.Fatal(err)
				}
				segs = append(segs, c)
			}
			rows.Close()
			for _, c := range segs {
				// a blob or its parts (user_parts.go)
				got, err := userSeg(ctx, s.r, w, c)
				if err != nil {
					t.Fatal(err)
				}
				ins, err := segsFrom(ctx, s.r, ut.span, c, c+w, nil)
				if err != nil {
					t.Fatal(err)
				}
				var want []UserSegEntry
				for _, in := range ins {
					es, err := decodeSegInput(in)
					if err != nil {
						t.Fatal(err)
					}
					want = MergeUserSegEntries(want, es)
				}
				sortSegEntries(want)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("coarse segment %d/%d: %d entries, the merge of its %s segments has %d", w, c, len(got), ut.table, len(want))
				}
				counts[w]++
			}
		}
	}
	return counts
}

func sortSegEntries(es []UserSegEntry) {
	// EncodeUserSeg's order
	data, _ := EncodeUserSeg(0, es)
	out, _ := DecodeUserSeg(0, data)
	copy(es, out)
}

// TestUserCoarseSegmentsExact: the 6-hour, 2-day and 4-day segments are
// built as buckets close, stay the merge of their base segments through
// late events and a prune, are read by long ranges (fewer segments than
// the base ones), and the users summary equals the brute-force one over
// random ranges of up to 9 days with unaligned edges.
func TestUserCoarseSegmentsExact(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	// ~9 days from 07:00 on a day that is not a 4-day boundary
	evs := segEvents(0, 9000, t0.Add(2*24*time.Hour+7*time.Hour+123*time.Millisecond))
	for i := 0; i < len(evs); i += 500 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+500, len(evs))]})
	}
	alerts := []alert.Alert{
		mkAlert("a1", "failed_logins", "medium", evs[100].Published, evs[100].Actor.AlternateID, evs[100].UUID),
		mkAlert("a2", "password_spray", "high", evs[6000].Published, evs[6000].Actor.AlternateID),
	}
	mustCommit(t, s, Batch{Alerts: alerts})
	counts := checkCoarseInvariant(t, s)
	if counts[6*hourMS] < 30 || counts[2*dayMS] < 3 || counts[4*dayMS] < 1 {
		t.Fatalf("coarse segments after ingest: %v; want every closed 6 h, 2-day and 4-day bucket", counts)
	}
	checkUserRangesUpTo(t, s, evs, alerts, 11, 9*24*time.Hour)

	// a week ending on an hour reads coarse segments: fewer than its
	// 6 days and 24 hours of base segments
	end := evs[len(evs)-1].Published.Truncate(time.Hour).Add(-5 * time.Hour)
	agg, err := s.userAgg(ctx, UserQuery{From: end.Add(-7 * 24 * time.Hour), To: end, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if agg.segments >= 6+24-1 || agg.segments == 0 {
		t.Fatalf("a week read %d segments, want fewer than the 29 base ones that are sealed", agg.segments)
	}

	// late events into sealed buckets of every day
	late := segEvents(20000, 400, evs[0].Published)
	for i := range late {
		late[i].Published = evs[(i*27)%len(evs)].Published.Add(-time.Duration(i) * time.Millisecond)
	}
	mustCommit(t, s, Batch{Events: late})
	all := append(append([]event.Event{}, evs...), late...)
	checkUserRangesUpTo(t, s, all, alerts, 12, 9*24*time.Hour)
	next := segEvents(30000, 50, evs[len(evs)-1].Published)
	mustCommit(t, s, Batch{Events: next})
	all = append(all, next...)
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, alerts, 13, 9*24*time.Hour)

	// prune through coarse buckets
	cut := evs[3456].Published
	rest := pruneTo(t, s, all, cut)
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, rest, alerts, 14, 9*24*time.Hour)
	checkNoPrunedSegments(t, s, cut)
}

// TestUserCoarseSegmentsMigration: a store sealed at schema 12 gets its
// coarse segments at the first open at schema 13 and answers exactly.
func TestUserCoarseSegmentsMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v12.db", coarseUserSegsVersion-1)
	evs := segEvents(0, 6000, t0.Add(9*time.Hour+77*time.Millisecond))
	for i := 0; i < len(evs); i += 1000 {
		mustCommit(t, old, Batch{Events: evs[i:min(i+1000, len(evs))]})
	}
	var coarse int64
	old.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span NOT IN (?, ?)", dayMS, hourMS).Scan(&coarse)
	if coarse != 0 {
		t.Fatalf("schema 12 wrote %d coarse segments", coarse)
	}
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if counts := checkCoarseInvariant(t, s); counts[6*hourMS] < 20 || counts[2*dayMS] < 2 {
		t.Fatalf("coarse segments after the migration: %v", counts)
	}
	checkUserRangesUpTo(t, s, evs, nil, 15, 7*24*time.Hour)
}

// TestUserCoarseSegmentsSpread: a commit whose seal reached its budget
// with the day it sealed leaves the 2- and 4-day segments that day closes
// to the next commits, one each (the cost of one 100 000-user commit
// spread over three); the users summary is exact while they are missing
// (their days are read), the invariant holds after every commit that
// built one (and every tenth), a reopen in between builds them, and every
// closed coarse bucket has its segment in the end. Under the budget (a
// small org) the day and its coarse segments are sealed together.
func TestUserCoarseSegmentsSpread(t *testing.T) {
	ctx := context.Background()
	count := func(s *Store, span int64) int {
		var n int
		if err := s.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span = ?", span).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// ~6 days from 07:00 on a day that is not a 4-day boundary
	evs := segEvents(0, 6000, t0.Add(2*24*time.Hour+7*time.Hour+123*time.Millisecond))
	path := filepath.Join(t.TempDir(), "spread.db")
	s, err := OpenWithOptions(ctx, path, Options{sealBudget: 300})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	small, _ := openTemp(t) // the default budget: nothing spread
	deferred, checkedMissing := 0, false
	for i := 0; i < len(evs); i += 50 {
		days, coarse := count(s, dayMS), count(s, 2*dayMS)+count(s, 4*dayMS)
		page := evs[i:min(i+50, len(evs))]
		mustCommit(t, s, Batch{Events: page})
		mustCommit(t, small, Batch{Events: page})
		built := count(s, 2*dayMS) + count(s, 4*dayMS) - coarse
		if count(s, dayMS) > days && built != 0 {
			t.Fatalf("events %d..: the commit that sealed a day also built %d coarse segments, want them left to the next commits", i, built)
		}
		if built > 1 {
			t.Fatalf("events %d..: one commit built %d coarse segments, want at most one", i, built)
		}
		if built > 0 || (i/50)%10 == 0 {
			checkCoarseInvariant(t, s)
		}
		missing := countPendingCoarse(t, s)
		deferred = max(deferred, missing)
		if missing > 0 && !checkedMissing { // the days are read meanwhile
			checkedMissing = true
			checkUserRangesUpTo(t, s, evs[:min(i+50, len(evs))], nil, 31, 6*24*time.Hour)
			// a stop between the day's commit and the next: the open builds them
			s.Close()
			if s, err = OpenWithOptions(ctx, path, Options{sealBudget: 300}); err != nil {
				t.Fatal(err)
			}
			if n := countPendingCoarse(t, s); n != 0 {
				t.Fatalf("%d closed coarse buckets without a segment after a reopen", n)
			}
			checkCoarseInvariant(t, s)
			checkUserRangesUpTo(t, s, evs[:min(i+50, len(evs))], nil, 33, 6*24*time.Hour)
		}
		if n := countPendingCoarse(t, small); n != 0 {
			t.Fatalf("events %d..: the default budget left %d coarse segments to later commits", i, n)
		}
	}
	if deferred == 0 || !checkedMissing {
		t.Fatal("no coarse segment was ever left to a later commit")
	}
	next := segEvents(10000, 150, evs[len(evs)-1].Published) // a few more pages
	for i := 0; i < len(next); i += 50 {
		mustCommit(t, s, Batch{Events: next[i : i+50]})
	}
	if n := countPendingCoarse(t, s); n != 0 {
		t.Fatalf("%d closed coarse buckets still without a segment", n)
	}
	counts := checkCoarseInvariant(t, s)
	if counts[2*dayMS] < 2 || counts[4*dayMS] < 1 {
		t.Fatalf("coarse segments after ingest: %v", counts)
	}
	checkUserRangesUpTo(t, s, append(append([]event.Event{}, evs...), next...), nil, 32, 6*24*time.Hour)
}

// countPendingCoarse counts the closed 2- and 4-day buckets that have day
// segments but no coarse segment.
func countPendingCoarse(t *testing.T, s *Store) int {
	t.Helper()
	h, ok, err := newestHourBucket(context.Background(), s.r)
	if err != nil || !ok {
		t.Fatalf("newest hour: %v (%v)", ok, err)
	}
	open := floorTo(h, dayMS)
	total := 0
	for _, w := range userSegLevels[dayMS] {
		var n int
		if err := s.r.QueryRow(`SELECT COUNT(DISTINCT d.bucket - (d.bucket % ?1)) FROM user_segs AS d
			WHERE d.span = ?2 AND d.bucket - (d.bucket % ?1) + ?1 <= ?3
			AND NOT EXISTS (SELECT 1 FROM user_segs AS u WHERE u.span = ?1 AND u.bucket = d.bucket - (d.bucket % ?1))`,
			w, dayMS, open).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}
