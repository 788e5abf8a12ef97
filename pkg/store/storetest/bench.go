package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// BenchEnd is the end of the benchmark data set (30 days before it).
var BenchEnd = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

var benchTypes = []struct {
	typ    string
	weight int
}{
	{"user.session.start", 20}, {"user.authentication.sso", 25}, {"user.authentication.auth_via_mfa", 8},
	{"user.authentication.verify", 6}, {"policy.evaluate_sign_on", 15}, {"user.session.end", 8},
	{"app.oauth2.as.authorize", 6}, {"app.oauth2.as.token.grant", 4}, {"user.mfa.okta_verify.deny_push", 1},
	{"user.account.lock", 1}, {"group.user_membership.add", 1}, {"user.lifecycle.create", 1},
	{"system.api_token.create", 1}, {"policy.rule.update", 1}, {"user.account.update_password", 2},
}

// BenchEvent is event n of the benchmark stream (the same distribution as
// pkg/store's SQLite benchmarks: 5000 users, weighted event types, 5 %
// failures, ~1.8 KB Okta-shaped raw JSON).
func BenchEvent(rng *rand.Rand, n int, at time.Time) event.Event {
	w := rng.IntN(100)
	typ := benchTypes[0].typ
	for _, bt := range benchTypes {
		if w < bt.weight {
			typ = bt.typ
			break
		}
		w -= bt.weight
	}
	user := rng.IntN(5000)
	c := cities[(user+rng.IntN(20)/19)%len(cities)]
	ev := event.Event{
		UUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", n>>16, n), Published: at.UTC(), EventType: typ, Severity: "INFO",
		DisplayMessage: "Event " + typ,
		Actor:          event.Actor{ID: fmt.Sprintf("00u%07d", user), Type: "User", AlternateID: fmt.Sprintf("user%04d@example.com", user), DisplayName: "User"},
		Client: event.Client{IPAddress: fmt.Sprintf("10.%d.%d.%d", user/250, user%250, rng.IntN(4)),
			Geo: event.Geo{City: c.name, Country: c.country, Lat: c.lat + float64(user%7)/10, Lon: c.lon, HasLatLon: true}},
		Outcome: event.Outcome{Result: "SUCCESS"},
		Auth:    event.AuthContext{ExternalSessionID: fmt.Sprintf("102s%06d", user*10+rng.IntN(10))},
		Targets: []event.Target{{ID: "0oa1", Type: "AppInstance", AlternateID: "Salesforce"}},
	}
	if rng.IntN(20) == 0 {
		ev.Outcome = event.Outcome{Result: "FAILURE", Reason: "INVALID_CREDENTIALS"}
	}
	ev.Raw = benchRaw(&ev)
	return ev
}

func benchRaw(ev *event.Event) json.RawMessage {
	m := map[string]any{
		"uuid": ev.UUID, "published": ev.Published.Format("2006-01-02T15:04:05.000Z"), "eventType": ev.EventType,
		"version": "0", "severity": ev.Severity, "displayMessage": ev.DisplayMessage, "legacyEventType": "core.user_auth.login_success",
		"actor": map[string]any{"id": ev.Actor.ID, "type": "User", "alternateId": ev.Actor.AlternateID, "displayName": ev.Actor.DisplayName, "detailEntry": nil},
		"client": map[string]any{"userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36", "os": "Mac OS X", "browser": "CHROME"},
			"zone": "null", "device": "Computer", "id": nil, "ipAddress": ev.Client.IPAddress,
			"geographicalContext": map[string]any{"city": ev.Client.Geo.City, "state": "State", "country": ev.Client.Geo.Country, "postalCode": "94107",
				"geolocation": map[string]any{"lat": ev.Client.Geo.Lat, "lon": ev.Client.Geo.Lon}}},
		"outcome":     map[string]any{"result": ev.Outcome.Result, "reason": ev.Outcome.Reason},
		"target":      []any{map[string]any{"id": "0oa1", "type": "AppInstance", "alternateId": "Salesforce", "displayName": "Salesforce.com", "detailEntry": map[string]any{"signOnModeType": "SAML_2_0"}}},
		"transaction": map[string]any{"type": "WEB", "id": "Wc1nMn-XhEkhSEwHVJdLvwAABAk", "detail": map[string]any{}},
		"debugContext": map[string]any{"debugData": map[string]any{
			"requestId": "Wc1nMn-XhEkhSEwHVJdLvwAABAk", "requestUri": "/idp/idx/authenticators/poll", "url": "/idp/idx/authenticators/poll?",
			"behaviors":         "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}",
			"risk":              "{level=LOW}",
			"deviceFingerprint": "b4ad0b6d1bf66c2b3b5a4e0d6f0f7b8c", "threatSuspected": "false",
			"dtHash": "2b1c5d0c2f7b9e0a7c1f5f3d8e2a9b6c4d7e1f0a3b5c8d9e2f4a6b8c0d1e3f5",
		}},
		"authenticationContext": map[string]any{"authenticationStep": 0, "externalSessionId": ev.Auth.ExternalSessionID, "rootSessionId": "idx" + ev.Auth.ExternalSessionID},
		"securityContext":       map[string]any{"asNumber": 7922, "asOrg": "comcast", "isp": "comcast cable communications llc", "domain": "comcast.net", "isProxy": false},
		"request": map[string]any{"ipChain": []any{map[string]any{"ip": ev.Client.IPAddress, "version": "V4", "source": nil,
			"geographicalContext": map[string]any{"city": ev.Client.Geo.City, "state": "State", "country": ev.Client.Geo.Country, "postalCode": "94107",
				"geolocation": map[string]any{"lat": ev.Client.Geo.Lat, "lon": ev.Client.Geo.Lon}}}}},
	}
	b, _ := json.Marshal(m)
	return b
}

// Fill commits total benchmark events spanning the 30 days before
// BenchEnd (resuming after what s holds), with ~5000 alerts per 1M events.
func Fill(tb testing.TB, s store.Backend, total int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- benchmark data, reproducible on purpose
	span := 30 * 24 * time.Hour
	step := span / time.Duration(total)
	begin := BenchEnd.Add(-span)
	st, err := s.Stats(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for n := int(st.Events); n < total; {
		k := min(2000, total-n)
		evs := make([]event.Event, k)
		for j := range evs {
			evs[j] = BenchEvent(rng, n+j, begin.Add(time.Duration(n+j)*step))
		}
		var alerts []alert
		for j := 0; j < k; j += 200 {
			e := &evs[j]
			det := []string{"failed_logins", "password_spray", "impossible_travel", "mfa_fatigue", "anonymous_ip"}[(n+j)/200%5]
			sev := []string{"low", "medium", "high", "critical"}[(n+j)/200%4]
			alerts = append(alerts, Alert(fmt.Sprintf("al-%d", n+j), det, sev, e.Published, e.Actor.AlternateID, e.UUID))
		}
		if _, err := s.Commit(ctx, store.Batch{Events: evs, Alerts: alerts}); err != nil {
			tb.Fatal(err)
		}
		n += k
	}
}

// BenchQuery runs fn b.N times and reports p50/p95 latency.
func BenchQuery(b *testing.B, fn func(i int) (int, error)) { benchQuery(b, fn, nil) }

func benchQuery(b *testing.B, fn func(i int) (int, error), cpu CPUMeter) {
	b.Helper()
	durs := make([]time.Duration, 0, b.N)
	rows := 0
	var proc0, server0 time.Duration
	if cpu != nil {
		proc0, server0, _ = cpu()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		n, err := fn(i)
		durs = append(durs, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.StopTimer()
	if cpu != nil {
		proc, server, ok := cpu()
		b.ReportMetric(float64((proc-proc0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		if ok {
			b.ReportMetric(float64((server-server0).Microseconds())/1000/float64(b.N), "server-cpu-ms/op")
		}
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	pct := func(p float64) float64 {
		return float64(durs[min(len(durs)-1, int(float64(len(durs))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}

// PanelQueries runs every panel query of the dashboards against s (the
// same cases as pkg/store's BenchmarkQuery).
func PanelQueries(b *testing.B, s store.Backend) { PanelQueriesCPU(b, s, nil) }

// CPUMeter is the CPU time spent so far by the test process and by the
// database server for it; ok is false when the server's cannot be read.
type CPUMeter func() (proc, server time.Duration, ok bool)

// PanelQueriesCPU is PanelQueries reporting each query's CPU time per run
// as well when cpu is set: cpu-ms/op (this process) and server-cpu-ms/op.
// CPU time is what a loaded machine does not inflate much, where the
// latencies are.
func PanelQueriesCPU(b *testing.B, s store.Backend, cpu CPUMeter) {
	eachPanelQuery(s, func(name string, fn func(i int) (int, error)) {
		b.Run(name, func(b *testing.B) { benchQuery(b, fn, cpu) })
	})
}

// CheckPanelQueries runs every panel query of PanelQueries once against s,
// each a subtest, and fails one that errs or returns another number of
// rows than against ref (the same data through another handle: a
// follower's answers are the leader's).
func CheckPanelQueries(t *testing.T, s, ref store.Backend) {
	want := map[string]int{}
	total := 0
	eachPanelQuery(ref, func(name string, fn func(i int) (int, error)) {
		n, err := fn(0)
		if err != nil {
			t.Fatalf("%s on the reference: %v", name, err)
		}
		want[name] = n
		total += n
	})
	if total == 0 {
		t.Fatal("no panel query returns a row on the reference: the check proves nothing")
	}
	eachPanelQuery(s, func(name string, fn func(i int) (int, error)) {
		t.Run(name, func(t *testing.T) {
			n, err := fn(0)
			if err != nil || n != want[name] {
				t.Fatalf("%d rows (%v), the reference %d", n, err, want[name])
			}
		})
	})
}

// eachPanelQuery calls q with every panel query of the dashboards against
// s: fn(i) runs the query for a range ending i hours before BenchEnd.
func eachPanelQuery(s store.Backend, q func(name string, fn func(i int) (int, error))) {
	ctx := context.Background()
	week := 7 * 24 * time.Hour
	endAt := func(i int) time.Time { return BenchEnd.Add(-time.Duration(i%72) * time.Hour) }
	actor := func(i int) string { return fmt.Sprintf("user%04d@example.com", (i*37)%5000) }
	q("events_24h_limit1000", func(i int) (int, error) {
		r, err := s.QueryEvents(ctx, store.EventQuery{From: endAt(i).Add(-24 * time.Hour), To: endAt(i), Limit: 1000})
		return len(r), err
	})
	q("events_7d_actor", func(i int) (int, error) {
		r, err := s.QueryEvents(ctx, store.EventQuery{From: endAt(i).Add(-week), To: endAt(i), Actor: actor(i), Limit: 1000})
		return len(r), err
	})
	q("events_7d_session", func(i int) (int, error) {
		r, err := s.QueryEvents(ctx, store.EventQuery{From: endAt(i).Add(-week), To: endAt(i), SessionID: fmt.Sprintf("102s%06d", ((i*37)%5000)*10+i%10), Limit: 1000})
		return len(r), err
	})
	q("events_7d_eventType_failures", func(i int) (int, error) {
		r, err := s.QueryEvents(ctx, store.EventQuery{From: endAt(i).Add(-week), To: endAt(i), EventTypePrefix: "user.session.", Outcome: "FAILURE", Limit: 1000})
		return len(r), err
	})
	q("events_7d_text", func(i int) (int, error) {
		r, err := s.QueryEvents(ctx, store.EventQuery{From: endAt(i).Add(-week), To: endAt(i), Text: fmt.Sprintf("user%04d@", (i*37)%5000), Limit: 100})
		return len(r), err
	})
	q("series_7d_1h_by_eventType", func(i int) (int, error) {
		r, err := s.CountSeries(ctx, store.SeriesQuery{From: endAt(i).Add(-week).Add(17 * time.Second), To: endAt(i), Interval: time.Hour, GroupBy: store.GroupEventType, Limit: 50})
		return len(r), err
	})
	q("series_7d_5m_by_outcome", func(i int) (int, error) {
		r, err := s.CountSeries(ctx, store.SeriesQuery{From: endAt(i).Add(-week), To: endAt(i), Interval: 5 * time.Minute, GroupBy: store.GroupOutcome, Limit: 50})
		return len(r), err
	})
	q("series_7d_1h_actor", func(i int) (int, error) {
		r, err := s.CountSeries(ctx, store.SeriesQuery{From: endAt(i).Add(-week), To: endAt(i), Interval: time.Hour, Actor: actor(i), GroupBy: store.GroupOutcome, Limit: 50})
		return len(r), err
	})
	q("series_7d_1h_alerts_by_detector", func(i int) (int, error) {
		r, err := s.CountSeries(ctx, store.SeriesQuery{From: endAt(i).Add(-week), To: endAt(i), Interval: time.Hour, GroupBy: store.GroupDetector, Limit: 50})
		return len(r), err
	})
	// Explore's logs volume of a logs query (pkg/plugin/query_logs_volume.go):
	// every event of the range counted per bucket and level, at the
	// interval the plugin picks for 1 000 points (24 h: 2 min, 7 d: 11 min:
	// plugin.VolumeInterval rounds up to whole minutes), without a filter,
	// with an actor and with free text
	volume := func(span time.Duration, eq func(i int) store.EventQuery) func(i int) (int, error) {
		return func(i int) (int, error) {
			q := eq(i)
			q.From, q.To = endAt(i).Add(-span), endAt(i)
			iv := ((span / 1000).Truncate(time.Second) + time.Second + time.Minute - 1).Truncate(time.Minute)
			r, err := s.CountVolume(ctx, store.VolumeQuery{EventQuery: q, Interval: iv})
			return len(r), err
		}
	}
	q("volume_24h", volume(24*time.Hour, func(int) store.EventQuery { return store.EventQuery{} }))
	q("volume_7d", volume(week, func(int) store.EventQuery { return store.EventQuery{} }))
	// the same at the interval before whole minutes (605 s): every event of
	// the week read, as a volume with a filter does
	q("volume_7d_rows", func(i int) (int, error) {
		r, err := s.CountVolume(ctx, store.VolumeQuery{EventQuery: store.EventQuery{From: endAt(i).Add(-week), To: endAt(i)}, Interval: 605 * time.Second})
		return len(r), err
	})
	q("volume_7d_actor", volume(week, func(i int) store.EventQuery { return store.EventQuery{Actor: actor(i)} }))
	q("volume_7d_text", volume(week, func(i int) store.EventQuery {
		return store.EventQuery{Text: fmt.Sprintf("user%04d@", (i*37)%5000)}
	}))
	q("geo_7d", func(i int) (int, error) {
		r, err := s.GeoPoints(ctx, store.GeoQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
		return len(r), err
	})
	q("geo_24h", func(i int) (int, error) {
		r, err := s.GeoPoints(ctx, store.GeoQuery{From: endAt(i).Add(-24 * time.Hour), To: endAt(i), Limit: 1000})
		return len(r), err
	})
	// the Geomap panel's own query (pkg/plugin/query_geo.go), with the
	// distinct users per point (_unaligned: ends 17 min 23 s off the hour,
	// as Grafana's "now", so both sub-hour ends are read from raw rows)
	for _, c := range []struct {
		name      string
		span, off time.Duration
	}{{"geo_24h_actors", 24 * time.Hour, 0}, {"geo_24h_actors_unaligned", 24 * time.Hour, 17*time.Minute + 23*time.Second},
		{"geo_7d_actors", week, 0}, {"geo_7d_actors_unaligned", week, 17*time.Minute + 23*time.Second}} {
		q(c.name, func(i int) (int, error) {
			to := endAt(i).Add(-c.off)
			r, err := s.GeoPoints(ctx, store.GeoQuery{From: to.Add(-c.span), To: to, Limit: 1000, CountActors: true})
			return len(r), err
		})
	}
	q("users_7d", func(i int) (int, error) {
		r, err := s.UserSummaries(ctx, store.UserQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 100})
		return len(r), err
	})
	q("users_24h", func(i int) (int, error) {
		r, err := s.UserSummaries(ctx, store.UserQuery{From: endAt(i).Add(-24 * time.Hour), To: endAt(i), Limit: 100})
		return len(r), err
	})
	q("alerts_7d", func(i int) (int, error) {
		r, err := s.QueryAlerts(ctx, store.AlertQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
		return len(r), err
	})
	if r, ok := s.(store.AlertTableReader); ok {
		// the alerts table panel: from columns, and as a backend without
		// them serves it (decoded alerts, TableRowOf), side by side
		q("alert_table_7d", func(i int) (int, error) {
			rows, err := r.QueryAlertTable(ctx, store.TriageQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
			return len(rows), err
		})
	}
	if tr, ok := s.(store.Triager); ok {
		q("alert_table_7d_decoded", func(i int) (int, error) {
			as, err := tr.QueryTriagedAlerts(ctx, store.TriageQuery{From: endAt(i).Add(-week), To: endAt(i), Limit: 1000})
			for _, a := range as {
				_ = store.TableRowOf(a)
			}
			return len(as), err
		})
	}
	q("actors_search", func(i int) (int, error) {
		r, err := s.Actors(ctx, fmt.Sprintf("%03d", i%1000), 20)
		return len(r), err
	})
	q("stats", func(i int) (int, error) {
		_, err := s.Stats(ctx)
		return 1, err
	})
}
