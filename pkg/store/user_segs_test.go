package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// sealedUserEvents sums the events of the sealed segments of a per-actor
// roll-up (0 for another table).
func sealedUserEvents(t *testing.T, s *Store, table string) int64 {
	t.Helper()
	var sum int64
	for _, ut := range userTables {
		if ut.table == table {
			sum += segmentEvents(t, s, "SELECT bucket, data FROM user_segs WHERE span = ?", ut.span)
		}
	}
	return sum
}

// segmentEvents sums the events of the segments a query lists as
// (bucket, data).
func segmentEvents(t *testing.T, s *Store, query string, args ...any) int64 {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sum int64
	for rows.Next() {
		var b int64
		var data []byte
		if err := rows.Scan(&b, &data); err != nil {
			t.Fatal(err)
		}
		es, err := DecodeUserSeg(b, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			sum += e.Events
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}

// segEvents are n events over ~4 days from start, minutes apart at
// irregular milliseconds, from 200 actors in several countries.
func segEvents(first, n int, start time.Time) []event.Event {
	evs := make([]event.Event, n)
	at := start
	for i := range evs {
		at = at.Add(time.Duration(60+(i*7919)%53)*time.Second + time.Duration(i%997)*time.Millisecond)
		evs[i] = mkEventNoRaw(first+i, at)
	}
	return evs
}

// checkUserRanges compares UserSummaries with the brute-force summary of
// evs and alerts over random ranges (unaligned edges to the millisecond,
// from minutes to days), whole days and hours, open ranges and searches.
func checkUserRanges(t *testing.T, s *Store, evs []event.Event, alerts []alert.Alert, seed uint64) {
	t.Helper()
	checkUserRangesUpTo(t, s, evs, alerts, seed, 3*24*time.Hour)
}

// checkUserRangesUpTo is checkUserRanges with ranges up to maxLen long.
func checkUserRangesUpTo(t *testing.T, s *Store, evs []event.Event, alerts []alert.Alert, seed uint64, maxLen time.Duration) {
	t.Helper()
	checkUserRangesN(t, s, evs, alerts, seed, maxLen, 40)
}

// checkUserRangesN is checkUserRangesUpTo with n random ranges.
func checkUserRangesN(t *testing.T, s *Store, evs []event.Event, alerts []alert.Alert, seed uint64, maxLen time.Duration, n int) {
	t.Helper()
	ctx := context.Background()
	first, last := evs[0].Published, evs[0].Published
	for i := range evs {
		if evs[i].Published.Before(first) {
			first = evs[i].Published
		}
		if evs[i].Published.After(last) {
			last = evs[i].Published
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	span := last.Sub(first) + 2*time.Hour
	qs := []UserQuery{{Limit: 1000}, {Search: "USER01", Limit: 1000}, {Limit: 5}}
	if days := (UserQuery{From: first.Truncate(24 * time.Hour).Add(24 * time.Hour), To: last.Truncate(24 * time.Hour).Add(-time.Millisecond), Limit: 1000}); days.From.Before(days.To) {
		qs = append(qs, days)
	}
	for range n {
		from := first.Add(-time.Hour + time.Duration(rng.Int64N(int64(span))))
		from = from.Truncate(time.Millisecond)
		to := from.Add(time.Duration(rng.Int64N(int64(maxLen))))
		switch rng.IntN(4) {
		case 0: // whole hours
			from, to = from.Truncate(time.Hour), to.Truncate(time.Hour).Add(-time.Millisecond)
		case 1: // an edge on an event
			from = evs[rng.IntN(len(evs))].Published
		}
		if to.Before(from) {
			to = from
		}
		q := UserQuery{From: from, To: to, Limit: 1000}
		if rng.IntN(5) == 0 {
			q.Search = fmt.Sprintf("r%02d", rng.IntN(20))
		}
		qs = append(qs, q)
	}
	for _, q := range qs {
		got, err := s.UserSummaries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteUserSummaries(evs, alerts, q)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%+v: %d users, want %d; first difference at %d:\n got %+v\nwant %+v", q, len(got), len(want), i, got[i], want[i])
				}
			}
			t.Fatalf("%+v: %d users, want %d", q, len(got), len(want))
		}
	}
}

// TestUserSegmentsExact: with closed buckets sealed as pages arrive, late
// events added to sealed buckets (rows beside a segment, then merged) and
// a prune through sealed buckets, the users summary equals the
// brute-force one over random ranges.
func TestUserSegmentsExact(t *testing.T) {
	s, _ := openTemp(t)
	evs := segEvents(0, 5000, t0.Add(7*time.Hour+123*time.Millisecond))
	for i := 0; i < len(evs); i += 400 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+400, len(evs))]})
	}
	alerts := []alert.Alert{
		mkAlert("a1", "failed_logins", "medium", evs[100].Published, evs[100].Actor.AlternateID, evs[100].UUID),
		mkAlert("a2", "password_spray", "high", evs[2000].Published, evs[2000].Actor.AlternateID),
		mkAlert("a3", "anonymous_ip", "info", evs[4000].Published, "ghost@example.com"),
	}
	mustCommit(t, s, Batch{Alerts: alerts})
	segs := countRows(t, s, "user_segs")
	if segs < 80 { // ~4 days: 3 closed days and ~90 closed hours
		t.Fatalf("%d sealed segments after ingest, want every closed bucket (> 80)", segs)
	}
	var newestHour int64
	s.r.QueryRow("SELECT MAX(bucket) FROM user_hours").Scan(&newestHour)
	if n := countRows(t, s, "user_hours"); n == 0 || n > 200 {
		t.Fatalf("%d user_hours rows left, want only the newest hour's", n)
	}
	checkUserRanges(t, s, evs, alerts, 1)

	// late events: into sealed buckets of every day
	late := segEvents(20000, 300, evs[0].Published.Add(-30*time.Minute))
	for i := range late {
		late[i].Published = evs[(i*16)%len(evs)].Published.Add(-time.Duration(i) * time.Millisecond)
	}
	mustCommit(t, s, Batch{Events: late})
	all := append(append([]event.Event{}, evs...), late...)
	checkUserRanges(t, s, all, alerts, 2)
	// the next page seals what the late page left as rows
	mustCommit(t, s, Batch{Events: segEvents(30000, 50, evs[len(evs)-1].Published)})
	all = append(all, segEvents(30000, 50, evs[len(evs)-1].Published)...)
	checkUserRanges(t, s, all, alerts, 3)

	// prune through sealed buckets: the rest stays exact
	cut := evs[2345].Published
	rest := pruneTo(t, s, all, cut)
	checkUserRanges(t, s, rest, alerts, 4)
	checkNoPrunedSegments(t, s, cut)
}

// TestUserSegmentsMigration: a store built at schema 11 (rows only) is
// sealed by migration 12 at open, one bucket per transaction: stopped
// after three buckets it answers exactly (segments and rows together),
// and the next open finishes the job.
func TestUserSegmentsMigration(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "v11.db", userSegsVersion-1)
	evs := segEvents(0, 3000, t0.Add(5*time.Hour+77*time.Millisecond))
	for i := 0; i < len(evs); i += 500 {
		mustCommit(t, old, Batch{Events: evs[i:min(i+500, len(evs))]})
	}
	alerts := []alert.Alert{mkAlert("a1", "failed_logins", "medium", evs[10].Published, evs[10].Actor.AlternateID)}
	mustCommit(t, old, Batch{Alerts: alerts})
	hours := countRows(t, old, "user_hours")
	old.Close()

	half, err := OpenWithOptions(ctx, path, Options{sealLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var n int64 // base segments (sealing them may build coarse ones too: user_coarse.go)
	if err := half.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE span IN (?, ?)", dayMS, hourMS).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d base segments after a seal stopped at 3 (%v)", n, err)
	}
	checkUserRanges(t, half, evs, alerts, 5)
	half.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ut := range userTables {
		var buckets int64
		s.r.QueryRow("SELECT COUNT(DISTINCT bucket) FROM " + ut.table).Scan(&buckets)
		want := int64(1) // the newest only
		if ut.span == dayMS {
			want = 0 // schema 17: the open day is read from its hours (user_days.go)
		}
		if buckets != want {
			t.Fatalf("%s keeps %d buckets as rows after the migration, want %d", ut.table, buckets, want)
		}
	}
	if n := countRows(t, s, "user_hours"); n >= hours {
		t.Fatalf("user_hours still has %d of %d rows", n, hours)
	}
	checkUserRanges(t, s, evs, alerts, 6)
}

// TestUserSegCodec: entries survive encoding (sorted, merged like the
// upserts), and damaged data is an error, never a panic.
func TestUserSegCodec(t *testing.T) {
	b := int64(1_700_000_000_000)
	in := []UserSegEntry{
		{Actor: "b@x", Country: "France", ActorID: "00u2", LastIP: "10.0.0.2", Events: 3, Failures: 1, LastSeen: b + 5},
		{Actor: "a@x", Country: "", ActorID: "00u1", LastIP: "", Events: 1, LastSeen: b},
	}
	data, err := EncodeUserSeg(b, append([]UserSegEntry{}, in...))
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeUserSeg(b, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := []UserSegEntry{in[1], in[0]}; !reflect.DeepEqual(out, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, want)
	}
	merged := MergeUserSegEntries(out, []UserSegEntry{
		{Actor: "b@x", Country: "France", ActorID: "00u2b", LastIP: "10.0.0.9", Events: 2, LastSeen: b + 5},
		{Actor: "a@x", Country: "", Events: -1, LastSeen: b - 1}, // a prune emptied it
	})
	if len(merged) != 1 || merged[0].Events != 5 || merged[0].Failures != 1 || merged[0].LastIP != "10.0.0.9" || merged[0].ActorID != "00u2b" {
		t.Fatalf("merge: %+v", merged)
	}
	plain, _, _ := userSegCodec()
	for _, bad := range [][]byte{nil, {1, 2, 3}, data[:len(data)/2], plain.EncodeAll([]byte{9, 1}, nil),
		plain.EncodeAll([]byte{userSegVersion, 5, 200}, nil), plain.EncodeAll([]byte{userSegVersion, 0, 1}, nil)} {
		if _, err := DecodeUserSeg(b, bad); err == nil {
			t.Fatalf("%x decoded without an error", bad)
		}
	}
}

// BenchmarkUserAggSegment folds 24 hour segments of 10 000 entries each
// (the 10 M store's density: a day of edges) into a UserAgg and ranks it.
func BenchmarkUserAggSegment(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := int64(1_700_000_000_000)
	var segs [][]byte
	entries := 0
	for h := range 24 {
		bucket := base + int64(h)*hourMS
		seen := map[int]bool{}
		var es []UserSegEntry
		for len(es) < 10000 {
			u := rng.IntN(benchUsers)
			if seen[u] {
				continue
			}
			seen[u] = true
			es = append(es, UserSegEntry{Actor: fmt.Sprintf("user%05d@example.com", u), Country: cities[u%len(cities)].country,
				ActorID: fmt.Sprintf("00u%07d", u), LastIP: fmt.Sprintf("10.%d.%d.%d", u/250, u%250, rng.IntN(4)),
				Events: 1 + int64(rng.IntN(3)), Failures: int64(rng.IntN(20) / 19), LastSeen: bucket + rng.Int64N(hourMS)})
		}
		data, err := EncodeUserSeg(bucket, es)
		if err != nil {
			b.Fatal(err)
		}
		segs = append(segs, data)
		entries += len(es)
	}
	// walk: the sorted walk; map: a map look-up per entry (the fold before)
	for _, c := range []struct {
		name  string
		byMap bool
	}{{"walk", false}, {"map", true}} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpumeter.Process()
			for range b.N {
				g := NewUserAgg()
				g.byMap = c.byMap
				for h := len(segs) - 1; h >= 0; h-- {
					if err := g.AddSegment(base+int64(h)*hourMS, segs[h], ""); err != nil {
						b.Fatal(err)
					}
				}
				if len(g.Ranked(100)) != 100 {
					b.Fatal("short")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*entries), "ns/entry")
			b.ReportMetric(float64((cpumeter.Process()-cpu0).Nanoseconds())/float64(b.N*entries), "cpu-ns/entry")
		})
	}
}

// TestUserSegmentsPruneChunks: a prune of more than one chunk leaves the
// buckets the full chunks unsealed as rows and the last chunk seals them
// again; the summary stays exact.
func TestUserSegmentsPruneChunks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	evs := make([]event.Event, pruneChunk+1500)
	for i := range evs {
		evs[i] = mkEventNoRaw(i, t0.Add(time.Duration(i)*9*time.Second+time.Duration(i%997)*time.Millisecond))
	}
	for i := 0; i < len(evs); i += 1000 {
		mustCommit(t, s, Batch{Events: evs[i:min(i+1000, len(evs))]})
	}
	cut := evs[pruneChunk+700].Published
	n, err := s.Prune(ctx, cut)
	if err != nil || n != int64(pruneChunk+700) {
		t.Fatalf("pruned %d, %v; want %d", n, err, pruneChunk+700)
	}
	checkUserRanges(t, s, evs[pruneChunk+700:], nil, 8)
	for _, ut := range userTables {
		var newest, below int64
		s.r.QueryRow("SELECT MAX(bucket) FROM " + ut.table).Scan(&newest)
		s.r.QueryRow("SELECT COUNT(*) FROM "+ut.table+" WHERE bucket < ?", newest).Scan(&below)
		if below != 0 {
			t.Fatalf("%s: %d rows of closed buckets left unsealed after the prune", ut.table, below)
		}
	}
}

// pruneTo prunes s before cut and returns the events of all that remain.
func pruneTo(t *testing.T, s *Store, all []event.Event, cut time.Time) []event.Event {
	t.Helper()
	if _, err := s.Prune(context.Background(), cut); err != nil {
		t.Fatal(err)
	}
	var rest []event.Event
	for _, e := range all {
		if !e.Published.Before(cut) {
			rest = append(rest, e)
		}
	}
	return rest
}

// checkNoPrunedSegments fails when a segment of a bucket wholly before cut is left.
func checkNoPrunedSegments(t *testing.T, s *Store, cut time.Time) {
	t.Helper()
	var old int64
	if err := s.r.QueryRow("SELECT COUNT(*) FROM user_segs WHERE bucket + span <= ?", cut.UnixMilli()).Scan(&old); err != nil || old != 0 {
		t.Fatalf("%d segments of pruned buckets left (%v)", old, err)
	}
}

// TestUserAggSortedWalk: folding segments by walking the users sorted by
// actor gives the same summaries as a map look-up per entry, with users
// added between segments by activity rows and alerts (which come in any
// order and must be merged into the walk's order), segments that share
// some actors and not others, and a search filter.
func TestUserAggSortedWalk(t *testing.T) {
	s, _ := openTemp(t)
	rng := rand.New(rand.NewPCG(7, 8))
	base := int64(1_700_000_000_000)
	segs := sixHourSegs(t, rng, base)
	// activity rows and alerts: odd actors (absent from every segment,
	// sorting between them), some even ones, and one before and one after
	// all of them
	var vals, avals []string
	for i := range 40 {
		u := rng.IntN(600)
		vals = append(vals, fmt.Sprintf("('user%03d@example.com', 'Peru', %d, '10.9.9.%d', '00ux%d', %d, %d)", u, base+int64(i), i, i, 1+i%3, i%2))
		avals = append(avals, fmt.Sprintf("('user%03d@example.com', '00ua%d', '%s', 1)", rng.IntN(600), i, []string{"low", "high", "critical"}[i%3]))
	}
	vals = append(vals, "('aaa@example.com', 'Chile', 5, '10.1.1.1', '00uaaa', 2, 1)", "('zzz@example.com', 'Chile', 6, '10.1.1.2', '00uzzz', 1, 0)")
	fold := func(byMap bool, search string) []UserSummary {
		g := NewUserAgg()
		g.byMap = byMap
		for h := len(segs) - 1; h >= 0; h-- {
			if err := g.AddSegment(base+int64(h)*hourMS, segs[h], search); err != nil {
				t.Fatal(err)
			}
			var err error
			switch h {
			case 4: // rows after the newest segments, as the open buckets are
				err = g.ScanActivity(valuesRows(t, s, vals))
			case 2:
				err = g.ScanAlerts(valuesRows(t, s, avals))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return g.Ranked(10000)
	}
	for _, search := range []string{"", "USER01", "9@"} {
		walk, byMap := fold(false, search), fold(true, search)
		if len(walk) < 50 {
			t.Fatalf("search %q: %d users, want many", search, len(walk))
		}
		if !reflect.DeepEqual(walk, byMap) {
			for i := range min(len(walk), len(byMap)) {
				if !reflect.DeepEqual(walk[i], byMap[i]) {
					t.Fatalf("search %q: user %d differs:\nwalk %+v\nmap  %+v", search, i, walk[i], byMap[i])
				}
			}
			t.Fatalf("search %q: %d users by the walk, %d by the map", search, len(walk), len(byMap))
		}
	}
}
