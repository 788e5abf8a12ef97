package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

const testToken = "00plugin-e2e-SECRET-token-do-not-leak"

// env is one plugin process connected to one simulated org.
type env struct {
	org  *demo.Org
	p    *plugintest.Plugin
	ds   plugintest.DataSource
	dir  string
	from time.Time
	to   time.Time
}

func newEnv(t testing.TB, uid string, users int, history time.Duration, opts ...func(*demo.Options)) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the plugin binary")
	}
	bin, err := plugintest.Build()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	do := demo.Options{Users: users, History: history, Now: now, Token: testToken, Tick: time.Hour}
	for _, o := range opts {
		o(&do)
	}
	org, err := demo.Start(do)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(org.Close)
	p, err := plugintest.Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	dir := t.TempDir()
	lists := map[string]any{}
	for k, v := range org.Lists {
		lists[k] = v
	}
	ds := plugintest.DataSource{
		UID: uid, Name: "Okta test",
		JSONData: map[string]any{"orgUrl": org.URL, "authType": "apiToken", "backfill": history.String(),
			"pollInterval": "5s", "storagePath": dir, "ipLists": lists},
		Secure: map[string]string{"apiToken": testToken},
	}
	return &env{org: org, p: p, ds: ds, dir: dir, from: now.Add(-history - time.Hour), to: now.Add(time.Hour)}
}

type health struct {
	Status  string
	Message string
	Details map[string]any
}

func (e *env) health(t testing.TB, ds plugintest.DataSource) health {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := e.p.CheckHealth(ctx, ds)
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	h := health{Status: r.Status.String(), Message: r.Message}
	if len(r.JsonDetails) > 0 {
		_ = json.Unmarshal(r.JsonDetails, &h.Details)
	}
	return h
}

// waitIngested waits until the plugin has stored every simulator event.
func (e *env) waitIngested(t testing.TB, ds plugintest.DataSource) {
	t.Helper()
	want := e.org.Sim.EventCount()
	var got int
	if !testwait.For(3*time.Minute, func() bool { got = e.eventTotal(t, ds); return got == want }) {
		t.Fatalf("ingested %d of %d events; health: %+v", got, want, e.health(t, ds))
	}
}

// eventTotal sums the timeseries query of every stored event.
// waitTotal polls the stored event total until cond holds (60 s at most).
func (e *env) waitTotal(t testing.TB, ds plugintest.DataSource, cond func(int) bool, what string) int {
	t.Helper()
	var n int
	if !testwait.For(60*time.Second, func() bool { n = e.eventTotal(t, ds); return cond(n) }) {
		t.Fatalf("timed out waiting for %s: %d events stored", what, n)
	}
	return n
}

func (e *env) eventTotal(t testing.TB, ds plugintest.DataSource) int {
	t.Helper()
	res := e.query(t, ds, false, plugintest.Query{RefID: "T", Model: map[string]any{"queryType": "timeseries", "interval": "24h"}})
	r := res["T"]
	if r.Error != "" {
		t.Fatalf("timeseries: %s", r.Error)
	}
	total := 0.0
	for _, f := range r.Frames {
		for i := 0; i < f.Rows(); i++ {
			v, _ := f.Fields[1].ConcreteAt(i)
			total += v.(float64)
		}
	}
	return int(total)
}

// waitPosture waits for the first posture report and returns its number of checks.
func (e *env) waitPosture(t testing.TB, ds plugintest.DataSource) int {
	t.Helper()
	rows := 0
	testwait.Until(t, 60*time.Second, "the first posture report", func() bool {
		r := e.query(t, ds, false, plugintest.Query{RefID: "P", Model: map[string]any{"queryType": "posture"}})["P"]
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		if len(r.Frames) == 1 {
			rows = r.Frames[0].Rows()
		}
		return rows > 0
	})
	return rows
}

func (e *env) query(t testing.TB, ds plugintest.DataSource, fromAlert bool, qs ...plugintest.Query) map[string]plugintest.Result {
	t.Helper()
	for i := range qs {
		if qs[i].From.IsZero() {
			qs[i].From, qs[i].To = e.from, e.to
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.p.QueryData(ctx, ds, fromAlert, qs...)
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	return res
}

func TestPluginOverGRPC(t *testing.T) {
	e := newEnv(t, "e2e-main", 40, 3*24*time.Hour)

	t.Run("health with good credentials", func(t *testing.T) {
		h := e.health(t, e.ds)
		if h.Status != "OK" && h.Status != "UNKNOWN" {
			t.Fatalf("health %s: %s", h.Status, h.Message)
		}
		if !strings.Contains(h.Message, "Connected to Okta") {
			t.Fatalf("message %q", h.Message)
		}
		for _, k := range []string{"backfillProgress", "lagSeconds", "rateLimitRemaining", "geoip"} {
			if _, ok := h.Details[k]; !ok {
				t.Errorf("health details lack %s: %v", k, h.Details)
			}
		}
	})

	e.waitIngested(t, e.ds)

	t.Run("every query type", func(t *testing.T) {
		actor := e.org.History.Users[0].Login
		cases := []struct {
			name  string
			model map[string]any
			check func(t *testing.T, fs data.Frames)
		}{
			{"activity", map[string]any{"queryType": "activity", "limit": 50}, rowsAtLeast(1, "uuid")},
			{"activity logs", map[string]any{"queryType": "activity", "format": "logs", "eventType": "user.session.start", "limit": 10}, rowsAtLeast(1, "body")},
			{"activity actor", map[string]any{"queryType": "activity", "actor": actor, "limit": 100}, allEqual("actor", actor)},
			{"activity outcome", map[string]any{"queryType": "activity", "outcome": "failure", "limit": 100}, allEqual("outcome", "FAILURE")},
			{"alerts", map[string]any{"queryType": "alerts"}, rowsAtLeast(1, "detector")},
			{"alerts by severity", map[string]any{"queryType": "alerts", "severity": "high,critical"}, allIn("severity", "high", "critical")},
			{"timeseries outcome", map[string]any{"queryType": "timeseries", "groupBy": "outcome", "eventType": "user.session.start"}, framesAtLeast(1)},
			{"timeseries detector", map[string]any{"queryType": "timeseries", "groupBy": "detector"}, framesAtLeast(1)},
			{"geo", map[string]any{"queryType": "geo"}, rowsAtLeast(1, "latitude")},
			{"posture", map[string]any{"queryType": "posture"}, nil},
			{"posture_history", map[string]any{"queryType": "posture_history"}, nil},
			{"users", map[string]any{"queryType": "users", "limit": 20}, rowsAtLeast(1, "actor")},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.query(t, e.ds, false, plugintest.Query{RefID: "A", Model: c.model})["A"]
				if r.Error != "" {
					t.Fatalf("error: %s", r.Error)
				}
				if c.check != nil {
					c.check(t, r.Frames)
				}
			})
		}
	})

	t.Run("posture evaluated", func(t *testing.T) {
		if n := e.waitPosture(t, e.ds); n < 60 {
			t.Fatalf("posture table has %d checks, want all of them", n)
		}
		r := e.query(t, e.ds, true, plugintest.Query{RefID: "H", QueryType: "posture_history", Model: map[string]any{}})["H"]
		if r.Error != "" || len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
			t.Fatalf("posture_history from alert: %q %v", r.Error, r.Frames)
		}
	})

	t.Run("alert rule queries are numeric", func(t *testing.T) {
		r := e.query(t, e.ds, true, plugintest.Query{RefID: "A", QueryType: "timeseries", Model: map[string]any{"source": "alerts", "groupBy": "detector"}})["A"]
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		assertNumeric(t, r.Frames)
		// queryType from the request wins over the model's.
		r = e.query(t, e.ds, true, plugintest.Query{RefID: "B", QueryType: "timeseries", Model: map[string]any{"queryType": "activity"}})["B"]
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		assertNumeric(t, r.Frames)
		// An empty window is an explicit zero, never "no data".
		r = e.query(t, e.ds, true, plugintest.Query{RefID: "C", QueryType: "timeseries", Model: map[string]any{"eventType": "no.such.event"},
			From: time.Now().Add(-15 * time.Minute), To: time.Now()})["C"]
		if r.Error != "" || len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
			t.Fatalf("empty window: %q %v", r.Error, r.Frames)
		}
		// A table type from an alert rule is a clear error.
		r = e.query(t, e.ds, true, plugintest.Query{RefID: "D", QueryType: "activity", Model: map[string]any{}})["D"]
		if !strings.Contains(r.Error, "not numeric") {
			t.Fatalf("activity from alert: %q", r.Error)
		}
	})

	t.Run("bad queries get clear errors", func(t *testing.T) {
		res := e.query(t, e.ds, false,
			plugintest.Query{RefID: "U", Model: map[string]any{"queryType": "sql"}},
			plugintest.Query{RefID: "L", Model: map[string]any{"queryType": "activity", "limit": 1e9}},
			plugintest.Query{RefID: "M", Model: map[string]any{}},
			plugintest.Query{RefID: "OK", Model: map[string]any{"queryType": "users"}},
		)
		for ref, want := range map[string]string{"U": `unknown queryType "sql"`, "L": "out of range", "M": "queryType is missing"} {
			if !strings.Contains(res[ref].Error, want) {
				t.Errorf("%s: error %q, want %q", ref, res[ref].Error, want)
			}
		}
		if res["OK"].Error != "" {
			t.Errorf("a bad query must not fail its neighbours: %s", res["OK"].Error)
		}
		// Invalid JSON reaches the plugin raw.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := e.p.Data.QueryData(ctx, &pluginv2.QueryDataRequest{PluginContext: e.ds.PluginContext(), Queries: []*pluginv2.DataQuery{{
			RefId: "J", Json: []byte(`{"queryType":`), TimeRange: &pluginv2.TimeRange{FromEpochMS: e.from.UnixMilli(), ToEpochMS: e.to.UnixMilli()}}}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(resp.Responses["J"].Error, "not valid JSON") {
			t.Fatalf("invalid JSON: %q", resp.Responses["J"].Error)
		}
		if e.p.Exited() {
			t.Fatal("the plugin process died")
		}
	})

	t.Run("resources", func(t *testing.T) {
		ctx := context.Background()
		status, body, err := e.p.CallResource(ctx, e.ds, "GET", "detectors", nil)
		if err != nil || status != 200 {
			t.Fatalf("detectors: %d %v %s", status, err, body)
		}
		var dets []map[string]any
		if err := json.Unmarshal(body, &dets); err != nil || len(dets) < 11 {
			t.Fatalf("detectors: %v %d", err, len(dets))
		}
		status, body, _ = e.p.CallResource(ctx, e.ds, "GET", "event-types?prefix=user.session", nil)
		var types []map[string]any
		if status != 200 || json.Unmarshal(body, &types) != nil || len(types) == 0 {
			t.Fatalf("event-types: %d %s", status, body)
		}
		for _, ty := range types {
			if !strings.HasPrefix(ty["eventType"].(string), "user.session") {
				t.Fatalf("event type %v outside the prefix", ty)
			}
		}
		login := e.org.History.Users[0].Login
		status, body, _ = e.p.CallResource(ctx, e.ds, "GET", "actors?q="+login[:4], nil)
		if status != 200 || !bytes.Contains(body, []byte(login[:4])) {
			t.Fatalf("actors: %d %s", status, body)
		}
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{"GET", "actors?limit=0", 400}, {"GET", "actors?limit=abc", 400}, {"POST", "detectors", 405},
			{"GET", "posture/refresh", 405}, {"GET", "nope", 404}, {"GET", "event-types?prefix=" + strings.Repeat("x", 300), 400},
		} {
			status, body, _ := e.p.CallResource(ctx, e.ds, c.method, c.path, nil)
			if status != c.status || !bytes.Contains(body, []byte(`"error"`)) {
				t.Errorf("%s %s: %d %s, want %d with an error", c.method, c.path, status, body, c.status)
			}
		}
		// Only Editors and Admins may refresh (the role comes from the plugin context).
		for _, viewer := range []plugintest.DataSource{e.ds, e.ds.As("vic", "Viewer")} {
			if status, body, _ := e.p.CallResource(ctx, viewer, "POST", "posture/refresh", nil); status != 403 || !bytes.Contains(body, []byte("Editor")) {
				t.Fatalf("posture/refresh without an Editor: %d %s", status, body)
			}
		}
		status, body, _ = e.p.CallResource(ctx, e.ds.As("ed", "Editor"), "POST", "posture/refresh", nil)
		var pr map[string]any
		if status != 200 || json.Unmarshal(body, &pr) != nil || pr["score"] == nil {
			t.Fatalf("posture/refresh: %d %s", status, body)
		}
	})

	t.Run("live tail streams new events", func(t *testing.T) {
		ctx := context.Background()
		sr, err := e.p.SubscribeStream(ctx, e.ds, "tail/events")
		if err != nil || sr.Status != pluginv2.SubscribeStreamResponse_OK {
			t.Fatalf("subscribe: %v %v", err, sr)
		}
		if sr, _ := e.p.SubscribeStream(ctx, e.ds, "tail/nope"); sr.Status != pluginv2.SubscribeStreamResponse_NOT_FOUND {
			t.Fatalf("unknown path: %v", sr.Status)
		}
		uuid := fmt.Sprintf("live-%d", time.Now().UnixNano())
		// The event is added once the stream has sent its schema frame
		// (no rows): the tail is subscribed from then on.
		added := false
		addEvent := func() {
			added = true
			if err := e.org.Sim.Add(json.RawMessage(`{"uuid":"` + uuid + `","published":"` + time.Now().UTC().Format(time.RFC3339Nano) +
				`","eventType":"user.session.start","actor":{"alternateId":"live@example.com","type":"User"},"outcome":{"result":"SUCCESS"},"client":{"ipAddress":"198.51.100.7"}}`)); err != nil {
				t.Errorf("add live event: %v", err)
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		found := false
		logs := e.query(t, e.ds, false, plugintest.Query{RefID: "L", Model: map[string]any{"queryType": "activity", "format": "logs", "limit": 5}})["L"]
		if logs.Error != "" || len(logs.Frames) != 1 {
			t.Fatalf("logs query: %q %v", logs.Error, logs.Frames)
		}
		err = e.p.RunStream(sctx, e.ds, "tail/events", func(f *data.Frame) bool {
			// One schema for the tail and the logs query: same fields, types, order.
			if len(f.Fields) != len(logs.Frames[0].Fields) {
				t.Errorf("stream frame has %d fields, logs query %d", len(f.Fields), len(logs.Frames[0].Fields))
				return false
			}
			for i, fl := range f.Fields {
				q := logs.Frames[0].Fields[i]
				if fl.Name != q.Name || fl.Type() != q.Type() {
					t.Errorf("stream field %d %s %s, logs query %s %s", i, fl.Name, fl.Type(), q.Name, q.Type())
				}
			}
			if f.Meta == nil || f.Meta.Type != data.FrameTypeLogLines {
				t.Errorf("stream frame meta %+v", f.Meta)
			}
			if !added {
				if f.Rows() != 0 {
					t.Errorf("the first stream frame has %d rows, want the schema alone", f.Rows())
				}
				addEvent()
				return true
			}
			fld, _ := f.FieldByName("id")
			for i := 0; fld != nil && i < fld.Len(); i++ {
				if fld.At(i).(string) == uuid {
					found = true
					return false
				}
			}
			return true
		})
		if err != nil || !found {
			t.Fatalf("stream: err %v, found %v", err, found)
		}
	})

	t.Run("live alerts tail sends grouped-alert updates with the same id", func(t *testing.T) {
		ctx := context.Background()
		if sr, err := e.p.SubscribeStream(ctx, e.ds, "tail/alerts"); err != nil || sr.Status != pluginv2.SubscribeStreamResponse_OK {
			t.Fatalf("subscribe: %v %v", err, sr)
		}
		// An admin deactivates the SIEM log stream, again and again: one
		// log_stream_tampering incident (re-arm 1 h) whose alert grows.
		// Events older than the engine's watermark are detected at once.
		actor := fmt.Sprintf("tamper-%d@example.com", time.Now().UnixNano())
		base := time.Now().Add(-20 * time.Minute)
		add := func(i int) {
			_ = e.org.Sim.Add(json.RawMessage(fmt.Sprintf(`{"uuid":"%s-%d","published":"%s","eventType":"system.log_stream.lifecycle.deactivate",`+
				`"actor":{"id":"00utamper","alternateId":"%s","type":"User"},"outcome":{"result":"SUCCESS"},"client":{"ipAddress":"198.51.100.77"},`+
				`"target":[{"id":"0Oxsplunk","type":"LogStream","alternateId":"Splunk Cloud","displayName":"Splunk Cloud"}]}`,
				actor, i, base.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC3339Nano), actor)))
		}
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		// Keep adding matches (one per poll interval) until the stream has
		// shown the incident's alert and an update of it: the stream may
		// subscribe after the first match was committed.
		go func() {
			tick := time.NewTicker(6 * time.Second)
			defer tick.Stop()
			for i := 0; i < 12; i++ {
				add(i)
				select {
				case <-sctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
		alertID, counts := "", map[string]bool{}
		var updates int
		err := e.p.RunStream(sctx, e.ds, "tail/alerts", func(f *data.Frame) bool {
			if f.Meta == nil || f.Meta.Type != data.FrameTypeLogLines {
				t.Errorf("alerts tail frame meta %+v, want log lines", f.Meta)
				return false
			}
			id, _ := f.FieldByName("id")
			lab, _ := f.FieldByName("labels")
			if id == nil || lab == nil {
				t.Errorf("alerts tail frame without id or labels: %v", f.Fields)
				return false
			}
			for i := 0; i < id.Len(); i++ {
				var l map[string]string
				if err := json.Unmarshal(lab.At(i).(json.RawMessage), &l); err != nil {
					t.Errorf("labels: %v", err)
					return false
				}
				if l["actor"] != actor {
					continue
				}
				if l["detector"] != "log_stream_tampering" || l["alertSeverity"] != "critical" {
					t.Errorf("line labels %v", l)
				}
				if alertID == "" {
					alertID = id.At(i).(string)
				}
				if id.At(i).(string) != alertID {
					t.Errorf("a second alert id %s for one incident (first %s): labels %v", id.At(i), alertID, l)
					return false
				}
				if l["change"] == "update" {
					updates++
				}
				counts[l["count"]] = true
			}
			return updates < 2 // two updates: the count grew twice under one id
		})
		if err != nil || updates < 2 || alertID == "" || len(counts) < 2 {
			t.Fatalf("alerts tail: err %v, alert %q, %d updates, counts seen %v", err, alertID, updates, counts)
		}
		// the stored alert is the incident, under the same id
		res := e.query(t, e.ds, false, plugintest.Query{RefID: "A", Model: map[string]any{"queryType": "alerts", "actor": actor}})["A"]
		if res.Error != "" || len(res.Frames) != 1 || res.Frames[0].Rows() != 1 {
			t.Fatalf("alerts query for %s: %q %v", actor, res.Error, res.Frames)
		}
		if got, _ := res.Frames[0].FieldByName("id"); got == nil || got.At(0).(string) != alertID {
			t.Fatalf("stored alert id %v, streamed %s", got, alertID)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		text, err := e.p.CollectMetrics(context.Background(), e.ds)
		if err != nil {
			t.Fatal(err)
		}
		problems, err := promlint.New(strings.NewReader(text)).Lint()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			if strings.HasPrefix(p.Metric, "oktaguard_") {
				t.Errorf("promlint: %s: %s", p.Metric, p.Text)
			}
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		fam := fams["oktaguard_events_ingested_total"]
		if fam == nil {
			t.Fatal("oktaguard_events_ingested_total missing")
		}
		var got float64
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				if l.GetName() == "datasource_uid" && l.GetValue() == e.ds.UID {
					got = m.GetCounter().GetValue()
				}
			}
		}
		if int(got) < e.org.Sim.EventCount()-1 { // the live-tail event may land after the scrape
			t.Fatalf("events_ingested_total = %v, simulator holds %d", got, e.org.Sim.EventCount())
		}
		if fams["oktaguard_detections_total"] == nil || len(fams["oktaguard_detections_total"].Metric) < 11*5 {
			t.Fatal("detections_total must carry every detector x severity pair")
		}
		if strings.Contains(text, testToken) {
			t.Fatal("the token leaked into metrics")
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		bad := e.ds
		bad.UID = "e2e-badtoken"
		bad.JSONData = copyMap(e.ds.JSONData)
		bad.JSONData["storagePath"] = t.TempDir()
		bad.Secure = map[string]string{"apiToken": "00wrong-token-value"}
		h := e.health(t, bad)
		if h.Status != "ERROR" || !strings.Contains(h.Message, "rejected the API token") {
			t.Fatalf("bad token health: %s %q", h.Status, h.Message)
		}
		invalid := e.ds
		invalid.UID = "e2e-invalid"
		invalid.JSONData = map[string]any{"orgUrl": "http://okta.example.com", "storagePath": t.TempDir()}
		h = e.health(t, invalid)
		if h.Status != "ERROR" || !strings.Contains(h.Message, "http") {
			t.Fatalf("plain http to a non-loopback host: %s %q", h.Status, h.Message)
		}
		noToken := e.ds
		noToken.UID = "e2e-notoken"
		noToken.Secure = nil
		h = e.health(t, noToken)
		if h.Status != "ERROR" || !strings.Contains(h.Message, "needs an API token") {
			t.Fatalf("missing token: %s %q", h.Status, h.Message)
		}
	})

	t.Run("dashboards and alert rules replay", func(t *testing.T) { replayProvisioning(t, e, root) })
	t.Run("replay reports broken queries", func(t *testing.T) { replayCatchesBrokenQueries(t, e) })
	t.Run("frames for screenshots", func(t *testing.T) { writeScreenshotFrames(t, e) })

	t.Run("demo mode needs no org", func(t *testing.T) {
		d := plugintest.DataSource{UID: "e2e-demo", Name: "demo", JSONData: map[string]any{"demo": true, "storagePath": t.TempDir()}}
		h := e.health(t, d)
		if h.Status == "ERROR" || !strings.Contains(h.Message, "Connected") || h.Details["demo"] != true {
			t.Fatalf("demo health: %s %q %v", h.Status, h.Message, h.Details)
		}
	})

	t.Run("secrets never in logs", func(t *testing.T) {
		if strings.Contains(e.p.Logs.String(), testToken) {
			t.Fatal("the API token appears in the plugin's log output")
		}
	})
}

func TestInstanceReplacedMidIngestLosesNothing(t *testing.T) {
	e := newEnv(t, "e2e-replace", 150, 4*24*time.Hour)
	want := e.org.Sim.EventCount()
	// The first request creates the instance and starts ingestion.
	_ = e.health(t, e.ds)
	got := e.waitTotal(t, e.ds, func(n int) bool { return n > 0 }, "the backfill to start")
	if got >= want {
		t.Fatalf("the backfill (%d events) finished before the first replacement: the test proves nothing", want)
	}
	// Settings saved twice while the backfill runs: Grafana creates new
	// instances and disposes the old ones.
	for i := 1; i <= 2; i++ {
		e.ds.LastUpdated = time.Now().Add(time.Duration(i) * time.Second)
		e.ds.JSONData["rateLimitShare"] = 0.5 - 0.1*float64(i)
		before := e.eventTotal(t, e.ds) // this request creates the new instance
		e.waitTotal(t, e.ds, func(n int) bool { return n > before }, "the new instance to ingest")
	}
	e.waitIngested(t, e.ds)
	e.p.Kill()
	st, err := store.Open(context.Background(), filepath.Join(e.dir, "oktaguard-"+e.ds.UID+".db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int(stats.Events) != want {
		t.Fatalf("store holds %d events, simulator %d", stats.Events, want)
	}
	rows, err := st.QueryEvents(context.Background(), store.EventQuery{Limit: want, NoRaw: true})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, r := range rows {
		have[r.UUID] = true
	}
	for _, u := range e.org.Sim.UUIDs() {
		if !have[u] {
			t.Fatalf("event %s lost", u)
		}
	}
}

func copyMap(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func rowsAtLeast(n int, field string) func(*testing.T, data.Frames) {
	return func(t *testing.T, fs data.Frames) {
		t.Helper()
		if len(fs) == 0 || fs[0].Rows() < n {
			t.Fatalf("want at least %d rows, got %v", n, fs)
		}
		if f, _ := fs[0].FieldByName(field); f == nil {
			t.Fatalf("frame lacks field %s", field)
		}
	}
}

func framesAtLeast(n int) func(*testing.T, data.Frames) {
	return func(t *testing.T, fs data.Frames) {
		t.Helper()
		if len(fs) < n {
			t.Fatalf("want at least %d frames, got %d", n, len(fs))
		}
		assertNumeric(t, fs)
	}
}

func allEqual(field, want string) func(*testing.T, data.Frames) {
	return allIn(field, want)
}

func allIn(field string, want ...string) func(*testing.T, data.Frames) {
	return func(t *testing.T, fs data.Frames) {
		t.Helper()
		if len(fs) == 0 {
			t.Fatal("no frame")
		}
		f, _ := fs[0].FieldByName(field)
		if f == nil {
			t.Fatalf("no field %s", field)
		}
		if f.Len() == 0 {
			t.Fatalf("no rows to check %s on", field)
		}
		for i := 0; i < f.Len(); i++ {
			ok := false
			for _, w := range want {
				ok = ok || f.At(i).(string) == w
			}
			if !ok {
				t.Fatalf("%s[%d] = %v, want one of %v", field, i, f.At(i), want)
			}
		}
	}
}

func assertNumeric(t testing.TB, fs data.Frames) {
	t.Helper()
	if len(fs) == 0 {
		t.Fatal("no frames")
	}
	for _, f := range fs {
		if f.TimeSeriesSchema().Type == data.TimeSeriesTypeNot {
			t.Fatalf("frame %q is not a time series", f.Name)
		}
		numeric := false
		for _, fld := range f.Fields {
			numeric = numeric || fld.Type().Numeric()
		}
		if !numeric {
			t.Fatalf("frame %q has no numeric field", f.Name)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.RemoveBuilds()
	os.Exit(code)
}
