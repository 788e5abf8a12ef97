package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// threatSignIn is a successful sign-in Okta ThreatInsight flagged (the
// suspicious_ip detector alerts on it at once) followed, 3 minutes later,
// by a quiet event that moves the engine's 2-minute reorder window past it.
func threatSignIn(n int, login, ip string, at time.Time) []json.RawMessage {
	ev := fmt.Sprintf(`{"uuid":"triage-%d-%d","published":%q,"eventType":"user.session.start","version":"0",
		"actor":{"id":"00utr%d","type":"User","alternateId":%q},"outcome":{"result":"SUCCESS"},
		"client":{"ipAddress":%q,"userAgent":{"browser":"CHROME","os":"Mac OS X"},"geographicalContext":{"country":"Germany","city":"Berlin","geolocation":{"lat":52.5,"lon":13.4}}},
		"debugContext":{"debugData":{"threatSuspected":"true"}}}`, n, at.UnixNano(), at.UTC().Format(time.RFC3339Nano), n, login, ip)
	tick := fmt.Sprintf(`{"uuid":"triage-tick-%d-%d","published":%q,"eventType":"user.session.end","version":"0",
		"actor":{"id":"00utick","type":"User","alternateId":"ticker@example.com"},"outcome":{"result":"SUCCESS"},"client":{"ipAddress":"192.0.2.250"}}`,
		n, at.UnixNano(), at.Add(3*time.Minute).UTC().Format(time.RFC3339Nano))
	return []json.RawMessage{json.RawMessage(ev), json.RawMessage(tick)}
}

type triageEnv struct {
	*env
	n    int
	base time.Time
}

// signIn adds a flagged sign-in of login from ip and waits until the
// plugin stored it.
func (e *triageEnv) signIn(t *testing.T, login, ip string) {
	t.Helper()
	e.n++
	if err := e.org.Sim.Add(threatSignIn(e.n, login, ip, e.base.Add(time.Duration(e.n)*5*time.Minute))...); err != nil {
		t.Fatal(err)
	}
	e.waitIngested(t, e.ds)
}

// alertRows returns the alerts frame's rows (by field name) for a query.
func (e *triageEnv) alertRows(t *testing.T, model map[string]any) []map[string]any {
	t.Helper()
	model["queryType"] = "alerts"
	r := e.query(t, e.ds, false, plugintest.Query{RefID: "A", Model: model})["A"]
	if r.Error != "" || len(r.Frames) != 1 {
		t.Fatalf("alerts %v: %q %v", model, r.Error, r.Frames)
	}
	return frameRows(r.Frames[0])
}

func frameRows(f *data.Frame) []map[string]any {
	var out []map[string]any
	for i := 0; i < f.Rows(); i++ {
		row := map[string]any{}
		for _, fl := range f.Fields {
			v, _ := fl.ConcreteAt(i)
			row[fl.Name] = v
		}
		out = append(out, row)
	}
	return out
}

func (e *triageEnv) call(t *testing.T, ds plugintest.DataSource, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	status, out, err := e.p.CallResource(context.Background(), ds, method, path, b)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return status, m
}

// alertState reads an alert's status and history length through the resource.
func (e *triageEnv) alertState(t *testing.T, id string) (string, int) {
	t.Helper()
	status, m := e.call(t, e.ds.As("vic", "Viewer"), "GET", "alerts/"+id, nil)
	if status != 200 {
		t.Fatalf("GET alerts/%s: %d %v", id, status, m)
	}
	tr, _ := m["triage"].(map[string]any)
	h, _ := m["history"].([]any)
	return fmt.Sprint(tr["status"]), len(h)
}

func (e *triageEnv) suppressedMetric(t *testing.T) float64 {
	t.Helper()
	text, err := e.p.CollectMetrics(context.Background(), e.ds)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	fam := fams["oktaguard_alerts_suppressed_total"]
	if fam == nil {
		t.Fatal("oktaguard_alerts_suppressed_total missing")
	}
	var v float64
	for _, m := range fam.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["datasource_uid"] == e.ds.UID && labels["detector"] == "suspicious_ip" {
			v = m.GetCounter().GetValue()
		}
	}
	return v
}

// waitSuppressed waits until the suppressed-alerts counter reaches want,
// and fails if it went past it.
func (e *triageEnv) waitSuppressed(t *testing.T, want float64) {
	t.Helper()
	var v float64
	if !testwait.For(30*time.Second, func() bool { v = e.suppressedMetric(t); return v >= want }) || v != want {
		t.Fatalf("oktaguard_alerts_suppressed_total{detector=suspicious_ip} = %v, want %v", v, want)
	}
}

// TestTriageOverGRPC drives alert triage and exceptions through the
// plugin's gRPC protocol, as Grafana and its dashboards do.
func TestTriageOverGRPC(t *testing.T) {
	te := &triageEnv{env: newEnv(t, "e2e-triage", 40, 24*time.Hour), base: time.Now().Add(-2 * time.Hour)}
	_ = te.health(t, te.ds)
	te.waitIngested(t, te.ds)
	editor := te.ds.As("ed", "Editor")
	const ip = "100.64.7.7"

	te.signIn(t, "alice@example.com", ip)
	rows := te.alertRows(t, map[string]any{"actor": "alice@example.com", "detector": "suspicious_ip"})
	if len(rows) != 1 || rows[0]["status"] != "open" {
		t.Fatalf("alice's alert: %v", rows)
	}
	id := rows[0]["id"].(string)

	t.Run("state change shows in the alerts frame", func(t *testing.T) {
		status, m := te.call(t, editor, "POST", "alerts/"+id+"/state", map[string]any{"status": "acknowledged", "note": "looking into it"})
		if status != 200 {
			t.Fatalf("ack: %d %v", status, m)
		}
		rows := te.alertRows(t, map[string]any{"actor": "alice@example.com"})
		if len(rows) != 1 || rows[0]["status"] != "acknowledged" || rows[0]["assignee"] != "ed" || rows[0]["note"] != "looking into it" || rows[0]["updatedBy"] != "ed" {
			t.Fatalf("after ack: %v", rows)
		}
	})

	t.Run("bad input gets a clear 4xx and changes nothing", func(t *testing.T) {
		before, hist := te.alertState(t, id)
		cases := []struct {
			name   string
			ds     plugintest.DataSource
			path   string
			body   any
			status int
			want   string
		}{
			{"unknown alert id", editor, "alerts/no-such-alert/state", map[string]any{"status": "resolved"}, 404, "no alert with id"},
			{"invalid state", editor, "alerts/" + id + "/state", map[string]any{"status": "closed"}, 400, `status "closed" is unknown`},
			{"oversized note", editor, "alerts/" + id + "/state", map[string]any{"status": "resolved", "note": strings.Repeat("n", 2001)}, 400, "note is 2001 characters"},
			{"exception with no scope", editor, "alerts/" + id + "/state", map[string]any{"status": "dismissed", "exception": map[string]any{"reason": "vpn"}}, 400, "no scope"},
			{"exception with no reason", editor, "alerts/" + id + "/state", map[string]any{"status": "dismissed", "exception": map[string]any{"scope": "ip"}}, 400, "no reason"},
			{"exception with a resolve", editor, "alerts/" + id + "/state", map[string]any{"status": "resolved", "exception": map[string]any{"scope": "ip", "reason": "r"}}, 400, "only come with status dismissed"},
			{"unknown field", editor, "alerts/" + id + "/state", map[string]any{"state": "resolved"}, 400, "unknown field"},
			{"not JSON", editor, "alerts/" + id + "/state", "{", 400, "not valid JSON"},
			{"user in the body is ignored: a Viewer", te.ds.As("vic", "Viewer"), "alerts/" + id + "/state", map[string]any{"status": "resolved", "user": "admin"}, 403, "Viewer"},
			{"Viewer", te.ds.As("vic", "Viewer"), "alerts/" + id + "/state", map[string]any{"status": "resolved"}, 403, "only Editors and Admins"},
			{"no user", te.ds, "alerts/" + id + "/state", map[string]any{"status": "resolved"}, 403, "no Grafana user"},
			{"Viewer adds an exception", te.ds.As("vic", "Viewer"), "exceptions", map[string]any{"detector": "suspicious_ip", "scope": "ip", "value": ip, "reason": "r"}, 403, "Viewer"},
			{"exception with no scope", editor, "exceptions", map[string]any{"detector": "suspicious_ip", "reason": "r"}, 400, "no scope"},
			{"exception of an unknown detector", editor, "exceptions", map[string]any{"detector": "nope", "scope": "ip", "value": ip, "reason": "r"}, 400, "unknown"},
			{"GET on state", editor, "alerts/" + id + "/state", nil, 405, "use POST"},
		}
		for _, c := range cases {
			method := "POST"
			if c.status == 405 {
				method = "GET"
			}
			status, m := te.call(t, c.ds, method, c.path, c.body)
			if status != c.status || !strings.Contains(fmt.Sprint(m["error"]), c.want) {
				t.Errorf("%s: %d %v, want %d with %q", c.name, status, m, c.status, c.want)
			}
		}
		if after, h := te.alertState(t, id); after != before || h != hist {
			t.Fatalf("rejected requests changed the alert: %s/%d -> %s/%d", before, hist, after, h)
		}
		if status, _ := te.call(t, editor, "GET", "exceptions?all=true", nil); status != 200 {
			t.Fatal("exceptions list failed")
		}
		if xs := te.exceptionRows(t, true); len(xs) != 0 {
			t.Fatalf("rejected requests created exceptions: %v", xs)
		}
	})

	var excID float64
	t.Run("dismissal with an exception suppresses the next match", func(t *testing.T) {
		status, m := te.call(t, editor, "POST", "alerts/"+id+"/state", map[string]any{"status": "dismissed", "note": "corporate VPN",
			"exception": map[string]any{"scope": "subnet", "reason": "corporate VPN egress"}})
		if status != 200 {
			t.Fatalf("dismiss: %d %v", status, m)
		}
		x := m["exception"].(map[string]any)
		excID = x["id"].(float64)
		exp, _ := time.Parse(time.RFC3339, x["expiresAt"].(string))
		if x["value"] != "100.64.7.0/24" || x["detector"] != "suspicious_ip" || exp.Sub(time.Now()) < 29*24*time.Hour {
			t.Fatalf("exception %v (30-day default expiry)", x)
		}
		if rows := te.alertRows(t, map[string]any{"actor": "alice@example.com"}); len(rows) != 0 {
			t.Fatalf("a dismissed alert is in the default (open, acknowledged) table: %v", rows)
		}
		rows := te.alertRows(t, map[string]any{"actor": "alice@example.com", "status": "dismissed"})
		if len(rows) != 1 || !strings.Contains(rows[0]["suppression"].(string), "subnet 100.64.7.0/24") {
			t.Fatalf("dismissed alert: %v", rows)
		}
		te.signIn(t, "bob@example.com", "100.64.7.8")
		if rows := te.alertRows(t, map[string]any{"actor": "bob@example.com", "status": "all"}); len(rows) != 0 {
			t.Fatalf("the exception did not suppress bob's alert: %v", rows)
		}
		// the hit is committed with the page; the process's counter
		// follows the commit
		te.waitSuppressed(t, 1)
		xs := te.exceptionRows(t, false)
		if len(xs) != 1 || xs[0]["hits"].(int64) != 1 || xs[0]["state"] != "active" {
			t.Fatalf("exceptions frame: %v", xs)
		}
	})

	t.Run("an expired exception lapses and the alert comes back", func(t *testing.T) {
		if status, m := te.call(t, editor, "POST", fmt.Sprintf("exceptions/%d/remove", int64(excID)), nil); status != 200 || m["removedBy"] != "ed" {
			t.Fatalf("remove: %d %v", status, m)
		}
		const ttl = 40 * time.Second
		status, m := te.call(t, editor, "POST", "exceptions", map[string]any{"detector": "suspicious_ip", "scope": "ip", "value": ip,
			"reason": "maintenance window", "expiresIn": ttl.String()})
		if status != 201 {
			t.Fatalf("add: %d %v", status, m)
		}
		expires, _ := time.Parse(time.RFC3339Nano, m["expiresAt"].(string))
		te.signIn(t, "carol@example.com", ip)
		if time.Now().After(expires) {
			t.Fatalf("ingesting one event took longer than the exception's %s: the machine is too slow for this test", ttl)
		}
		if rows := te.alertRows(t, map[string]any{"actor": "carol@example.com", "status": "all"}); len(rows) != 0 {
			t.Fatalf("carol's alert was not suppressed: %v", rows)
		}
		// The exception lapses on the plugin process's clock, which this
		// test cannot move: wait for the wall clock to pass its expiry.
		testwait.Until(t, ttl+time.Minute, "the exception's expiry", func() bool { return time.Now().After(expires.Add(time.Second)) })
		te.signIn(t, "dave@example.com", ip)
		if rows := te.alertRows(t, map[string]any{"actor": "dave@example.com"}); len(rows) != 1 || rows[0]["status"] != "open" {
			t.Fatalf("the alert did not come back after the exception expired: %v", rows)
		}
		te.waitSuppressed(t, 2)
		if xs := te.exceptionRows(t, true); len(xs) != 2 || xs[0]["state"] != "expired" || xs[1]["state"] != "removed" {
			t.Fatalf("exceptions after the lapse: %v", xs)
		}
	})

	t.Run("alert rules count open alerts only", func(t *testing.T) {
		open := te.alertRows(t, map[string]any{"detector": "suspicious_ip", "status": "open", "limit": 5000})
		r := te.query(t, te.ds, true, plugintest.Query{RefID: "A", QueryType: "timeseries", Model: map[string]any{"source": "alerts", "detector": "suspicious_ip", "interval": "24h"}})["A"]
		if r.Error != "" {
			t.Fatal(r.Error)
		}
		total := 0.0
		for _, f := range r.Frames {
			for i := 0; i < f.Rows(); i++ {
				v, _ := f.Fields[1].ConcreteAt(i)
				total += v.(float64)
			}
		}
		all := te.alertRows(t, map[string]any{"detector": "suspicious_ip", "status": "all", "limit": 5000})
		if int(total) != len(open) || len(all) <= len(open) {
			t.Fatalf("alert rule counted %v, open alerts %d, all %d", total, len(open), len(all))
		}
	})

	t.Run("dashboard actions work through the resource proxy", func(t *testing.T) {
		te.replayActions(t, editor)
	})

	t.Run("history survives an instance replacement and a restart", func(t *testing.T) {
		status, hist := te.alertState(t, id)
		h := te.query(t, te.ds, false, plugintest.Query{RefID: "H", Model: map[string]any{"queryType": "alert_history"}})["H"]
		if h.Error != "" || len(h.Frames) != 1 || h.Frames[0].Rows() < hist {
			t.Fatalf("alert_history: %q %v", h.Error, h.Frames)
		}
		te.ds.LastUpdated = time.Now() // settings saved: Grafana replaces the instance
		if s, n := te.alertState(t, id); s != status || n != hist {
			t.Fatalf("after replacement: %s/%d, want %s/%d", s, n, status, hist)
		}
		te.p.Kill()
		bin, err := plugintest.Build()
		if err != nil {
			t.Fatal(err)
		}
		p, err := plugintest.Start(bin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		te.p = p
		if s, n := te.alertState(t, id); s != status || n != hist || hist < 2 {
			t.Fatalf("after a restart: %s/%d, want %s/%d", s, n, status, hist)
		}
	})
}

func (e *triageEnv) exceptionRows(t *testing.T, all bool) []map[string]any {
	t.Helper()
	r := e.query(t, e.ds, false, plugintest.Query{RefID: "X", Model: map[string]any{"queryType": "exceptions", "all": all}})["X"]
	if r.Error != "" || len(r.Frames) != 1 {
		t.Fatalf("exceptions: %q", r.Error)
	}
	return frameRows(r.Frames[0])
}

var dataFieldRe = regexp.MustCompile(`\$\{__data\.fields\.(\w+)\}`)

// replayActions sends every table action of the bundled dashboards the
// way Grafana does for a row: the URL must go through the data source
// proxy (/api/datasources/uid/<uid>/resources/...), the row's fields fill
// ${__data.fields.x}, and the plugin must accept it.
func (e *triageEnv) replayActions(t *testing.T, editor plugintest.DataSource) {
	files, _ := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title       string
				Targets     []map[string]any
				FieldConfig struct {
					Defaults struct {
						Actions []struct {
							Title        string `json:"title"`
							Type         string `json:"type"`
							Confirmation string `json:"confirmation"`
							Fetch        struct {
								Method string `json:"method"`
								URL    string `json:"url"`
								Body   string `json:"body"`
							} `json:"fetch"`
						} `json:"actions"`
					} `json:"defaults"`
				} `json:"fieldConfig"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			if len(p.FieldConfig.Defaults.Actions) == 0 {
				continue
			}
			// A row of the panel's own query: an alert (any status) or an exception.
			model := map[string]any{}
			for k, v := range p.Targets[0] {
				if k != "datasource" && k != "refId" && !strings.Contains(fmt.Sprint(v), "$") {
					model[k] = v
				}
			}
			if model["queryType"] == "alerts" {
				model["status"] = "all"
			}
			var row map[string]any
			for _, a := range p.FieldConfig.Defaults.Actions {
				if model["queryType"] == "exceptions" {
					// an exception in force to remove
					status, m := e.call(t, editor, "POST", "exceptions", map[string]any{"detector": "mfa_fatigue", "scope": "actor", "value": "zed@example.com", "reason": "action test"})
					if status != 201 {
						t.Fatalf("exception for the remove action: %d %v", status, m)
					}
				}
				r := e.query(t, e.ds, false, plugintest.Query{RefID: "R", Model: model})["R"]
				if r.Error != "" || len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
					t.Fatalf("%s: no row to act on: %q", p.Title, r.Error)
				}
				row = frameRows(r.Frames[0])[0]
				n++
				if a.Type != "fetch" || a.Fetch.Method != "POST" || len(a.Confirmation) < 10 {
					t.Errorf("%s / %s: type %q method %q confirmation %q", p.Title, a.Title, a.Type, a.Fetch.Method, a.Confirmation)
				}
				const prefix = "/api/datasources/uid/${datasource}/resources/"
				if !strings.HasPrefix(a.Fetch.URL, prefix) {
					t.Errorf("%s / %s: URL %s does not go through the data source's resource proxy", p.Title, a.Title, a.Fetch.URL)
					continue
				}
				fill := func(s string) string {
					return dataFieldRe.ReplaceAllStringFunc(s, func(ref string) string {
						return fmt.Sprint(row[dataFieldRe.FindStringSubmatch(ref)[1]])
					})
				}
				path := fill(strings.TrimPrefix(a.Fetch.URL, prefix))
				status, out, err := e.p.CallResource(context.Background(), editor, a.Fetch.Method, path, []byte(fill(a.Fetch.Body)))
				if err != nil || status != 200 {
					t.Errorf("%s / %s: POST %s: %d %v %s", p.Title, a.Title, path, status, err, out)
				}
				if bytes.Contains(out, []byte(testToken)) {
					t.Fatal("token in a resource response")
				}
				// A Viewer clicking the same action is refused.
				if status, _, _ := e.p.CallResource(context.Background(), e.ds.As("vic", "Viewer"), a.Fetch.Method, path, []byte(fill(a.Fetch.Body))); status != 403 {
					t.Errorf("%s / %s as a Viewer: %d, want 403", p.Title, a.Title, status)
				}
			}
		}
	}
	if n < 6 {
		t.Fatalf("only %d dashboard actions replayed", n)
	}
}
