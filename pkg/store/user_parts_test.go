package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// partsOpts: a seal budget of 200 entries and parts of 16, for a store of
// 200 actors whose day from its hours reads ~900 entries (what a commit
// would seal at once without parts).
var partsOpts = Options{sealBudget: 200, segPartEntries: 16}

// sealBound is the most entries a commit's seal may handle with
// partsOpts: the budget, one step of at least a part started under it
// with one key's entries of every input (~25) past it, or one closed
// hour's rows (~50 here) sealed under it.
const sealBound = 200 + 16 + 64

// unfinishedBuilds counts the segments with parts but no user_segs row.
func unfinishedBuilds(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(DISTINCT span || '/' || bucket) FROM user_seg_parts AS p
		WHERE NOT EXISTS (SELECT 1 FROM user_segs AS u WHERE u.span = p.span AND u.bucket = p.bucket)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// partedSegs counts the sealed segments of span stored in parts.
func partedSegs(t *testing.T, s *Store, span int64) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span = ? AND data = ?", span, segPartsMarker).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// unfinishedDay is the oldest day whose build has parts but no segment
// (ok false: none).
func unfinishedDay(t *testing.T, s *Store) (day int64, parts int, ok bool) {
	t.Helper()
	err := s.r.QueryRow(`SELECT bucket, COUNT(*) FROM user_seg_parts AS p WHERE span = ?1
		AND NOT EXISTS (SELECT 1 FROM user_segs AS u WHERE u.span = ?1 AND u.bucket = p.bucket)
		GROUP BY bucket ORDER BY bucket LIMIT 1`, dayMS).Scan(&day, &parts)
	return day, parts, err == nil
}

// TestUserSegPartsBounded: with parts, no commit's seal handles more than
// the budget and a bounded step past it (the day that closes, ~900
// entries read from its hours, and its 2- and 4-day segments are built a
// step per commit); the users summary equals the brute-force one at every
// commit boundary while a build is unfinished (a late event into the day
// being built starts it again), and in the end every closed bucket is
// sealed, the large segments in parts, each coarse one the merge of its
// base segments.
func TestUserSegPartsBounded(t *testing.T) {
	s, err := OpenWithOptions(context.Background(), filepath.Join(t.TempDir(), "parts.db"), partsOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := segEvents(0, 6000, t0.Add(2*24*time.Hour+7*time.Hour+123*time.Millisecond))
	var all []event.Event
	most, spanned, late := 0, 0, false
	for i := 0; i < len(evs); i += 50 {
		page := evs[i:min(i+50, len(evs))]
		if day, _, ok := unfinishedDay(t, s); ok && !late {
			// a late event into the day being built: its hour's segment
			// changes, so the build starts again
			late = true
			ev := mkEventNoRaw(77777, time.UnixMilli(day).UTC().Add(5*time.Hour+17*time.Minute))
			page = append([]event.Event{ev}, page...)
		}
		mustCommit(t, s, Batch{Events: page})
		all = append(all, page...)
		if s.sealWork > sealBound {
			t.Fatalf("events %d..: the commit's seal handled %d entries, want at most %d", i, s.sealWork, sealBound)
		}
		most = max(most, s.sealWork)
		if unfinishedBuilds(t, s) > 0 {
			spanned++
			checkUserRangesN(t, s, all, nil, uint64(40+i), 6*24*time.Hour, 6)
		} else if (i/50)%10 == 0 {
			checkUserRangesN(t, s, all, nil, uint64(40+i), 6*24*time.Hour, 6)
		}
	}
	if most < partsOpts.sealBudget || spanned < 10 || !late {
		t.Fatalf("the budget was never reached (most %d entries a commit) or no build spanned commits (%d boundaries, late %v)", most, spanned, late)
	}
	next := segEvents(10000, 600, all[len(all)-1].Published)
	for i := 0; i < len(next); i += 50 {
		mustCommit(t, s, Batch{Events: next[i : i+50]})
		all = append(all, next[i:i+50]...)
		if s.sealWork > sealBound {
			t.Fatalf("the commit's seal handled %d entries, want at most %d", s.sealWork, sealBound)
		}
	}
	if n := unfinishedBuilds(t, s); n != 0 {
		t.Fatalf("%d builds unfinished after the seals caught up", n)
	}
	if countPendingCoarse(t, s) != 0 {
		t.Fatal("closed coarse buckets without a segment after the seals caught up")
	}
	for _, span := range []int64{dayMS, 2 * dayMS, 4 * dayMS} {
		if partedSegs(t, s, span) == 0 {
			t.Fatalf("no %d-ms segment in parts", span)
		}
	}
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, nil, 39, 7*24*time.Hour)
}

// TestUserSegPartsRestartAndPrune: a store closed while a day is half
// built continues that build (its parts are kept) at the next open and
// commits; a prune while a build is unfinished keeps the users summary
// exact; a reopen finishes every build.
func TestUserSegPartsRestartAndPrune(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "parts.db")
	s, err := OpenWithOptions(ctx, path, partsOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	evs := segEvents(0, 6000, t0.Add(2*24*time.Hour+7*time.Hour+123*time.Millisecond))
	var all []event.Event
	i := 0
	commitUntilUnfinished := func() (int64, int) {
		t.Helper()
		for ; i < len(evs); i += 50 {
			page := evs[i:min(i+50, len(evs))]
			mustCommit(t, s, Batch{Events: page})
			all = append(all, page...)
			if day, parts, ok := unfinishedDay(t, s); ok {
				i += 50
				return day, parts
			}
		}
		t.Fatal("no day build left unfinished by a commit")
		return 0, 0
	}
	day, parts := commitUntilUnfinished()
	s.Close()
	// sealLimit 1: the open runs one seal step (the build's next one)
	if s, err = OpenWithOptions(ctx, path, Options{sealBudget: partsOpts.sealBudget, segPartEntries: partsOpts.segPartEntries, sealLimit: 1}); err != nil {
		t.Fatal(err)
	}
	if d, p, ok := unfinishedDay(t, s); ok && (d != day || p <= parts) {
		t.Fatalf("after the reopen the unfinished day is %d with %d parts, want day %d with more than %d (continued)", d, p, day, parts)
	}
	checkUserRangesUpTo(t, s, all, nil, 51, 6*24*time.Hour)
	for ; i < len(evs); i += 50 {
		if _, _, ok := unfinishedDay(t, s); !ok {
			break
		}
		page := evs[i:min(i+50, len(evs))]
		mustCommit(t, s, Batch{Events: page})
		all = append(all, page...)
		checkUserRangesN(t, s, all, nil, uint64(52+i), 6*24*time.Hour, 6)
	}
	if d, _, ok := unfinishedDay(t, s); ok && d == day {
		t.Fatalf("day %d still unfinished", day)
	}

	// a prune into the day being built
	day, _ = commitUntilUnfinished()
	all = pruneTo(t, s, all, time.UnixMilli(day).UTC().Add(5*time.Hour+time.Minute))
	checkUserRangesUpTo(t, s, all, nil, 61, 6*24*time.Hour)
	for j := 0; j < 20 && i < len(evs); i, j = i+50, j+1 {
		page := evs[i:min(i+50, len(evs))]
		mustCommit(t, s, Batch{Events: page})
		all = append(all, page...)
		checkUserRangesN(t, s, all, nil, uint64(62+i), 6*24*time.Hour, 6)
	}
	s.Close()
	if s, err = OpenWithOptions(ctx, path, partsOpts); err != nil {
		t.Fatal(err)
	}
	if n := unfinishedBuilds(t, s); n != 0 {
		t.Fatalf("%d builds unfinished after an open", n)
	}
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, nil, 63, 7*24*time.Hour)
}

// TestUserSegPartsLateRows: late rows merged into day, 6-hour and 2- and
// 4-day segments in parts (mergeIntoParts) keep the users summary exact
// and every coarse segment the merge of its base segments.
func TestUserSegPartsLateRows(t *testing.T) {
	s, err := OpenWithOptions(context.Background(), filepath.Join(t.TempDir(), "parts.db"), partsOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := segEvents(0, 4000, t0.Add(7*time.Hour+123*time.Millisecond))
	for i := 0; i < len(evs); i += 50 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+50, len(evs))]})
	}
	if partedSegs(t, s, dayMS) == 0 {
		t.Fatal("no day segment in parts")
	}
	// late events of every actor into the first days
	var late []event.Event
	for n := range 400 {
		ev := mkEventNoRaw(50000+n, t0.Add(time.Duration(8+n%40)*time.Hour+time.Duration(n)*time.Second))
		late = append(late, ev)
	}
	all := append([]event.Event{}, evs...)
	for i := 0; i < len(late); i += 100 {
		mustCommit(t, s, Batch{Events: late[i : i+100]})
		all = append(all, late[i:i+100]...)
		checkUserRangesN(t, s, all, nil, uint64(70+i), 4*24*time.Hour, 6)
	}
	more := segEvents(20000, 300, evs[len(evs)-1].Published)
	for i := 0; i < len(more); i += 50 {
		mustCommit(t, s, Batch{Events: more[i : i+50]})
	}
	all = append(all, more...)
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, nil, 79, 4*24*time.Hour)
}
