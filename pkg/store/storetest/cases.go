package storetest

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

var bg = context.Background()

func testCommitAndRead(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	if _, ok, err := s.LoadCheckpoint(bg); err != nil || ok {
		t.Fatalf("fresh store checkpoint: ok=%v err=%v", ok, err)
	}
	t0 := T0()
	evs := Events("a", 0, 40, t0, time.Minute)
	cp := store.Checkpoint{NextURL: "https://a.okta.example/api/v1/logs?after=40", MaxPublished: evs[39].Published,
		BackfillSince: t0.Add(-time.Hour), BackfillDone: true}
	res := commit(t, s, store.Batch{Events: evs, Checkpoint: &cp,
		State: map[string][]byte{"detect/x": []byte("one"), "detect/y": {0, 1, 2}, "other": []byte("o")}})
	if res.EventsInserted != 40 || len(res.Inserted) != 40 {
		t.Fatalf("inserted %d (%d flags), want 40", res.EventsInserted, len(res.Inserted))
	}
	got, ok, err := s.LoadCheckpoint(bg)
	if err != nil || !ok {
		t.Fatalf("LoadCheckpoint: ok=%v err=%v", ok, err)
	}
	if got.NextURL != cp.NextURL || !got.MaxPublished.Equal(cp.MaxPublished) || !got.BackfillSince.Equal(cp.BackfillSince) ||
		!got.BackfillDone || got.UpdatedAt.IsZero() {
		t.Fatalf("checkpoint %+v, want %+v", got, cp)
	}
	st, err := s.AllState(bg, "detect/")
	if err != nil || len(st) != 2 || string(st["detect/x"]) != "one" || !reflect.DeepEqual(st["detect/y"], []byte{0, 1, 2}) {
		t.Fatalf("AllState = %v, %v", st, err)
	}
	if v, ok, err := s.GetState(bg, "other"); err != nil || !ok || string(v) != "o" {
		t.Fatalf("GetState = %q %v %v", v, ok, err)
	}
	commit(t, s, store.Batch{State: map[string][]byte{"other": nil}})
	if _, ok, err := s.GetState(bg, "other"); err != nil || ok {
		t.Fatalf("deleted state key still there: %v %v", ok, err)
	}

	rows, err := s.QueryEvents(bg, store.EventQuery{Limit: 100})
	if err != nil || len(rows) != 40 {
		t.Fatalf("QueryEvents: %d rows, %v", len(rows), err)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].Published.After(rows[i-1].Published) {
			t.Fatalf("events not newest first at %d", i)
		}
	}
	first := rows[len(rows)-1]
	want := evs[0]
	if first.UUID != want.UUID || !first.Published.Equal(want.Published) || first.EventType != want.EventType ||
		first.Actor != want.Actor.AlternateID || first.ActorID != want.Actor.ID || first.Outcome != want.Outcome.Result ||
		first.IP != want.Client.IPAddress || first.Country != want.Client.Geo.Country || first.City != want.Client.Geo.City ||
		!first.HasGeo || first.SessionID != want.Auth.ExternalSessionID || first.Target != "App-a" ||
		first.DisplayMessage != want.DisplayMessage || string(first.Raw) != string(want.Raw) {
		t.Fatalf("stored row %+v\ndoes not match event %+v", first, want)
	}
	one, ok, err := s.GetEvent(bg, evs[5].UUID)
	if err != nil || !ok || string(one.Raw) != string(evs[5].Raw) {
		t.Fatalf("GetEvent: %v %v raw=%s", ok, err, one.Raw)
	}
	if _, ok, err := s.GetEvent(bg, "missing"); err != nil || ok {
		t.Fatalf("GetEvent(missing): %v %v", ok, err)
	}
	byID, err := s.QueryEventsByUUID(bg, []string{evs[9].UUID, "nope", evs[3].UUID})
	if err != nil || !reflect.DeepEqual(rowUUIDs(byID), []string{evs[3].UUID, evs[9].UUID}) {
		t.Fatalf("QueryEventsByUUID = %v, %v", rowUUIDs(byID), err)
	}
	have, err := s.HasEvents(bg, []string{evs[0].UUID, "nope", evs[39].UUID})
	if err != nil || len(have) != 2 || !have[evs[0].UUID] || !have[evs[39].UUID] {
		t.Fatalf("HasEvents = %v, %v", have, err)
	}
	have, err = s.HasEventsAt(bg, []string{evs[0].UUID, "nope", evs[39].UUID, evs[20].UUID},
		[]time.Time{evs[0].Published, evs[20].Published, evs[39].Published, evs[20].Published})
	if err != nil || len(have) != 3 || !have[evs[0].UUID] || !have[evs[39].UUID] || !have[evs[20].UUID] {
		t.Fatalf("HasEventsAt = %v, %v", have, err)
	}
	noRaw, err := s.QueryEvents(bg, store.EventQuery{Limit: 1, NoRaw: true})
	if err != nil || len(noRaw) != 1 || noRaw[0].Raw != nil {
		t.Fatalf("NoRaw: %v %v", noRaw, err)
	}
	stats, err := s.Stats(bg)
	if err != nil || stats.Events != 40 || !stats.MinPublished.Equal(evs[0].Published) || !stats.MaxPublished.Equal(evs[39].Published) {
		t.Fatalf("Stats = %+v, %v", stats, err)
	}
	if s.Describe() == "" {
		t.Fatal("Describe is empty")
	}
}

func testDuplicates(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	evs := Events("a", 0, 10, T0(), time.Second)
	commit(t, s, store.Batch{Events: evs[:6]})
	batch := append(append([]eventT{}, evs[4:]...), evs[7]) // 4,5 stored; 7 twice in the batch
	res := commit(t, s, store.Batch{Events: batch})
	wantFlags := []bool{false, false, true, true, true, true, false}
	if res.EventsInserted != 4 || !reflect.DeepEqual(res.Inserted, wantFlags) {
		t.Fatalf("inserted %d %v, want 4 %v", res.EventsInserted, res.Inserted, wantFlags)
	}
	// a uuid twice in a batch of new events: the first occurrence is stored
	more := Events("a", 10, 3, T0().Add(10*time.Second), time.Second)
	res = commit(t, s, store.Batch{Events: append(append([]eventT{}, more[0], more[1], more[0]), more[2])})
	if want := []bool{true, true, false, true}; res.EventsInserted != 3 || !reflect.DeepEqual(res.Inserted, want) {
		t.Fatalf("batch with an inner duplicate: inserted %d %v, want 3 %v", res.EventsInserted, res.Inserted, want)
	}
	if st, _ := s.Stats(bg); st.Events != 13 {
		t.Fatalf("stats count %d after duplicates, want 13", st.Events)
	}
	pts, err := s.CountSeries(bg, store.SeriesQuery{From: T0(), To: T0().Add(time.Hour), Interval: time.Hour, Limit: 10})
	if err != nil || len(pts) != 1 || pts[0].Count != 13 {
		t.Fatalf("series after duplicates %v %v (roll-ups must not count a duplicate)", pts, err)
	}
}

func testAtomicBatch(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	evs := Events("a", 0, 300, T0(), time.Second)
	evs[250].UUID = "" // invalid, late in the batch
	cp := store.Checkpoint{NextURL: "next"}
	_, err := s.Commit(bg, store.Batch{Events: evs, Checkpoint: &cp, State: map[string][]byte{"k": []byte("v")},
		Alerts: []alert{Alert("al1", "d", "high", T0(), "x")}})
	if !errors.Is(err, store.ErrInvalidBatch) {
		t.Fatalf("Commit of a bad batch: %v, want ErrInvalidBatch", err)
	}
	if _, ok, _ := s.LoadCheckpoint(bg); ok {
		t.Fatal("checkpoint of a failed batch was kept")
	}
	if _, ok, _ := s.GetState(bg, "k"); ok {
		t.Fatal("state of a failed batch was kept")
	}
	if rows, _ := s.QueryEvents(bg, store.EventQuery{Limit: 1000}); len(rows) != 0 {
		t.Fatalf("%d events of a failed batch were kept", len(rows))
	}
	if as, _ := s.QueryAlerts(bg, store.AlertQuery{Limit: 10}); len(as) != 0 {
		t.Fatal("alert of a failed batch was kept")
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := s.Commit(ctx, store.Batch{Events: Events("a", 0, 5, T0(), time.Second)}); err == nil {
		t.Fatal("Commit with a cancelled context succeeded")
	}
	if rows, _ := s.QueryEvents(bg, store.EventQuery{Limit: 1000}); len(rows) != 0 {
		t.Fatalf("%d events of a cancelled commit were kept", len(rows))
	}
}

func testEventFilters(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0()
	evs := Events("a", 0, 200, t0, 30*time.Second)
	commit(t, s, store.Batch{Events: evs})
	check := func(name string, q store.EventQuery, keep func(i int) bool) {
		t.Helper()
		q.Limit = 1000
		rows, err := s.QueryEvents(bg, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want []string
		for i := len(evs) - 1; i >= 0; i-- {
			p := evs[i].Published
			if (!q.From.IsZero() && p.Before(q.From)) || (!q.To.IsZero() && p.After(q.To)) || !keep(i) {
				continue
			}
			want = append(want, evs[i].UUID)
		}
		if got := rowUUIDs(rows); len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%s: got %d events %v\nwant %d %v", name, len(got), got, len(want), want)
		}
	}
	all := func(int) bool { return true }
	check("all", store.EventQuery{}, all)
	check("range", store.EventQuery{From: t0.Add(10 * time.Minute), To: t0.Add(20 * time.Minute)}, all)
	check("actor", store.EventQuery{Actor: evs[3].Actor.AlternateID}, func(i int) bool { return evs[i].Actor.AlternateID == evs[3].Actor.AlternateID })
	check("type prefix", store.EventQuery{EventTypePrefix: "user.session."}, func(i int) bool { return strings.HasPrefix(evs[i].EventType, "user.session.") })
	check("outcome", store.EventQuery{Outcome: "failure"}, func(i int) bool { return evs[i].Outcome.Result == "FAILURE" })
	check("ip", store.EventQuery{IP: "198.51.100.7"}, func(i int) bool { return evs[i].Client.IPAddress == "198.51.100.7" })
	check("country", store.EventQuery{Country: "Japan"}, func(i int) bool { return evs[i].Client.Geo.Country == "Japan" })
	check("session", store.EventQuery{SessionID: evs[4].Auth.ExternalSessionID}, func(i int) bool { return evs[i].Auth.ExternalSessionID == evs[4].Auth.ExternalSessionID })
	check("text", store.EventQuery{Text: "message 12 about"}, func(i int) bool {
		return strings.Contains(strings.ToLower(evs[i].DisplayMessage), "message 12 about")
	})
	check("text %", store.EventQuery{Text: "100%"}, func(int) bool { return false })
	// Exclusions (Explore's "filter out value"): each drops exact matches only.
	exActor, exType := evs[3].Actor.AlternateID, evs[5].EventType
	check("exclude actor", store.EventQuery{Exclude: []store.Exclusion{{Field: "actor", Value: exActor}}},
		func(i int) bool { return evs[i].Actor.AlternateID != exActor })
	check("exclude type and outcome", store.EventQuery{Exclude: []store.Exclusion{{Field: "eventType", Value: exType}, {Field: "outcome", Value: "failure"}}},
		func(i int) bool { return evs[i].EventType != exType && evs[i].Outcome.Result != "FAILURE" })
	check("exclude with a filter", store.EventQuery{EventTypePrefix: "user.", Exclude: []store.Exclusion{{Field: "country", Value: "Japan"}, {Field: "ip", Value: "198.51.100.7"}}},
		func(i int) bool {
			return strings.HasPrefix(evs[i].EventType, "user.") && evs[i].Client.Geo.Country != "Japan" && evs[i].Client.IPAddress != "198.51.100.7"
		})
	check("exclude session", store.EventQuery{Exclude: []store.Exclusion{{Field: "sessionId", Value: evs[4].Auth.ExternalSessionID}}},
		func(i int) bool { return evs[i].Auth.ExternalSessionID != evs[4].Auth.ExternalSessionID })
	rows, err := s.QueryEvents(bg, store.EventQuery{Limit: 7})
	if err != nil || len(rows) != 7 || rows[0].UUID != evs[199].UUID {
		t.Fatalf("limit: %d rows, %v", len(rows), err)
	}
	// Oldest first keeps the oldest Limit events of the range (a log line's
	// context after it).
	rows, err = s.QueryEvents(bg, store.EventQuery{From: evs[10].Published, Limit: 3, Oldest: true})
	if got := rowUUIDs(rows); err != nil || !reflect.DeepEqual(got, []string{evs[10].UUID, evs[11].UUID, evs[12].UUID}) {
		t.Fatalf("oldest first: %v, %v", got, err)
	}
}

func testAlerts(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0()
	evs := Events("a", 0, 6, t0, time.Minute)
	as := []alert{
		Alert("a1", "password_spray", "high", t0, "u1@x", evs[0].UUID, evs[1].UUID),
		Alert("a2", "mfa_fatigue", "medium", t0.Add(time.Minute), "u2@x", evs[2].UUID),
		Alert("a3", "password_spray", "critical", t0.Add(2*time.Minute), "u2@x"),
	}
	res := commit(t, s, store.Batch{Events: evs, Alerts: as})
	if res.AlertsInserted != 3 {
		t.Fatalf("alerts inserted %d, want 3", res.AlertsInserted)
	}
	commit(t, s, store.Batch{Alerts: as[:1]}) // the same incident again: still one alert
	got, err := s.QueryAlerts(bg, store.AlertQuery{Limit: 10})
	if err != nil || len(got) != 3 || got[0].ID != "a3" || got[2].ID != "a1" {
		t.Fatalf("QueryAlerts = %v, %v", got, err)
	}
	if !reflect.DeepEqual(got[2].EventIDs, as[0].EventIDs) || got[2].Evidence["count"] != 3.0 || !got[2].Time.Equal(t0) {
		t.Fatalf("alert round trip: %+v", got[2])
	}
	for _, c := range []struct {
		q    store.AlertQuery
		want []string
	}{
		{store.AlertQuery{Detector: "password_spray"}, []string{"a3", "a1"}},
		{store.AlertQuery{Severity: "MEDIUM"}, []string{"a2"}},
		{store.AlertQuery{Actor: "u2@x"}, []string{"a3", "a2"}},
		{store.AlertQuery{From: t0.Add(30 * time.Second), To: t0.Add(90 * time.Second)}, []string{"a2"}},
	} {
		c.q.Limit = 10
		got, err := s.QueryAlerts(bg, c.q)
		var ids []string
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if err != nil || !reflect.DeepEqual(ids, c.want) {
			t.Fatalf("QueryAlerts(%+v) = %v, %v; want %v", c.q, ids, err, c.want)
		}
	}
	links, err := s.AlertEvents(bg, "a1")
	if err != nil || !reflect.DeepEqual(links, []string{evs[0].UUID, evs[1].UUID}) {
		t.Fatalf("AlertEvents = %v, %v", links, err)
	}
	pts, err := s.CountSeries(bg, store.SeriesQuery{From: t0, To: t0.Add(time.Hour - time.Millisecond), Interval: time.Hour,
		Source: store.SourceAlerts, GroupBy: store.GroupDetector, Limit: 10})
	want := []store.SeriesPoint{{Time: t0, Group: "mfa_fatigue", Count: 1}, {Time: t0, Group: "password_spray", Count: 2}}
	if err != nil || !reflect.DeepEqual(pts, want) {
		t.Fatalf("alert series = %v, %v", pts, err)
	}
	if _, err := s.Commit(bg, store.Batch{Alerts: []alert{{ID: "x"}}}); !errors.Is(err, store.ErrInvalidBatch) {
		t.Fatalf("alert without detector: %v", err)
	}
}

// One incident is one alert: the engine emits a grown incident again with
// the same id; the store keeps one row holding the latest version (first
// time stays), adds the new event links, and reports what it did.
func testAlertUpsert(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0()
	evs := Events("u", 0, 3, t0, time.Second)
	commit(t, s, store.Batch{Events: evs})
	a := Alert("inc", "failed_logins", "medium", t0, "x@example.com", evs[0].UUID)
	a.Count, a.LastTime = 1, t0
	r1 := commit(t, s, store.Batch{Alerts: []alert{a}})
	grown := a
	grown.Severity, grown.Summary, grown.Count, grown.LastTime = "high", "grown", 3, t0.Add(2*time.Second)
	grown.EventIDs = []string{evs[0].UUID, evs[1].UUID, evs[2].UUID}
	grown.Targets = []string{"u1", "u2"}
	r2 := commit(t, s, store.Batch{Alerts: []alert{grown}})
	r3 := commit(t, s, store.Batch{Alerts: []alert{grown}}) // identical: nothing to do
	if !r1.AlertInserted[0] || r1.AlertUpdated[0] || r2.AlertInserted[0] || !r2.AlertUpdated[0] || r2.AlertsUpdated != 1 ||
		r2.AlertsInserted != 0 || r3.AlertInserted[0] || r3.AlertUpdated[0] {
		t.Fatalf("insert %+v, update %+v, repeat %+v", r1, r2, r3)
	}
	got, err := s.QueryAlerts(bg, store.AlertQuery{Limit: 10})
	if err != nil || len(got) != 1 {
		t.Fatalf("QueryAlerts = %v, %v; want one row per incident", got, err)
	}
	g := got[0]
	if g.Severity != "high" || g.Summary != "grown" || g.Count != 3 || !g.LastTime.Equal(grown.LastTime) || len(g.Targets) != 2 || !g.Time.Equal(t0) {
		t.Fatalf("stored %+v", g)
	}
	if links, err := s.AlertEvents(bg, "inc"); err != nil || len(links) != 3 {
		t.Fatalf("AlertEvents = %v, %v", links, err)
	}
	if hi, err := s.QueryAlerts(bg, store.AlertQuery{Severity: "high", Limit: 10}); err != nil || len(hi) != 1 {
		t.Fatalf("severity filter after the update: %v, %v", hi, err)
	}
}

func testSeries(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0().Add(-2 * time.Hour)
	evs := Events("a", 0, 500, t0.Add(17*time.Second), 37*time.Second) // ~5 h, not aligned
	commit(t, s, store.Batch{Events: evs})
	from, to := t0.Add(3*time.Minute+5*time.Second), t0.Add(4*time.Hour+50*time.Minute)
	for _, iv := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, time.Hour, 90 * time.Second} {
		for _, g := range []string{store.GroupNone, store.GroupEventType, store.GroupOutcome, store.GroupCountry} {
			for _, f := range []store.SeriesQuery{{}, {EventTypePrefix: "user."}, {Actor: evs[1].Actor.AlternateID}, {Outcome: "SUCCESS", Country: "Japan"}} {
				q := f
				q.From, q.To, q.Interval, q.GroupBy, q.Limit = from, to, iv, g, 100
				got, err := s.CountSeries(bg, q)
				if err != nil {
					t.Fatalf("CountSeries(%v %q %+v): %v", iv, g, f, err)
				}
				want := map[store.SeriesPoint]bool{}
				counts := map[[2]string]int64{}
				for _, e := range evs {
					if e.Published.Before(from) || e.Published.After(to) || (q.EventTypePrefix != "" && !strings.HasPrefix(e.EventType, q.EventTypePrefix)) ||
						(q.Actor != "" && e.Actor.AlternateID != q.Actor) || (q.Outcome != "" && e.Outcome.Result != q.Outcome) ||
						(q.Country != "" && e.Client.Geo.Country != q.Country) {
						continue
					}
					b := e.Published.Truncate(iv).Format(time.RFC3339Nano)
					grp := map[string]string{store.GroupNone: "", store.GroupEventType: e.EventType, store.GroupOutcome: e.Outcome.Result,
						store.GroupCountry: e.Client.Geo.Country}[g]
					counts[[2]string{b, grp}]++
				}
				for k, n := range counts {
					tm, _ := time.Parse(time.RFC3339Nano, k[0])
					want[store.SeriesPoint{Time: tm.UTC(), Group: k[1], Count: n}] = true
				}
				if len(got) != len(want) {
					t.Fatalf("CountSeries(%v %q %+v): %d points, want %d", iv, g, f, len(got), len(want))
				}
				for _, p := range got {
					if !want[p] {
						t.Fatalf("CountSeries(%v %q %+v): unexpected point %+v", iv, g, f, p)
					}
				}
			}
		}
	}
	filled, err := s.CountSeries(bg, store.SeriesQuery{From: t0.Add(10 * time.Hour), To: t0.Add(11 * time.Hour), Interval: 30 * time.Minute, Limit: 5, Fill: true})
	if err != nil || len(filled) != 3 || filled[0].Count != 0 {
		t.Fatalf("filled empty series = %v, %v", filled, err)
	}
}

func testGeoUsersDictionaries(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0().Add(-3 * time.Hour)
	evs := Events("a", 0, 300, t0.Add(7*time.Second), 41*time.Second)
	commit(t, s, store.Batch{Events: evs, Alerts: []alert{Alert("g1", "d", "high", t0.Add(time.Hour), evs[2].Actor.AlternateID)}})
	from, to := t0, t0.Add(4*time.Hour)
	pts, err := s.GeoPoints(bg, store.GeoQuery{From: from, To: to, EventTypePrefix: "user.", Limit: 100})
	if err != nil {
		t.Fatalf("GeoPoints: %v", err)
	}
	wantGeo := map[string]int64{}
	wantFail := map[string]int64{}
	for _, e := range evs {
		if strings.HasPrefix(e.EventType, "user.") {
			wantGeo[e.Client.Geo.City]++
			if e.Outcome.Result == "FAILURE" {
				wantFail[e.Client.Geo.City]++
			}
		}
	}
	if len(pts) != len(wantGeo) {
		t.Fatalf("geo points %v, want %v", pts, wantGeo)
	}
	for _, p := range pts {
		if wantGeo[p.City] != p.Count || wantFail[p.City] != p.Failures {
			t.Fatalf("geo point %+v, want count %d failures %d", p, wantGeo[p.City], wantFail[p.City])
		}
	}
	withActors, err := s.GeoPoints(bg, store.GeoQuery{From: from, To: to, EventTypePrefix: "user.", Limit: 100, CountActors: true})
	if err != nil || len(withActors) != len(pts) || withActors[0].Actors == 0 {
		t.Fatalf("GeoPoints CountActors = %v, %v", withActors, err)
	}

	users, err := s.UserSummaries(bg, store.UserQuery{From: from, To: to, Limit: 100})
	if err != nil {
		t.Fatalf("UserSummaries: %v", err)
	}
	wantEv := map[string]int64{}
	wantF := map[string]int64{}
	wantC := map[string]map[string]bool{}
	for _, e := range evs {
		a := e.Actor.AlternateID
		wantEv[a]++
		if e.Outcome.Result == "FAILURE" {
			wantF[a]++
		}
		if wantC[a] == nil {
			wantC[a] = map[string]bool{}
		}
		wantC[a][e.Client.Geo.Country] = true
	}
	if len(users) != len(wantEv) || users[0].Actor != evs[2].Actor.AlternateID || users[0].Alerts != 1 || users[0].MaxAlertSeverity != "high" {
		t.Fatalf("users %+v", users)
	}
	for _, u := range users {
		var cs []string
		for c := range wantC[u.Actor] {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		if u.Events != wantEv[u.Actor] || u.Failures != wantF[u.Actor] || !reflect.DeepEqual(u.Countries, cs) || u.LastSeen.IsZero() || u.LastIP == "" {
			t.Fatalf("user %+v, want events %d failures %d countries %v", u, wantEv[u.Actor], wantF[u.Actor], cs)
		}
	}
	search, err := s.UserSummaries(bg, store.UserQuery{From: from, To: to, Search: "USER03", Limit: 10})
	if err != nil || len(search) != 1 || search[0].Actor != "user03@a.example.com" {
		t.Fatalf("user search = %+v, %v", search, err)
	}
	ets, err := s.EventTypes(bg, "user.", 100)
	if err != nil || len(ets) != 3 || ets[0].EventType != "user.authentication.sso" || ets[0].Events != 60 {
		t.Fatalf("EventTypes = %+v, %v", ets, err)
	}
	actors, err := s.Actors(bg, "user0", 100)
	if err != nil || len(actors) != 7 {
		t.Fatalf("Actors = %+v, %v", actors, err)
	}
	var total int64
	for _, a := range actors {
		total += a.Events
	}
	if total != 300 || actors[0].LastSeen.Before(actors[6].LastSeen) {
		t.Fatalf("actors %+v", actors)
	}
}

func testPosture(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0()
	if _, ok, err := s.LatestPostureReport(bg, ""); err != nil || ok {
		t.Fatalf("empty LatestPostureReport: %v %v", ok, err)
	}
	for i, p := range []string{"baseline", "strict", "baseline"} {
		rec := store.PostureRecord{Time: t0.Add(time.Duration(i) * time.Hour), Profile: p, Score: float64(50 + i), JSON: []byte(`{"i":` + string(rune('0'+i)) + `}`),
			Checks: []store.PostureCheckStatus{{ID: "okta.password.min_length", Title: "t", Status: "fail", Findings: 1, Failing: 1}, {ID: "okta.mfa", Status: "pass"}}}
		if err := s.SavePostureReport(bg, rec); err != nil {
			t.Fatalf("SavePostureReport: %v", err)
		}
	}
	last, ok, err := s.LatestPostureReport(bg, "baseline")
	if err != nil || !ok || last.Score != 52 || string(last.JSON) != `{"i":2}` || len(last.Checks) != 2 || last.Checks[0].ID != "okta.mfa" {
		t.Fatalf("LatestPostureReport = %+v %v %v", last, ok, err)
	}
	if any, _, _ := s.LatestPostureReport(bg, ""); any.Score != 52 {
		t.Fatalf("latest of any profile: %+v", any)
	}
	hist, err := s.PostureHistory(bg, time.Time{}, time.Time{}, "")
	if err != nil || len(hist) != 3 || hist[1].Profile != "strict" || len(hist[1].Checks) != 2 || hist[0].JSON != nil {
		t.Fatalf("PostureHistory = %+v, %v", hist, err)
	}
	if err := s.SaveRegression(bg, store.Regression{Time: t0, CheckID: "okta.mfa", From: "pass", To: "fail", Actor: "admin@x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRegression(bg, store.Regression{Time: t0.Add(time.Hour), CheckID: "okta.pw", From: "pass", To: "fail"}); err != nil {
		t.Fatal(err)
	}
	regs, err := s.Regressions(bg, time.Time{}, time.Time{})
	if err != nil || len(regs) != 2 || regs[0].CheckID != "okta.pw" || regs[1].Actor != "admin@x" {
		t.Fatalf("Regressions = %+v, %v", regs, err)
	}
	if err := s.SavePostureReport(bg, store.PostureRecord{Profile: "x"}); !errors.Is(err, store.ErrInvalidBatch) {
		t.Fatalf("report without time: %v", err)
	}
}

func testPrune(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	now := time.Now().UTC()
	old := Events("a", 0, 50, now.Add(-10*24*time.Hour), time.Minute)
	recent := Events("a", 100, 50, now.Add(-3*time.Hour), time.Minute)
	commit(t, s, store.Batch{Events: append(append([]eventT{}, old...), recent...),
		Alerts: []alert{Alert("old", "d", "low", old[0].Published, "u"), Alert("new", "d", "low", recent[0].Published, "u")}})
	n, err := s.Prune(bg, now.Add(-2*24*time.Hour))
	if err != nil || n != 50 {
		t.Fatalf("Prune = %d, %v; want the 50 old events", n, err)
	}
	rows, _ := s.QueryEvents(bg, store.EventQuery{Limit: 1000})
	if len(rows) != 50 || rows[len(rows)-1].UUID != recent[0].UUID {
		t.Fatalf("%d events after prune", len(rows))
	}
	st, _ := s.Stats(bg)
	if st.Events != 50 {
		t.Fatalf("stats after prune %+v", st)
	}
	pts, err := s.CountSeries(bg, store.SeriesQuery{From: now.Add(-11 * 24 * time.Hour), To: now, Interval: time.Hour, Limit: 10})
	var total int64
	for _, p := range pts {
		total += p.Count
	}
	if err != nil || total != 50 {
		t.Fatalf("series total after prune %d, %v (roll-ups must follow the prune)", total, err)
	}
	ets, _ := s.EventTypes(bg, "", 100)
	var etTotal int64
	for _, e := range ets {
		etTotal += e.Events
	}
	if etTotal != 50 {
		t.Fatalf("event type counts after prune: %d", etTotal)
	}
	if as, _ := s.QueryAlerts(bg, store.AlertQuery{Limit: 10}); len(as) != 2 {
		t.Fatalf("Prune removed alerts: %d left", len(as))
	}
	if n, err := s.PruneAlerts(bg, now.Add(-2*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneAlerts = %d, %v", n, err)
	}
	if _, err := s.Prune(bg, time.Time{}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("Prune(zero): %v", err)
	}
}

func testInvalidQueries(t *testing.T, newDB NewDB) {
	s := newDB(t)(OrgA)
	t0 := T0()
	for name, err := range map[string]error{
		"limit 0":     errOf(s.QueryEvents(bg, store.EventQuery{})),
		"limit huge":  errOf(s.QueryEvents(bg, store.EventQuery{Limit: 1 << 30})),
		"from > to":   errOf(s.QueryEvents(bg, store.EventQuery{From: t0, To: t0.Add(-time.Hour), Limit: 1})),
		"exclude":     errOf(s.QueryEvents(bg, store.EventQuery{Limit: 1, Exclude: []store.Exclusion{{Field: "raw", Value: "x"}}})),
		"alerts":      errOf(s.QueryAlerts(bg, store.AlertQuery{})),
		"series open": errOf(s.CountSeries(bg, store.SeriesQuery{Interval: time.Minute, Limit: 1})),
		"series iv":   errOf(s.CountSeries(bg, store.SeriesQuery{From: t0, To: t0.Add(time.Hour), Limit: 1})),
		"series grp":  errOf(s.CountSeries(bg, store.SeriesQuery{From: t0, To: t0.Add(time.Hour), Interval: time.Minute, GroupBy: "zzz", Limit: 1})),
		"geo prec":    errOf(s.GeoPoints(bg, store.GeoQuery{Precision: 5, Limit: 1})),
		"users":       errOf(s.UserSummaries(bg, store.UserQuery{})),
	} {
		if !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("%s: %v, want ErrInvalidQuery", name, err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

// testOrgIsolation: two orgs in one database; everything one org reads is
// its own, even where ids collide.
func testOrgIsolation(t *testing.T, newDB NewDB) {
	open := newDB(t)
	a, b := open(OrgA), open(OrgB)
	t0 := T0()
	ea := Events("a", 0, 30, t0, time.Minute)
	eb := Events("b", 0, 20, t0, time.Minute)
	eb[0].UUID = ea[0].UUID // the same uuid in both orgs: each keeps its own
	commit(t, a, store.Batch{Events: ea, Alerts: []alert{Alert("same", "d", "high", t0, "ua", ea[1].UUID)},
		Checkpoint: &store.Checkpoint{NextURL: "a-next"}, State: map[string][]byte{"detect/k": []byte("A")}})
	res := commit(t, b, store.Batch{Events: eb, Alerts: []alert{Alert("same", "d", "low", t0, "ub", eb[1].UUID)},
		Checkpoint: &store.Checkpoint{NextURL: "b-next"}, State: map[string][]byte{"detect/k": []byte("B")}})
	if res.EventsInserted != 20 || res.AlertsInserted != 1 {
		t.Fatalf("org B's commit was deduplicated against org A: %+v", res)
	}
	if err := a.SavePostureReport(bg, store.PostureRecord{Time: t0, Profile: "p", Score: 1, Checks: []store.PostureCheckStatus{{ID: "c", Status: "pass"}}}); err != nil {
		t.Fatal(err)
	}
	if err := a.SaveRegression(bg, store.Regression{Time: t0, CheckID: "c"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s      store.Backend
		prefix string
		n      int
		next   string
		state  string
		sev    string
	}{{a, "a", 30, "a-next", "A", "high"}, {b, "b", 20, "b-next", "B", "low"}} {
		rows, err := c.s.QueryEvents(bg, store.EventQuery{Limit: 1000})
		if err != nil || len(rows) != c.n {
			t.Fatalf("org %s: %d events, %v", c.prefix, len(rows), err)
		}
		for _, r := range rows {
			if !strings.Contains(r.Actor, "@"+c.prefix+".") {
				t.Fatalf("org %s sees event of another org: %+v", c.prefix, r)
			}
		}
		if r, ok, _ := c.s.GetEvent(bg, ea[0].UUID); !ok || !strings.Contains(r.Actor, "@"+c.prefix+".") {
			t.Fatalf("org %s: GetEvent of a shared uuid returned %+v", c.prefix, r)
		}
		if cp, _, _ := c.s.LoadCheckpoint(bg); cp.NextURL != c.next {
			t.Fatalf("org %s checkpoint %q", c.prefix, cp.NextURL)
		}
		if v, _, _ := c.s.GetState(bg, "detect/k"); string(v) != c.state {
			t.Fatalf("org %s state %q", c.prefix, v)
		}
		as, _ := c.s.QueryAlerts(bg, store.AlertQuery{Limit: 10})
		if len(as) != 1 || as[0].Severity != c.sev {
			t.Fatalf("org %s alerts %+v", c.prefix, as)
		}
		links, _ := c.s.AlertEvents(bg, "same")
		if len(links) != 1 || !strings.HasPrefix(links[0], c.prefix+"-") {
			t.Fatalf("org %s alert links %v", c.prefix, links)
		}
		st, _ := c.s.Stats(bg)
		if st.Events != int64(c.n) || st.Alerts != 1 {
			t.Fatalf("org %s stats %+v", c.prefix, st)
		}
		pts, _ := c.s.CountSeries(bg, store.SeriesQuery{From: t0, To: t0.Add(2 * time.Hour), Interval: time.Hour, Limit: 10})
		if len(pts) != 1 || pts[0].Count != int64(c.n) {
			t.Fatalf("org %s series %v", c.prefix, pts)
		}
		actors, _ := c.s.Actors(bg, "", 100)
		for _, x := range actors {
			if !strings.Contains(x.Actor, "@"+c.prefix+".") {
				t.Fatalf("org %s sees actor %s", c.prefix, x.Actor)
			}
		}
		users, _ := c.s.UserSummaries(bg, store.UserQuery{From: t0, To: t0.Add(2 * time.Hour), Limit: 100})
		for _, u := range users {
			if !strings.Contains(u.Actor, "@"+c.prefix+".") && u.Actor != "u"+c.prefix {
				t.Fatalf("org %s sees user %s", c.prefix, u.Actor)
			}
		}
		geo, _ := c.s.GeoPoints(bg, store.GeoQuery{From: t0, To: t0.Add(2 * time.Hour), EventTypePrefix: "user.", Limit: 100})
		var gn int64
		for _, g := range geo {
			gn += g.Count
		}
		var wantGeo int64
		for _, e := range map[string][]eventT{"a": ea, "b": eb}[c.prefix] {
			if strings.HasPrefix(e.EventType, "user.") {
				wantGeo++
			}
		}
		if gn != wantGeo {
			t.Fatalf("org %s geo total %d, want %d", c.prefix, gn, wantGeo)
		}
	}
	if _, ok, _ := b.LatestPostureReport(bg, ""); ok {
		t.Fatal("org B sees org A's posture report")
	}
	if regs, _ := b.Regressions(bg, time.Time{}, time.Time{}); len(regs) != 0 {
		t.Fatal("org B sees org A's regression")
	}
	// leases are per org: both lead at once
	la, err := a.Lead(bg, "ha", time.Minute)
	if err != nil || !la.Leader {
		t.Fatalf("org A lead: %+v %v", la, err)
	}
	lb, err := b.Lead(bg, "hb", time.Minute)
	if err != nil || !lb.Leader {
		t.Fatalf("org B lead while A is led: %+v %v", lb, err)
	}
	// pruning org B never touches org A
	if _, err := b.Prune(bg, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.Stats(bg); st.Events != 30 {
		t.Fatalf("org B's prune removed org A's events: %+v", st)
	}
}

// testLease: one leader per org; a takeover fences the old leader's commits.
func testLease(t *testing.T, newDB NewDB) {
	open := newDB(t)
	h1, h2 := open(OrgA), open(OrgA)
	l1, err := h1.Lead(bg, "one", 2*time.Second)
	if err != nil || !l1.Leader || l1.Holder != "one" || l1.Token == 0 {
		t.Fatalf("first Lead: %+v %v", l1, err)
	}
	l2, err := h2.Lead(bg, "two", 2*time.Second)
	if err != nil || l2.Leader || l2.Holder != "one" || l2.Token != l1.Token {
		t.Fatalf("second Lead while held: %+v %v", l2, err)
	}
	if r, err := h1.Lead(bg, "one", 2*time.Second); err != nil || !r.Leader || r.Token != l1.Token || r.Expires.Before(l1.Expires) {
		t.Fatalf("renewal: %+v %v", r, err)
	}
	commit(t, h1, store.Batch{Events: Events("a", 0, 3, T0(), time.Second), Checkpoint: &store.Checkpoint{NextURL: "by-one"}})
	// the leader stops renewing; the follower takes over after the expiry
	deadline := time.Now().Add(15 * time.Second)
	for {
		l2, err = h2.Lead(bg, "two", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if l2.Leader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower never took over an expired lease: %+v", l2)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	if l2.Token <= l1.Token {
		t.Fatalf("takeover kept token %d (was %d)", l2.Token, l1.Token)
	}
	cur, err := h1.CurrentLease(bg)
	if err != nil || cur.Holder != "two" || cur.Token != l2.Token || cur.Leader {
		t.Fatalf("CurrentLease = %+v %v", cur, err)
	}
	// the deposed leader wakes up and commits: fenced, nothing kept
	_, err = h1.Commit(bg, store.Batch{Events: Events("a", 10, 3, T0(), time.Second), Checkpoint: &store.Checkpoint{NextURL: "late-one"}})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader's commit: %v, want ErrFenced", err)
	}
	if err := h1.SavePostureReport(bg, store.PostureRecord{Time: T0(), Profile: "p"}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader's posture save: %v, want ErrFenced", err)
	}
	if err := h1.SaveRegression(bg, store.Regression{Time: T0(), CheckID: "c"}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("deposed leader's regression save: %v, want ErrFenced", err)
	}
	// a follower that never led (a posture refresh asked of another
	// replica) may not write what only the leader writes
	h3 := open(OrgA)
	if err := h3.SavePostureReport(bg, store.PostureRecord{Time: T0(), Profile: "p"}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("follower's posture save: %v, want ErrFenced", err)
	}
	if err := h3.SaveRegression(bg, store.Regression{Time: T0(), CheckID: "c"}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("follower's regression save: %v, want ErrFenced", err)
	}
	if _, err := h3.Commit(bg, store.Batch{Events: Events("a", 20, 1, T0(), time.Second)}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("follower's commit: %v, want ErrFenced", err)
	}
	if _, ok, _ := h2.LatestPostureReport(bg, ""); ok {
		t.Fatal("a fenced posture save was stored")
	}
	if regs, _ := h2.Regressions(bg, time.Time{}, time.Time{}); len(regs) != 0 {
		t.Fatalf("fenced regression saves were stored: %+v", regs)
	}
	if err := h2.SavePostureReport(bg, store.PostureRecord{Time: T0(), Profile: "p"}); err != nil {
		t.Fatalf("leader's posture save: %v", err)
	}
	if err := open(OrgB).SavePostureReport(bg, store.PostureRecord{Time: T0(), Profile: "p"}); err != nil {
		t.Fatalf("another org's posture save while org A is led: %v", err)
	}
	if cp, _, _ := h2.LoadCheckpoint(bg); cp.NextURL != "by-one" {
		t.Fatalf("checkpoint after a fenced commit: %q", cp.NextURL)
	}
	if st, _ := h2.Stats(bg); st.Events != 3 {
		t.Fatalf("fenced commit kept events: %+v", st)
	}
	// the deposed one's lead attempt says who leads
	if r, err := h1.Lead(bg, "one", time.Second); err != nil || r.Leader || r.Holder != "two" {
		t.Fatalf("old leader's Lead: %+v %v", r, err)
	}
	commit(t, h2, store.Batch{Checkpoint: &store.Checkpoint{NextURL: "by-two"}})
	// resign hands over at once
	if err := h2.Resign(bg, "two"); err != nil {
		t.Fatal(err)
	}
	if r, err := h1.Lead(bg, "one", time.Minute); err != nil || !r.Leader || r.Token <= l2.Token {
		t.Fatalf("Lead after Resign: %+v %v", r, err)
	}
	commit(t, h1, store.Batch{Checkpoint: &store.Checkpoint{NextURL: "one-again"}})
	if _, err := h2.Commit(bg, store.Batch{Checkpoint: &store.Checkpoint{NextURL: "x"}}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("resigned leader's commit: %v, want ErrFenced", err)
	}
	if _, err := h1.Lead(bg, "", time.Second); err == nil {
		t.Fatal("Lead without holder accepted")
	}
}
