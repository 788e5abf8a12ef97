package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// fixture: 3000 events over ~3 days at irregular, sub-second times, so that
// ranges cut through minutes and hours; alerts on a few actors.
func fixture(t *testing.T) (*Store, []event.Event) {
	t.Helper()
	s, _ := openTemp(t)
	evs := make([]event.Event, 3000)
	at := t0.Add(123 * time.Millisecond)
	for i := range evs {
		at = at.Add(time.Duration(37+(i*7919)%113)*time.Second + time.Duration(i%997)*time.Millisecond)
		evs[i] = mkEvent(i, at)
	}
	evs[5].Client.Geo = event.Geo{} // no location
	evs[5].IPChain = nil
	evs[5].Raw = rawFor(&evs[5])
	for start := 0; start < len(evs); start += 700 {
		mustCommit(t, s, Batch{Events: evs[start:min(start+700, len(evs))]})
	}
	alerts := []detectAlert{
		mkAlert("a1", "failed_logins", "medium", evs[100].Published, evs[100].Actor.AlternateID, evs[100].UUID),
		mkAlert("a2", "password_spray", "high", evs[200].Published, evs[200].Actor.AlternateID, evs[200].UUID, evs[201].UUID),
		mkAlert("a3", "failed_logins", "low", evs[300].Published, evs[100].Actor.AlternateID),
		mkAlert("a4", "impossible_travel", "critical", evs[2950].Published, evs[2950].Actor.AlternateID, evs[2950].UUID),
	}
	mustCommit(t, s, Batch{Alerts: alerts})
	return s, evs
}

func TestQueryEvents(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	from, to := evs[1000].Published, evs[2000].Published
	match := func(q EventQuery, ev *event.Event) bool {
		c := columnsOf(ev)
		if (!q.From.IsZero() && ev.Published.Before(q.From)) || (!q.To.IsZero() && ev.Published.After(q.To)) {
			return false
		}
		if q.Actor != "" && ev.Actor.AlternateID != q.Actor ||
			q.EventTypePrefix != "" && !strings.HasPrefix(ev.EventType, q.EventTypePrefix) ||
			q.Outcome != "" && !strings.EqualFold(ev.Outcome.Result, q.Outcome) ||
			q.IP != "" && c.ip != q.IP || q.Country != "" && c.country != q.Country ||
			q.SessionID != "" && c.session != q.SessionID {
			return false
		}
		if q.Text != "" {
			l := strings.ToLower(q.Text)
			found := false
			for _, f := range []string{ev.DisplayMessage, ev.Actor.AlternateID, ev.EventType, c.target, c.ip} {
				if strings.Contains(strings.ToLower(f), l) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	cases := []EventQuery{
		{From: from, To: to, Limit: 5000},
		{From: from, To: to, Limit: 10},
		{Limit: 50000},
		{From: from, Limit: 50000, Actor: "user007@example.com"},
		{To: to, Limit: 50000, EventTypePrefix: "user.authentication."},
		{From: from, To: to, Limit: 50000, EventTypePrefix: "user.session.start"},
		{From: from, To: to, Limit: 50000, Outcome: "failure"},
		{Limit: 50000, IP: evs[42].Client.IPAddress},
		{From: from, To: to, Limit: 50000, Country: "Japan", Outcome: "SUCCESS"},
		{Limit: 50000, SessionID: evs[1234].Auth.ExternalSessionID},
		{From: from, To: to, Limit: 50000, Text: "USER012@"},
		{Limit: 50000, Text: "100%_"}, // LIKE metacharacters are literal: no match
		{From: from, To: to, Limit: 50000, Actor: "nobody@example.com"},
		// type prefix + rare outcome: the partial index events_outcome_type
		{From: from, To: to, Limit: 50000, EventTypePrefix: "user.", Outcome: "failure"},
		{From: from, To: to, Limit: 7, EventTypePrefix: "user.", Outcome: "FAILURE"},
		{From: from, To: to, Limit: 7, EventTypePrefix: "user.", Outcome: "FAILURE", Oldest: true},
		{Limit: 50000, EventTypePrefix: "user.session.start", Outcome: "FAILURE", NoRaw: true},
		// entity filters read their hour-first indexes hour by hour
		// (entity_hours.go): small limits cut the walk inside an hour, in
		// both orders, on open and bounded ranges
		{From: from, To: to, Limit: 3, Actor: "user007@example.com"},
		{Limit: 4, Actor: "user007@example.com", Oldest: true},
		{From: from, Limit: 2, IP: evs[1042].Client.IPAddress, Oldest: true},
		{To: to, Limit: 5, SessionID: evs[1234].Auth.ExternalSessionID},
		{From: evs[1500].Published, To: evs[1500].Published, Limit: 10, Actor: evs[1500].Actor.AlternateID},
		{From: from, To: to, Limit: 3, Actor: "user003@example.com", EventTypePrefix: "user.", Outcome: "FAILURE"},
		{Limit: 50000, Actor: evs[42].Actor.AlternateID, IP: evs[42].Client.IPAddress, Country: evs[42].Client.Geo.Country},
	}
	for i, q := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := s.QueryEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var want []*event.Event
			for j := len(evs) - 1; j >= 0; j-- {
				if match(q, &evs[j]) {
					want = append(want, &evs[j])
				}
			}
			if q.Oldest {
				slices.Reverse(want)
			}
			if len(want) > q.Limit {
				want = want[:q.Limit]
			}
			if len(got) != len(want) {
				t.Fatalf("%+v: %d rows, want %d", q, len(got), len(want))
			}
			for j := range got {
				if got[j].UUID != want[j].UUID {
					t.Fatalf("row %d = %s, want %s (newest first)", j, got[j].UUID, want[j].UUID)
				}
			}
		})
	}
	// the row carries the normalized columns and raw JSON
	rows, err := s.QueryEvents(ctx, EventQuery{IP: evs[77].Client.IPAddress, Limit: 1})
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows = %v, %v", rows, err)
	}
	r, e := rows[0], evs[77]
	if r.UUID != e.UUID || !r.Published.Equal(e.Published.Truncate(time.Millisecond)) || r.EventType != e.EventType ||
		r.Actor != e.Actor.AlternateID || r.ActorID != e.Actor.ID || r.Outcome != e.Outcome.Result || r.City != e.Client.Geo.City ||
		r.Country != e.Client.Geo.Country || !r.HasGeo || r.Lat != e.Client.Geo.Lat || r.SessionID != e.Auth.ExternalSessionID ||
		r.DisplayMessage != e.DisplayMessage || r.Target != "Salesforce" || string(r.Raw) != string(e.Raw) {
		t.Fatalf("row = %+v\nevent = %+v", r, e)
	}
	noGeo, _, _ := s.GetEvent(ctx, evs[5].UUID)
	if noGeo.HasGeo {
		t.Fatal("event without location reported HasGeo")
	}
	if _, ok, err := s.GetEvent(ctx, "nope"); ok || err != nil {
		t.Fatalf("GetEvent(nope) = %v, %v", ok, err)
	}
	noRaw, _ := s.QueryEvents(ctx, EventQuery{Limit: 3, NoRaw: true})
	if len(noRaw) != 3 || noRaw[0].Raw != nil {
		t.Fatal("NoRaw still returned raw JSON")
	}
}

// TestEventFiltersUseTheirIndexes: the drill-down filters (a session, an
// actor, an IP) read their own hour-first index (schema 16,
// entity_hours.go), one seek per hour of the range, in the order asked
// (no sort: a LIMIT stops the walk), with and without the planner's
// statistics, on an open range as on a bounded one.
func TestEventFiltersUseTheirIndexes(t *testing.T) {
	s, evs := fixture(t)
	mid := evs[len(evs)/2].Published
	type tc struct {
		q     EventQuery
		index string
	}
	var cases []tc
	for _, oldest := range []bool{false, true} {
		for _, r := range [][2]time.Time{{}, {mid.Add(-24 * time.Hour), mid}} {
			cases = append(cases,
				tc{EventQuery{SessionID: evs[1234].Auth.ExternalSessionID, Limit: 100, Oldest: oldest, From: r[0], To: r[1]}, "events_session_hour"},
				tc{EventQuery{Actor: evs[10].Actor.AlternateID, Limit: 100, Oldest: oldest, From: r[0], To: r[1]}, "events_actor_hour"},
				tc{EventQuery{IP: evs[10].Client.IPAddress, Limit: 100, NoRaw: true, Oldest: oldest, From: r[0], To: r[1]}, "events_ip_hour"})
		}
	}
	check := func(stage string) {
		for _, c := range cases {
			c.q.hours = s.entityHours
			lo, hi, err := bounds(c.q.From, c.q.To)
			if err != nil {
				t.Fatal(err)
			}
			plan := queryPlan(t, s, c.q, lo, hi)
			if !strings.Contains(plan, "INDEX "+c.index+" (<expr>=? AND ") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%s: %+v: plan %q does not seek %s by hour, or sorts", stage, c.q, plan, c.index)
			}
		}
	}
	check("no statistics")
	if _, err := s.w.Exec("ANALYZE"); err != nil {
		t.Fatal(err)
	}
	check("after ANALYZE")
}

// queryPlan is EXPLAIN QUERY PLAN of QueryEvents' statement for q.
func queryPlan(t *testing.T, s *Store, q EventQuery, lo, hi int64) string {
	t.Helper()
	query, args := q.sql(lo, hi)
	return explainPlan(t, s, query, args)
}

// explainPlan is the EXPLAIN QUERY PLAN of query, its steps joined by "; ".
func explainPlan(t *testing.T, s *Store, query string, args []any) string {
	t.Helper()
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// TestEventTypeOutcomeUsesItsIndex: an event-type prefix with a failure
// outcome reads the partial index events_outcome_type, never a walk of
// events_published (which reads Limit / share-of-matches rows, the whole
// range when few match), with and without the planner's statistics.
func TestEventTypeOutcomeUsesItsIndex(t *testing.T) {
	s, evs := fixture(t)
	lo, hi := evs[0].Published.UnixMilli(), evs[len(evs)-1].Published.UnixMilli()
	qs := []EventQuery{
		{EventTypePrefix: "user.session.", Outcome: "FAILURE", Limit: 1000},
		{EventTypePrefix: "user.", Outcome: "deny", Limit: 100, Oldest: true},
		{EventTypePrefix: "user.session.start", Outcome: "FAILURE", Limit: 1000, NoRaw: true},
	}
	check := func(stage string) {
		for _, q := range qs {
			plan := queryPlan(t, s, q, lo, hi)
			if !strings.Contains(plan, "INDEX events_outcome_type ") || strings.Contains(plan, "events_published") {
				t.Errorf("%s: %+v: plan %q walks events_published or skips events_outcome_type", stage, q, plan)
			}
		}
	}
	check("no statistics")
	if _, err := s.w.Exec("ANALYZE"); err != nil {
		t.Fatal(err)
	}
	check("after ANALYZE")
	// SUCCESS is most events: walking the range newest first stops early,
	// and the partial index does not hold them.
	if plan := queryPlan(t, s, EventQuery{EventTypePrefix: "user.", Outcome: "success", Limit: 10}, lo, hi); strings.Contains(plan, "events_outcome_type") {
		t.Errorf("SUCCESS reads the partial index: %q", plan)
	}
}

func TestQueryValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	from, to := t0, t0.Add(time.Hour)
	checks := []struct {
		name string
		err  error
	}{
		{"limit 0", func() error { _, err := s.QueryEvents(ctx, EventQuery{}); return err }()},
		{"limit -1", func() error { _, err := s.QueryAlerts(ctx, AlertQuery{Limit: -1}); return err }()},
		{"limit huge", func() error { _, err := s.QueryEvents(ctx, EventQuery{Limit: 1_000_000}); return err }()},
		{"from after to", func() error { _, err := s.QueryEvents(ctx, EventQuery{From: to, To: from, Limit: 1}); return err }()},
		{"series no range", func() error {
			_, err := s.CountSeries(ctx, SeriesQuery{Interval: time.Minute, Limit: 1})
			return err
		}()},
		{"series zero interval", func() error {
			_, err := s.CountSeries(ctx, SeriesQuery{From: from, To: to, Limit: 1})
			return err
		}()},
		{"series too many buckets", func() error {
			_, err := s.CountSeries(ctx, SeriesQuery{From: from, To: from.Add(365 * 24 * time.Hour), Interval: time.Second, Limit: 1})
			return err
		}()},
		{"series bad group", func() error {
			_, err := s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Minute, GroupBy: "actor", Limit: 1})
			return err
		}()},
		{"series events with detector", func() error {
			_, err := s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Minute, Source: "events", Detector: "x", Limit: 1})
			return err
		}()},
		{"series unknown source", func() error {
			_, err := s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Minute, Source: "logs", Limit: 1})
			return err
		}()},
		{"geo precision", func() error { _, err := s.GeoPoints(ctx, GeoQuery{Precision: 9, Limit: 1}); return err }()},
		{"users limit", func() error { _, err := s.UserSummaries(ctx, UserQuery{}); return err }()},
		{"actors limit", func() error { _, err := s.Actors(ctx, "", 0); return err }()},
		{"event types limit", func() error { _, err := s.EventTypes(ctx, "", 50001); return err }()},
	}
	for _, c := range checks {
		if !errors.Is(c.err, ErrInvalidQuery) {
			t.Errorf("%s: error = %v, want ErrInvalidQuery", c.name, c.err)
		}
	}
	if _, err := s.QueryEvents(ctx, EventQuery{Limit: 1}); err != nil {
		t.Fatalf("valid query on an empty store: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.QueryEvents(cctx, EventQuery{Limit: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled query error = %v, want context.Canceled", err)
	}
}

func TestQueryAlerts(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	got, err := s.QueryAlerts(ctx, AlertQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if ids := alertIDs(got); ids != "a4,a3,a2,a1" {
		t.Fatalf("alerts = %s, want newest first a4,a3,a2,a1", ids)
	}
	if a := got[2]; a.Detector != "password_spray" || a.Severity != "high" || len(a.EventIDs) != 2 || a.Evidence["count"] != 12.0 ||
		!a.Time.Equal(evs[200].Published.Truncate(time.Millisecond)) || a.MITRE[0] != "T1110" {
		t.Fatalf("alert round trip = %+v", a)
	}
	got, _ = s.QueryAlerts(ctx, AlertQuery{Detector: "failed_logins", Limit: 10})
	if ids := alertIDs(got); ids != "a3,a1" {
		t.Fatalf("by detector = %s", ids)
	}
	got, _ = s.QueryAlerts(ctx, AlertQuery{Severity: "HIGH", Limit: 10})
	if ids := alertIDs(got); ids != "a2" {
		t.Fatalf("by severity = %s", ids)
	}
	got, _ = s.QueryAlerts(ctx, AlertQuery{Actor: evs[100].Actor.AlternateID, From: evs[150].Published, Limit: 10})
	if ids := alertIDs(got); ids != "a3" {
		t.Fatalf("by actor and from = %s", ids)
	}
	got, _ = s.QueryAlerts(ctx, AlertQuery{Limit: 1})
	if len(got) != 1 {
		t.Fatalf("limit 1 gave %d", len(got))
	}
	links, err := s.AlertEvents(ctx, "a2")
	if err != nil || len(links) != 2 || links[0] != evs[200].UUID {
		t.Fatalf("AlertEvents = %v, %v", links, err)
	}
}

func alertIDs(as []detectAlert) string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return strings.Join(ids, ",")
}

// TestCountSeriesMatchesBruteForce compares every path (roll-ups by hour and
// minute, row edges, row scans) with counts computed from the events.
func TestCountSeriesMatchesBruteForce(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	type rng struct{ from, to time.Time }
	ranges := []rng{
		{evs[0].Published, evs[len(evs)-1].Published},
		{evs[17].Published.Add(-1234 * time.Millisecond), evs[2711].Published.Add(5 * time.Second)},
		{t0.Add(3 * time.Hour), t0.Add(27 * time.Hour)},                                 // aligned
		{t0.Add(3*time.Hour + 59*time.Second), t0.Add(3*time.Hour + 40*time.Minute)},    // < 1h
		{evs[400].Published, evs[400].Published},                                        // one instant
		{t0.Add(90*time.Minute + 30*time.Second), t0.Add(50*time.Hour + 7*time.Second)}, // edges in minutes and hours
	}
	intervals := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 3 * time.Hour, 24 * time.Hour}
	queries := []SeriesQuery{
		{},
		{GroupBy: GroupEventType},
		{GroupBy: GroupOutcome},
		{GroupBy: GroupCountry, EventTypePrefix: "user.authentication."},
		{GroupBy: GroupEventType, Outcome: "FAILURE"},
		{Country: "France"},
		{Actor: "user003@example.com", GroupBy: GroupOutcome},
		{IP: evs[42].Client.IPAddress},
	}
	for _, r := range ranges {
		for _, iv := range intervals {
			if r.to.Sub(r.from)/iv > 20000 {
				continue
			}
			for _, base := range queries {
				q := base
				q.From, q.To, q.Interval, q.Limit = r.from, r.to, iv, 1000
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
}

func bruteSeries(evs []event.Event, q SeriesQuery) []SeriesPoint {
	iv := q.Interval.Milliseconds()
	counts := map[seriesKey]int64{}
	lo, hi := q.From.UnixMilli(), q.To.UnixMilli()
	for i := range evs {
		e := &evs[i]
		c := columnsOf(e)
		p := c.published
		if p < lo || p > hi {
			continue
		}
		if q.Actor != "" && e.Actor.AlternateID != q.Actor || q.IP != "" && c.ip != q.IP ||
			q.EventTypePrefix != "" && !strings.HasPrefix(e.EventType, q.EventTypePrefix) ||
			q.Outcome != "" && e.Outcome.Result != q.Outcome || q.Country != "" && c.country != q.Country {
			continue
		}
		g := ""
		switch q.GroupBy {
		case GroupEventType:
			g = e.EventType
		case GroupOutcome:
			g = e.Outcome.Result
		case GroupCountry:
			g = c.country
		}
		counts[seriesKey{floorTo(p, iv), g}]++
	}
	var out []SeriesPoint
	for k, n := range counts {
		out = append(out, SeriesPoint{Time: time.UnixMilli(k.t).UTC(), Group: k.g, Count: n})
	}
	return out
}

func seriesString(ps []SeriesPoint) string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%d/%s=%d", p.Time.UnixMilli(), p.Group, p.Count))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func TestCountSeriesFillLimitAndAlerts(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	from, to := t0, t0.Add(4*time.Hour-time.Millisecond)
	got, err := s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Hour, GroupBy: GroupEventType, Limit: 2, Fill: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4*2 {
		t.Fatalf("filled top-2 series over 4 buckets: %d points, want 8: %v", len(got), got)
	}
	// empty result with Fill and no group: a zero series for alert rules
	got, _ = s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Hour, Actor: "nobody", Limit: 1, Fill: true})
	if len(got) != 4 || got[0].Count != 0 || got[3].Group != "" {
		t.Fatalf("zero-filled series = %v", got)
	}
	got, _ = s.CountSeries(ctx, SeriesQuery{From: from, To: to, Interval: time.Hour, Actor: "nobody", Limit: 1})
	if len(got) != 0 {
		t.Fatalf("unfilled empty series = %v", got)
	}
	// alerts: detector/severity imply the alert source
	all := SeriesQuery{From: evs[0].Published, To: evs[len(evs)-1].Published, Interval: 24 * time.Hour, Limit: 10}
	q := all
	q.GroupBy = GroupDetector
	got, err = s.CountSeries(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	total := map[string]int64{}
	for _, p := range got {
		total[p.Group] += p.Count
	}
	if total["failed_logins"] != 2 || total["password_spray"] != 1 || total["impossible_travel"] != 1 || len(total) != 3 {
		t.Fatalf("alerts by detector = %v", total)
	}
	q = all
	q.Severity = "critical"
	got, _ = s.CountSeries(ctx, q)
	if len(got) != 1 || got[0].Count != 1 {
		t.Fatalf("critical alerts = %v", got)
	}
	q = all
	q.Source, q.GroupBy = SourceAlerts, GroupEventType
	if _, err := s.CountSeries(ctx, q); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("alerts grouped by eventType: %v", err)
	}
}

func TestGeoPoints(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	got, err := s.GeoPoints(ctx, GeoQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	fails := map[string]int64{}
	signIn := map[string]bool{}
	for _, t := range SignInEventTypes {
		signIn[t] = true
	}
	for i := range evs {
		e := &evs[i]
		if !signIn[e.EventType] || !e.Client.Geo.HasLatLon {
			continue
		}
		k := fmt.Sprintf("%.1f,%.1f", e.Client.Geo.Lat, e.Client.Geo.Lon)
		want[k]++
		if e.IsFailure() {
			fails[k]++
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d points, want %d", len(got), len(want))
	}
	for i, p := range got {
		k := fmt.Sprintf("%.1f,%.1f", p.Lat, p.Lon)
		if p.Count != want[k] || p.Failures != fails[k] || p.Country == "" || p.City == "" || p.LastSeen.IsZero() {
			t.Fatalf("point %s = %+v, want count %d failures %d", k, p, want[k], fails[k])
		}
		if i > 0 && got[i-1].Count < p.Count {
			t.Fatal("points not busiest first")
		}
	}
	byOutcome, _ := s.GeoPoints(ctx, GeoQuery{Limit: 100, ByOutcome: true})
	var sum int64
	for _, p := range byOutcome {
		if p.Outcome == "" {
			t.Fatal("ByOutcome point without outcome")
		}
		sum += p.Count
	}
	var wsum int64
	for _, n := range want {
		wsum += n
	}
	if sum != wsum || len(byOutcome) <= len(got) {
		t.Fatalf("by outcome: %d points summing %d, want more than %d points summing %d", len(byOutcome), sum, len(got), wsum)
	}
	counted, err := s.GeoPoints(ctx, GeoQuery{Limit: 100, CountActors: true})
	if err != nil || len(counted) != len(got) {
		t.Fatalf("CountActors: %d points, %v", len(counted), err)
	}
	for i, p := range counted {
		if p.Actors == 0 || p.Actors > p.Count || p.Count != got[i].Count || got[i].Actors != 0 {
			t.Fatalf("CountActors point %+v (roll-up point %+v)", p, got[i])
		}
	}
	// actor filter (row path) and a type prefix with a range cutting hours (roll-up + rows)
	for _, gq := range []GeoQuery{
		{Limit: 100, Actor: "user010@example.com", EventTypePrefix: "user."},
		{Limit: 100, EventTypePrefix: "user.", From: evs[333].Published.Add(-time.Second), To: evs[2222].Published, Precision: 2},
		{Limit: 100, Outcome: "failure", From: evs[1000].Published, To: evs[1500].Published},
	} {
		got, err := s.GeoPoints(ctx, gq)
		if err != nil {
			t.Fatal(err)
		}
		var sum, wsum int64
		for _, p := range got {
			sum += p.Count
		}
		for i := range evs {
			e := &evs[i]
			if (gq.Actor == "" || e.Actor.AlternateID == gq.Actor) && strings.HasPrefix(e.EventType, gq.EventTypePrefix) &&
				(gq.EventTypePrefix != "" || signIn[e.EventType]) && e.Client.Geo.HasLatLon &&
				(gq.From.IsZero() || !e.Published.Before(gq.From)) && (gq.To.IsZero() || !e.Published.After(gq.To)) &&
				(gq.Outcome == "" || e.IsFailure()) {
				wsum++
			}
		}
		if sum != wsum || len(got) == 0 {
			t.Fatalf("%+v: %d points summing %d, want %d", gq, len(got), sum, wsum)
		}
	}
}

func TestUserSummariesAndDictionaries(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	got, err := s.UserSummaries(ctx, UserQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 {
		t.Fatalf("%d users, want 200", len(got))
	}
	// the top user has the most alerts: user with alerts a1 and a3
	top := got[0]
	if top.Actor != evs[100].Actor.AlternateID || top.Alerts != 2 || top.MaxAlertSeverity != "medium" {
		t.Fatalf("top user = %+v", top)
	}
	// brute force for one user
	u := "user042@example.com"
	var n, fails int64
	var last time.Time
	var lastIP string
	countries := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		if e.Actor.AlternateID != u {
			continue
		}
		n++
		if e.IsFailure() {
			fails++
		}
		countries[e.Country()] = true
		if !e.Published.Before(last) {
			last, lastIP = e.Published, e.Client.IPAddress
		}
	}
	one, err := s.UserSummaries(ctx, UserQuery{Search: "USER042", Limit: 10})
	if err != nil || len(one) != 1 {
		t.Fatalf("search = %v, %v", one, err)
	}
	g := one[0]
	if g.Events != n || g.Failures != fails || g.LastIP != lastIP || !g.LastSeen.Equal(last.Truncate(time.Millisecond)) ||
		len(g.Countries) != len(countries) || g.ActorID == "" {
		t.Fatalf("summary = %+v; want events %d failures %d last %s %s countries %v", g, n, fails, last, lastIP, countries)
	}
	// an unaligned range (days, hours and row edges) equals brute force
	from, to := evs[333].Published.Add(-time.Second), evs[2222].Published
	ranged, err := s.UserSummaries(ctx, UserQuery{From: from, To: to, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	type agg struct {
		n, f      int64
		last      time.Time
		ip        string
		countries map[string]bool
	}
	want := map[string]*agg{}
	for i := range evs {
		e := &evs[i]
		if e.Published.Before(from) || e.Published.After(to) {
			continue
		}
		a := want[e.Actor.AlternateID]
		if a == nil {
			a = &agg{countries: map[string]bool{}}
			want[e.Actor.AlternateID] = a
		}
		a.n++
		if e.IsFailure() {
			a.f++
		}
		if !e.Published.Before(a.last) {
			a.last, a.ip = e.Published, e.Client.IPAddress
		}
		if c := e.Country(); c != "" {
			a.countries[c] = true
		}
	}
	withEvents := 0
	for _, u := range ranged {
		if u.Events == 0 {
			continue // alert-only rows
		}
		withEvents++
		w := want[u.Actor]
		if w == nil || u.Events != w.n || u.Failures != w.f || u.LastIP != w.ip || !u.LastSeen.Equal(w.last.Truncate(time.Millisecond)) ||
			len(u.Countries) != len(w.countries) {
			t.Fatalf("ranged %s = %+v, want %+v", u.Actor, u, w)
		}
	}
	if withEvents != len(want) {
		t.Fatalf("ranged users = %d, want %d", withEvents, len(want))
	}
	lim, _ := s.UserSummaries(ctx, UserQuery{Limit: 5, From: evs[1500].Published})
	if len(lim) != 5 {
		t.Fatalf("limit 5 gave %d", len(lim))
	}

	types, err := s.EventTypes(ctx, "user.authentication.", 100)
	if err != nil || len(types) != 2 || types[0].EventType != "user.authentication.auth_via_mfa" || types[0].Events != 300 {
		t.Fatalf("EventTypes = %+v, %v", types, err)
	}
	all, _ := s.EventTypes(ctx, "", 100)
	if len(all) != len(eventTypes) {
		t.Fatalf("%d event types, want %d", len(all), len(eventTypes))
	}
	actors, err := s.Actors(ctx, "R19", 100)
	if err != nil || len(actors) != 10 { // user190..user199
		t.Fatalf("Actors(R19) = %d, %v", len(actors), err)
	}
	if actors[0].Events == 0 || actors[0].ActorID == "" || actors[0].LastSeen.IsZero() {
		t.Fatalf("actor = %+v", actors[0])
	}
	none, _ := s.Actors(ctx, "%", 100)
	if len(none) != 0 {
		t.Fatalf("'%%' matched %d actors literally", len(none))
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Events != 3000 || st.Alerts != 4 || !st.MinPublished.Equal(evs[0].Published.Truncate(time.Millisecond)) ||
		!st.MaxPublished.Equal(evs[2999].Published.Truncate(time.Millisecond)) {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	cut := evs[1800].Published.Add(-time.Millisecond) // inside a minute and an hour
	n, err := s.Prune(ctx, cut)
	if err != nil || n != 1800 {
		t.Fatalf("Prune = %d, %v; want 1800", n, err)
	}
	if c := countRows(t, s, "events"); c != 1200 {
		t.Fatalf("events left %d", c)
	}
	if c := rawStored(t, s); c != 1200 {
		t.Fatalf("raw left %d", c)
	}
	// links of pruned events are gone, alerts are kept
	if c := countRows(t, s, "alert_events"); c != 1 {
		t.Fatalf("alert links left %d, want 1 (a4)", c)
	}
	if c := countRows(t, s, "alerts"); c != 4 {
		t.Fatalf("alerts left %d, want 4", c)
	}
	// roll-ups stay exact: series equal brute force over the remaining events
	rest := evs[1800:]
	for _, iv := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour} {
		q := SeriesQuery{From: evs[0].Published, To: evs[2999].Published, Interval: iv, GroupBy: GroupEventType, Limit: 100}
		got, err := s.CountSeries(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := seriesString(got), seriesString(bruteSeries(rest, q)); g != w {
			t.Fatalf("after prune (%s):\n got %s\nwant %s", iv, g, w)
		}
	}
	for _, tbl := range []struct{ name, col string }{{"user_days", "events"}, {"user_hours", "events"}, {"geo_hours", "n"}} {
		var sum int64
		if tbl.name == "user_days" { // a day without a segment is its hours (user_days.go)
			sum = dayEntryEvents(t, s)
		} else {
			s.r.QueryRow("SELECT COALESCE(SUM(" + tbl.col + "), 0) FROM " + tbl.name).Scan(&sum)
			sum += sealedUserEvents(t, s, tbl.name)
		}
		want := int64(1200)
		if tbl.name == "geo_hours" {
			want = 0
			for i := range rest {
				if rest[i].Client.Geo.HasLatLon {
					want++
				}
			}
		}
		if sum != want {
			t.Fatalf("%s sums %d after prune, want %d", tbl.name, sum, want)
		}
	}
	users, _ := s.UserSummaries(ctx, UserQuery{Limit: 1000})
	var un int64
	for _, u := range users {
		un += u.Events
	}
	if un != 1200 {
		t.Fatalf("user summaries count %d events after prune, want 1200", un)
	}
	st, _ := s.Stats(ctx)
	if st.Events != 1200 {
		t.Fatalf("Stats.Events = %d", st.Events)
	}
	var sumA int64
	s.r.QueryRow("SELECT (SELECT COALESCE(SUM(events), 0) FROM actors) + (SELECT COALESCE(SUM(events), 0) FROM actors_log)").Scan(&sumA)
	if sumA != 1200 {
		t.Fatalf("actor counts sum %d, want 1200", sumA)
	}
	if n, err := s.Prune(ctx, cut); n != 0 || err != nil {
		t.Fatalf("second Prune = %d, %v", n, err)
	}
	if _, err := s.Prune(ctx, time.Time{}); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("Prune(zero) = %v", err)
	}
	n, err = s.PruneAlerts(ctx, evs[2500].Published)
	if err != nil || n != 3 || countRows(t, s, "alerts") != 1 {
		t.Fatalf("PruneAlerts = %d, %v", n, err)
	}
	// pruned events can be ingested again (e.g. a backfill over old data)
	res := mustCommit(t, s, Batch{Events: evs[:10]})
	if res.EventsInserted != 10 {
		t.Fatalf("re-insert after prune: %d", res.EventsInserted)
	}
}

func TestPosture(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if _, ok, err := s.LatestPostureReport(ctx, "baseline"); ok || err != nil {
		t.Fatalf("empty latest = %v, %v", ok, err)
	}
	for i := 0; i < 3; i++ {
		rec := PostureRecord{Time: t0.Add(time.Duration(i) * time.Hour), Profile: "baseline", Score: 50 + float64(i)*10,
			JSON: []byte(fmt.Sprintf(`{"score":%d}`, 50+i*10)),
			Checks: []PostureCheckStatus{
				{ID: "okta.password.min_length", Title: "Password length", Category: "password", Severity: "high", Status: []string{"fail", "fail", "pass"}[i], Findings: 1 - i/2, Failing: 1},
				{ID: "okta.mfa.required", Title: "MFA", Category: "mfa", Severity: "critical", Status: "pass"},
			}}
		if err := s.SavePostureReport(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SavePostureReport(ctx, PostureRecord{Time: t0, Profile: "strict", Score: 10}); err != nil {
		t.Fatal(err)
	}
	latest, ok, err := s.LatestPostureReport(ctx, "baseline")
	if err != nil || !ok || latest.Score != 70 || string(latest.JSON) != `{"score":70}` || len(latest.Checks) != 2 ||
		latest.Checks[1].ID != "okta.password.min_length" || latest.Checks[1].Status != "pass" {
		t.Fatalf("latest = %+v, %v, %v", latest, ok, err)
	}
	hist, err := s.PostureHistory(ctx, t0.Add(30*time.Minute), time.Time{}, "baseline")
	if err != nil || len(hist) != 2 || hist[0].Score != 60 || len(hist[0].Checks) != 2 || hist[0].JSON != nil {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	all, _ := s.PostureHistory(ctx, time.Time{}, time.Time{}, "")
	if len(all) != 4 {
		t.Fatalf("all history = %d", len(all))
	}
	if err := s.SavePostureReport(ctx, PostureRecord{Time: t0, Profile: "baseline",
		Checks: []PostureCheckStatus{{ID: "x", Status: "pass"}, {ID: "", Status: "fail"}}}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("invalid check = %v", err)
	}
	if h, _ := s.PostureHistory(ctx, time.Time{}, time.Time{}, "baseline"); len(h) != 3 {
		t.Fatalf("failed save left a report: %d", len(h))
	}

	reg := Regression{Time: t0.Add(time.Hour), CheckID: "okta.password.min_length", Resource: "Default Policy",
		From: "pass", To: "fail", EventID: "uuid-1", Actor: "admin@example.com"}
	if err := s.SaveRegression(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRegression(ctx, Regression{CheckID: "x"}); !errors.Is(err, ErrInvalidBatch) {
		t.Fatalf("regression without time = %v", err)
	}
	regs, err := s.Regressions(ctx, t0, t0.Add(2*time.Hour))
	if err != nil || len(regs) != 1 || regs[0].To != "fail" || regs[0].EventID != "uuid-1" || !regs[0].Time.Equal(reg.Time) {
		t.Fatalf("regressions = %+v, %v", regs, err)
	}
	if regs, _ := s.Regressions(ctx, t0.Add(3*time.Hour), time.Time{}); len(regs) != 0 {
		t.Fatalf("out-of-range regressions = %v", regs)
	}
	_ = math.Pi
}
