package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// dayEntryEvents sums the events the days hold by the rule of schema 17
// (user_days.go): a sealed day is its segment plus its user_days rows; a
// day without a segment is its hours (hour segments and user_hours rows).
func dayEntryEvents(t *testing.T, s *Store) int64 {
	t.Helper()
	var sum, rows, hours int64
	if err := s.r.QueryRow(`SELECT COALESCE(SUM(events), 0) FROM user_days
		WHERE bucket IN (SELECT bucket FROM user_segs WHERE span = ?)`, dayMS).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`SELECT COALESCE(SUM(events), 0) FROM user_hours
		WHERE bucket - (bucket % ?1) NOT IN (SELECT bucket FROM user_segs WHERE span = ?1)`, dayMS).Scan(&hours); err != nil {
		t.Fatal(err)
	}
	sum = rows + hours + sealedUserEvents(t, s, "user_days")
	return sum + segmentEvents(t, s, `SELECT bucket, data FROM user_segs WHERE span = ?1
		AND bucket - (bucket % ?2) NOT IN (SELECT bucket FROM user_segs WHERE span = ?2)`, hourMS, dayMS)
}

// openDayRows counts the user_days rows of days without a segment: none
// from schema 17 once a commit or a seal is done.
func openDayRows(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM user_days WHERE bucket NOT IN (SELECT bucket FROM user_segs WHERE span = ?)`,
		dayMS).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDaysFromHours: a commit writes no user_days row for the open day
// (the cost schema 17 removes: one leaf per distinct actor of a page), the
// day is sealed from its hours when the next day starts, a late event of
// a sealed day is a row merged by the next seal, a late event of a day
// that had no activity is read from its hours and then sealed, and the
// users summary equals the brute-force one at every step.
func TestDaysFromHours(t *testing.T) {
	s, _ := openTemp(t)
	start := t0.Add(3*time.Hour + 11*time.Millisecond)
	evs := segEvents(0, 600, start) // ~10 hours of day 1
	for i := 0; i < len(evs); i += 100 {
		mustCommit(t, s, Batch{Events: evs[i : i+100]})
		if n := countRows(t, s, "user_days"); n != 0 {
			t.Fatalf("the open day has %d user_days rows after a commit, want none", n)
		}
	}
	checkUserRanges(t, s, evs, nil, 21)
	whole := UserQuery{From: t0, To: t0.Add(48*time.Hour - time.Millisecond), Limit: 1000}
	checkUserQuery(t, s, evs, whole)

	// the next days close day 1: its segment comes from its hours
	next := segEvents(1000, 3000, evs[len(evs)-1].Published)
	all := append(append([]event.Event{}, evs...), next...)
	for i := 0; i < len(next); i += 500 {
		mustCommit(t, s, Batch{Events: next[i : i+500]})
	}
	var days int64
	if err := s.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span = ?", dayMS).Scan(&days); err != nil || days < 2 {
		t.Fatalf("%d day segments after the days closed (%v), want at least 2", days, err)
	}
	if n := openDayRows(t, s); n != 0 {
		t.Fatalf("%d user_days rows of days without a segment", n)
	}
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, nil, 22, 5*24*time.Hour)

	// late events: into sealed days (rows, then merged) and into a day
	// before the first (no activity there before: read from its hours,
	// then sealed from them)
	late := segEvents(9000, 40, t0.Add(-24*time.Hour+5*time.Minute))
	for i := range 20 {
		late[i].Published = all[(i*131)%len(all)].Published.Add(-time.Duration(i+1) * time.Millisecond)
	}
	late = late[:30] // the first 20 moved into sealed days, 10 on the day before
	mustCommit(t, s, Batch{Events: late})
	all = append(all, late...)
	if n := openDayRows(t, s); n != 0 {
		t.Fatalf("%d user_days rows of days without a segment after late events", n)
	}
	var before int64
	if err := s.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span = ? AND bucket = ?", dayMS, floorTo(late[25].Published.UnixMilli(), dayMS)).Scan(&before); err != nil || before != 1 {
		t.Fatalf("the day of the late events before the first has %d segments (%v), want 1", before, err)
	}
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, nil, 23, 6*24*time.Hour)
	if got, want := dayEntryEvents(t, s), int64(len(all)); got != want {
		t.Fatalf("the days hold %d events, want %d", got, want)
	}

	// a prune through sealed days seals them again from their hours
	rest := pruneTo(t, s, all, next[700].Published)
	if n := openDayRows(t, s); n != 0 {
		t.Fatalf("%d user_days rows of days without a segment after the prune", n)
	}
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, rest, nil, 24, 6*24*time.Hour)
}

// checkUserQuery compares one users summary with the brute-force one.
func checkUserQuery(t *testing.T, s *Store, evs []event.Event, q UserQuery) {
	t.Helper()
	got, err := s.UserSummaries(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := bruteUserSummaries(evs, nil, q)
	if len(got) != len(want) {
		t.Fatalf("%+v: %d users, want %d", q, len(got), len(want))
	}
	for i := range got {
		if got[i].Actor != want[i].Actor || got[i].Events != want[i].Events || got[i].LastIP != want[i].LastIP {
			t.Fatalf("%+v: user %d is %+v, want %+v", q, i, got[i], want[i])
		}
	}
}

// TestDaysFromHoursMigration: a schema-16 store (the open day as
// user_days rows) migrates to 17 by dropping the rows of the days without
// a segment, in one transaction: a failed migration leaves a schema-16
// store that answers exactly, and the migrated store answers exactly
// before and after its next commits.
func TestDaysFromHoursMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v16.db", daysFromHoursVersion-1)
	evs := segEvents(0, 3000, t0.Add(5*time.Hour+77*time.Millisecond))
	for i := 0; i < len(evs); i += 500 {
		mustCommit(t, old, Batch{Events: evs[i:min(i+500, len(evs))]})
	}
	open := countRows(t, old, "user_days")
	if open == 0 {
		t.Fatal("schema 16 wrote no user_days rows for the open day")
	}
	// a migration that fails half way: rolled back whole
	if _, err := old.w.Exec(`CREATE TRIGGER no_delete BEFORE DELETE ON user_days BEGIN SELECT RAISE(ABORT, 'in the way'); END`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "migration 17") {
		t.Fatalf("the migration with a trigger in the way: %v, want an error naming migration 17", err)
	}
	back, err := openAt(ctx, path, Options{}, daysFromHoursVersion-1)
	if err != nil {
		t.Fatalf("the store after a failed migration: %v", err)
	}
	if v, _ := back.SchemaVersion(ctx); v != daysFromHoursVersion-1 {
		t.Fatalf("schema %d after a failed migration, want %d", v, daysFromHoursVersion-1)
	}
	if n := countRows(t, back, "user_days"); n != open {
		t.Fatalf("user_days has %d rows after a failed migration, want %d", n, open)
	}
	checkUserRanges(t, back, evs, nil, 31)
	if _, err := back.w.Exec("DROP TRIGGER no_delete"); err != nil {
		t.Fatal(err)
	}

	s := reopenLatest(t, back, path)
	if v, _ := s.SchemaVersion(ctx); v != LatestSchemaVersion() {
		t.Fatalf("schema %d, want %d", v, LatestSchemaVersion())
	}
	if n := countRows(t, s, "user_days"); n != 0 {
		t.Fatalf("user_days keeps %d rows of the open day after the migration", n)
	}
	checkUserRanges(t, s, evs, nil, 32)
	next := segEvents(5000, 1500, evs[len(evs)-1].Published)
	for i := 0; i < len(next); i += 500 {
		mustCommit(t, s, Batch{Events: next[i : i+500]})
	}
	all := append(append([]event.Event{}, evs...), next...)
	if n := openDayRows(t, s); n != 0 {
		t.Fatalf("%d user_days rows of days without a segment", n)
	}
	checkCoarseInvariant(t, s)
	checkUserRangesUpTo(t, s, all, nil, 33, 5*24*time.Hour)
}

// TestDaysFromHoursAtOpen: a closed day whose hours are all sealed but
// that has no day segment (a crash between the two seals; rows of such a
// day dropped by the migration) is read from its hours, and the next open
// seals it.
func TestDaysFromHoursAtOpen(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	evs := segEvents(0, 3000, t0.Add(5*time.Hour+77*time.Millisecond))
	for i := 0; i < len(evs); i += 500 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+500, len(evs))]})
	}
	first := floorTo(evs[0].Published.UnixMilli(), dayMS)
	if _, err := s.w.Exec("DELETE FROM user_segs WHERE span IN (?, ?, ?) AND bucket <= ?", dayMS, 2*dayMS, 4*dayMS, first); err != nil {
		t.Fatal(err)
	}
	checkUserRanges(t, s, evs, nil, 41)
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var n int64
	if err := s2.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span = ? AND bucket = ?", dayMS, first).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the first day has %d segments after the open (%v), want 1", n, err)
	}
	checkCoarseInvariant(t, s2)
	checkUserRanges(t, s2, evs, nil, 42)
}

// TestSegMergerEqualsMerges: folding segments with one segMerger gives
// the entries that merging them one MergeUserSegEntries at a time gives
// (counts, the newest-or-equal last-seen's IP and id), actors with a NUL
// or sharing a prefix with a country kept apart.
func TestSegMergerEqualsMerges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	actors := []string{"a@x", "a@x\x00", "a@xF", "b", ""}
	countries := []string{"", "F", "rance", "France"}
	var want []UserSegEntry
	m := newSegMerger()
	var scratch []byte
	for seg := range 12 {
		bucket := int64(1_700_000_000_000) + int64(seg)*hourMS
		var es []UserSegEntry
		seen := map[[2]string]bool{}
		for range 30 {
			k := [2]string{actors[rng.IntN(len(actors))], countries[rng.IntN(len(countries))]}
			if seen[k] {
				continue
			}
			seen[k] = true
			ev := 1 + int64(rng.IntN(4)) // segments and rows hold positive counts (Prune deletes the others)
			es = append(es, UserSegEntry{Actor: k[0], Country: k[1], ActorID: fmt.Sprint("id", rng.IntN(3)),
				LastIP: fmt.Sprint("10.0.0.", rng.IntN(3)), Events: ev, Failures: int64(rng.IntN(2)),
				LastSeen: bucket + int64(rng.IntN(3))})
		}
		if seg%3 == 2 { // rows: folded as they are
			m.add(es)
			want = MergeUserSegEntries(want, es)
			continue
		}
		data, err := EncodeUserSeg(bucket, append([]UserSegEntry{}, es...))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeUserSeg(bucket, data)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if scratch, n, err = m.addSeg(bucket, data, scratch); err != nil || n != len(es) {
			t.Fatalf("segment %d: %d entries (%v), want %d", seg, n, err, len(es))
		}
		want = MergeUserSegEntries(want, dec)
	}
	got := m.entries()
	sortEntries := func(es []UserSegEntry) {
		sort.Slice(es, func(i, j int) bool {
			if es[i].Actor != es[j].Actor {
				return es[i].Actor < es[j].Actor
			}
			return es[i].Country < es[j].Country
		})
	}
	sortEntries(got)
	sortEntries(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merger:\n got %+v\nwant %+v", got, want)
	}
	if _, _, err := m.addSeg(0, []byte{1, 2, 3}, nil); err == nil {
		t.Fatal("a damaged segment folded without an error")
	}
}
