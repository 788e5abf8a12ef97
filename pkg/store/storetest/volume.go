package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// testVolume checks CountVolume (Explore's logs volume) against a
// brute-force count of what QueryEvents returns for the same filters:
// every filter alone and combined, intervals that do and do not divide
// the range, ends on an event, inside a bucket and on a bucket's edge,
// empty ranges, levels in mixed case, and another org's identical events
// in the same database, which are never counted.
func testVolume(t *testing.T, newDB NewDB) {
	open := newDB(t)
	s, other := open(OrgA), open(OrgB)
	t0 := T0().Add(-4 * time.Hour)
	evs := Events("a", 0, 400, t0.Add(-13*time.Second), 37*time.Second)
	sevs := []string{"INFO", "INFO", "WARN", "INFO", "ERROR", "", "info", "DEBUG", "INFO", "warn", "INFO"}
	for i := range evs {
		evs[i].Severity = sevs[i%len(sevs)]
	}
	for i := 0; i < len(evs); i += 100 {
		commit(t, s, store.Batch{Events: evs[i : i+100]})
	}
	// the same events (uuids, actors, times) in org B, and more of them
	commit(t, other, store.Batch{Events: evs[:100]})
	commit(t, other, store.Batch{Events: Events("a", 400, 50, t0, time.Second)})

	brute := func(q store.VolumeQuery) []store.VolumePoint {
		t.Helper()
		eq := q.EventQuery
		eq.Limit, eq.NoRaw = 1000, true
		rows, err := s.QueryEvents(bg, eq)
		if err != nil {
			t.Fatalf("QueryEvents(%+v): %v", eq, err)
		}
		if len(rows) == eq.Limit {
			t.Fatal("the brute-force count needs a larger limit")
		}
		iv := q.Interval.Milliseconds()
		type key struct {
			t   int64
			lvl string
		}
		counts := map[key]int64{}
		for _, r := range rows {
			counts[key{store.FloorTo(r.Published.UnixMilli(), iv), strings.ToLower(r.Severity)}]++
		}
		out := []store.VolumePoint{}
		for k, n := range counts {
			out = append(out, store.VolumePoint{Time: time.UnixMilli(k.t).UTC(), Level: k.lvl, Count: n})
		}
		sortVolume(out)
		return out
	}
	actor, ip, sess := evs[3].Actor.AlternateID, evs[8].Client.IPAddress, evs[4].Auth.ExternalSessionID
	filters := []store.EventQuery{
		{},
		{Actor: actor},
		{EventTypePrefix: "user.session."},
		{EventTypePrefix: "user.session.start"},
		{Outcome: "failure"},
		{IP: ip},
		{Country: "Japan"},
		{SessionID: sess},
		{Text: "message 12"},
		{Text: "SESSION.START"},
		{Text: "100%"},
		{Exclude: []store.Exclusion{{Field: "actor", Value: actor}}},
		{Exclude: []store.Exclusion{{Field: "eventType", Value: evs[5].EventType}, {Field: "outcome", Value: "failure"}}},
		{EventTypePrefix: "user.", Outcome: "FAILURE", Country: "United Kingdom"},
		{Actor: actor, Text: "user.session", Exclude: []store.Exclusion{{Field: "country", Value: "Japan"}}},
		{EventTypePrefix: "user.", Exclude: []store.Exclusion{{Field: "ip", Value: ip}, {Field: "sessionId", Value: sess}}},
		{Outcome: "SUCCESS", SessionID: sess, IP: evs[4].Client.IPAddress},
		{Actor: "nobody@example.com"},
	}
	last := evs[len(evs)-1].Published
	ranges := []struct {
		name     string
		from, to time.Time
	}{
		{"all", t0.Add(-time.Hour), last.Add(time.Hour)},
		{"ends on events", evs[10].Published, evs[250].Published},
		{"inside buckets", evs[10].Published.Add(5 * time.Second), evs[250].Published.Add(-time.Millisecond)},
		{"hour edges", t0, t0.Add(2*time.Hour - time.Millisecond)},
		{"one instant", evs[77].Published, evs[77].Published},
		{"empty before", t0.Add(-48 * time.Hour), t0.Add(-47 * time.Hour)},
		{"empty between", evs[20].Published.Add(time.Millisecond), evs[21].Published.Add(-time.Millisecond)},
	}
	intervals := []time.Duration{3 * time.Second, 37 * time.Second, time.Minute, 7 * time.Minute, time.Hour, 24 * time.Hour}
	cases := 0
	for _, r := range ranges {
		for _, iv := range intervals {
			for fi, f := range filters {
				if iv == 3*time.Second && fi > 2 {
					continue // 3 s buckets: a few filters are enough
				}
				f.From, f.To = r.from, r.to
				q := store.VolumeQuery{EventQuery: f, Interval: iv}
				got, err := s.CountVolume(bg, q)
				if err != nil {
					t.Fatalf("%s, %s, filter %d: %v", r.name, iv, fi, err)
				}
				if want := brute(q); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s, %s, filter %d (%+v):\n got %s\nwant %s", r.name, iv, fi, f, fmtVolume(got), fmtVolume(want))
				}
				cases++
			}
		}
	}
	// The whole volume by hand: 400 events, every level, no other org's.
	all, err := s.CountVolume(bg, store.VolumeQuery{EventQuery: store.EventQuery{From: t0.Add(-time.Hour), To: last}, Interval: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	perLevel := map[string]int64{}
	for _, p := range all {
		perLevel[p.Level] += p.Count
	}
	// sevs repeats 36 times and 4 more: info (INFO, info) 6 of 11, warn 2, one each of the others
	if want := map[string]int64{"info": 36*6 + 3, "warn": 36*2 + 1, "error": 36, "": 36, "debug": 36}; !reflect.DeepEqual(perLevel, want) {
		t.Fatalf("levels %v, want %v", perLevel, want)
	}
	// Org B sees its own 150 events only.
	bv, err := other.CountVolume(bg, store.VolumeQuery{EventQuery: store.EventQuery{From: t0.Add(-time.Hour), To: last}, Interval: 24 * time.Hour})
	var bn int64
	for _, p := range bv {
		bn += p.Count
	}
	if err != nil || bn != 150 {
		t.Fatalf("org B's volume: %d events, %v; want its 150", bn, err)
	}
	t.Logf("%d volume queries matched the brute-force count", cases)

	// After a prune (SQLite: the events before the time; PostgreSQL: the
	// whole days before it) and more commits into the same minutes, the
	// volume without a filter (read from the per-minute counts where a
	// backend keeps them) still counts exactly what is stored.
	if _, err := s.Prune(bg, evs[200].Published.Add(17*time.Second)); err != nil {
		t.Fatal(err)
	}
	more := Events("a", 1000, 60, evs[300].Published.Add(time.Second), 11*time.Second)
	for i := range more {
		more[i].Severity = sevs[(i+3)%len(sevs)]
	}
	commit(t, s, store.Batch{Events: more})
	for _, iv := range []time.Duration{time.Minute, 7 * time.Minute, time.Hour} {
		for _, r := range ranges[:4] {
			q := store.VolumeQuery{EventQuery: store.EventQuery{From: r.from, To: r.to}, Interval: iv}
			got, err := s.CountVolume(bg, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := brute(q); !reflect.DeepEqual(got, want) {
				t.Fatalf("after prune, %s, %s:\n got %s\nwant %s", r.name, iv, fmtVolume(got), fmtVolume(want))
			}
		}
	}

	// Bad queries are refused with ErrInvalidQuery.
	for name, q := range map[string]store.VolumeQuery{
		"no from":      {EventQuery: store.EventQuery{To: t0}, Interval: time.Minute},
		"no to":        {EventQuery: store.EventQuery{From: t0}, Interval: time.Minute},
		"from after":   {EventQuery: store.EventQuery{From: t0, To: t0.Add(-time.Second)}, Interval: time.Minute},
		"no interval":  {EventQuery: store.EventQuery{From: t0, To: t0.Add(time.Hour)}},
		"sub-ms":       {EventQuery: store.EventQuery{From: t0, To: t0.Add(time.Hour)}, Interval: time.Microsecond},
		"many buckets": {EventQuery: store.EventQuery{From: t0.Add(-30 * 24 * time.Hour), To: t0}, Interval: time.Second},
		"bad field":    {EventQuery: store.EventQuery{From: t0, To: t0.Add(time.Hour), Exclude: []store.Exclusion{{Field: "raw", Value: "x"}}}, Interval: time.Minute},
	} {
		if _, err := s.CountVolume(bg, q); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("%s: %v, want ErrInvalidQuery", name, err)
		}
	}
}

func sortVolume(ps []store.VolumePoint) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && (ps[j].Time.Before(ps[j-1].Time) || ps[j].Time.Equal(ps[j-1].Time) && ps[j].Level < ps[j-1].Level); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func fmtVolume(ps []store.VolumePoint) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, " %s/%q=%d", p.Time.Format("15:04:05.000"), p.Level, p.Count)
	}
	return b.String()
}
