package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// sixHourSegs encodes six hour segments from base of even actors among
// user000..user598 (each active in about 2 hours of 3, in one or two
// countries): the folds' tests' segments.
func sixHourSegs(t *testing.T, rng *rand.Rand, base int64) [][]byte {
	t.Helper()
	var segs [][]byte
	for h := range 6 {
		bucket := base + int64(h)*hourMS
		var es []UserSegEntry
		for u := range 300 {
			if rng.IntN(3) == 0 {
				continue // not active this hour
			}
			for c := range 1 + rng.IntN(2) {
				es = append(es, UserSegEntry{Actor: fmt.Sprintf("user%03d@example.com", u*2), Country: cities[(u+c)%len(cities)].country,
					ActorID: fmt.Sprintf("00u%d-%d", u, h), LastIP: fmt.Sprintf("10.0.%d.%d", u, h),
					Events: 1 + int64(rng.IntN(5)), Failures: int64(rng.IntN(3)), LastSeen: bucket + rng.Int64N(hourMS)})
			}
		}
		data, err := EncodeUserSeg(bucket, es)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, data)
	}
	return segs
}

// valuesRows are the rows of SQL VALUES tuples, closed with the test.
func valuesRows(t *testing.T, s *Store, vals []string) *sql.Rows {
	t.Helper()
	rows, err := s.r.QueryContext(context.Background(), "SELECT * FROM (VALUES "+strings.Join(vals, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rows.Close() })
	return rows
}

// TestUserAggKeepTop: narrowing the fold to the users that can rank by
// their alerts (UserAgg.KeepTop) gives the same first limit summaries as
// folding every user, field for field, with ties on the limit-th alert
// count, users with alerts and no activity, activity rows between
// segments and a search; with fewer users with alerts than the limit it
// does not narrow.
func TestUserAggKeepTop(t *testing.T) {
	s, _ := openTemp(t)
	rng := rand.New(rand.NewPCG(11, 12))
	base := int64(1_700_000_000_000)
	segs := sixHourSegs(t, rng, base)
	// activity rows of even actors (in segments) and odd ones (not), and
	// alerts: 1 to 4 per actor over 120 actors, odd ones among them
	var vals []string
	for i := range 60 {
		vals = append(vals, fmt.Sprintf("('user%03d@example.com', 'Peru', %d, '10.9.9.%d', '00ux%d', %d, %d)", rng.IntN(600), base+int64(i), i, i, 1+i%3, i%2))
	}
	type alertRow struct{ actor, id, sev string }
	var alerts []alertRow
	for i := range 120 {
		actor := fmt.Sprintf("user%03d@example.com", rng.IntN(600))
		for k := range 1 + rng.IntN(4) {
			alerts = append(alerts, alertRow{actor, fmt.Sprintf("00ua%d-%d", i, k), []string{"low", "high", "critical"}[(i+k)%3]})
		}
	}
	rowsOf := func(vals []string) *sql.Rows { return valuesRows(t, s, vals) }
	fold := func(search string, limit int, keep bool) ([]UserSummary, bool) {
		needle := asciiLower([]byte(search))
		var avals []string
		for _, a := range alerts { // the alerts query's LIKE
			if containsFold([]byte(a.actor), needle) {
				avals = append(avals, fmt.Sprintf("('%s', '%s', '%s', 1)", a.actor, a.id, a.sev))
			}
		}
		var rvals []string
		for _, v := range vals {
			if containsFold([]byte(v), needle) {
				rvals = append(rvals, v)
			}
		}
		g := NewUserAgg()
		if len(avals) > 0 {
			if err := g.ScanAlerts(rowsOf(avals)); err != nil {
				t.Fatal(err)
			}
		}
		narrowed := keep && g.KeepTop(limit)
		for h := len(segs) - 1; h >= 0; h-- {
			if err := g.AddSegment(base+int64(h)*hourMS, segs[h], search); err != nil {
				t.Fatal(err)
			}
			if h == 3 && len(rvals) > 0 {
				if err := g.ScanActivity(rowsOf(rvals)); err != nil {
					t.Fatal(err)
				}
			}
		}
		return g.Ranked(limit), narrowed
	}
	narrowed := 0
	for _, search := range []string{"", "USER01", "9@"} {
		for _, limit := range []int{1, 5, 10, 30, 60, 100, 10000} {
			want, _ := fold(search, limit, false)
			got, nar := fold(search, limit, true)
			if nar {
				narrowed++
			}
			if limit == 10000 && nar {
				t.Fatalf("search %q: narrowed to %d with fewer users with alerts", search, limit)
			}
			if len(want) == 0 {
				t.Fatalf("search %q limit %d: no users", search, limit)
			}
			if !reflect.DeepEqual(got, want) {
				for i := range min(len(got), len(want)) {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("search %q limit %d (narrowed %v): user %d differs:\n got %+v\nwant %+v", search, limit, nar, i, got[i], want[i])
					}
				}
				t.Fatalf("search %q limit %d: %d users, want %d", search, limit, len(got), len(want))
			}
		}
	}
	if narrowed < 8 {
		t.Fatalf("KeepTop narrowed %d folds, want most with limit ≤ 60", narrowed)
	}
	// after activity it must not narrow (users without alerts are in)
	g := NewUserAgg()
	if err := g.AddSegment(base, segs[0], ""); err != nil {
		t.Fatal(err)
	}
	if g.KeepTop(1) {
		t.Fatal("KeepTop narrowed after activity")
	}
}
