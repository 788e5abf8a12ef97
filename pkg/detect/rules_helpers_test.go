package detect

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Rule tests build events as Okta System Log JSON (the shapes of
// /work/shared/samples and the traffic generator) and decode them with
// event.Decode, so the rules see exactly what the pipeline gives them.

var rt0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

var ruleSeq atomic.Int64

type jmod func(m map[string]any)

// jev builds one event: typ by actor (a login) at t, SUCCESS, from a
// residential US IP, with an Okta session; mods change it.
func jev(t testing.TB, typ, actor string, at time.Time, mods ...jmod) event.Event {
	t.Helper()
	n := ruleSeq.Add(1)
	m := map[string]any{
		"uuid":      fmt.Sprintf("e9-%06d", n),
		"published": at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventType": typ, "version": "0", "severity": "INFO", "displayMessage": typ, "legacyEventType": nil,
		"actor": map[string]any{"id": "00u" + actor, "type": "User", "alternateId": actor, "displayName": actor, "detailEntry": nil},
		"client": map[string]any{
			"userAgent":           map[string]any{"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/120.0", "os": "Mac OS X", "browser": "CHROME"},
			"zone":                "null",
			"device":              "Computer",
			"id":                  nil,
			"ipAddress":           "73.12.40.7",
			"geographicalContext": map[string]any{"city": "Boston", "state": "Massachusetts", "country": "United States", "postalCode": "02108", "geolocation": map[string]any{"lat": 42.36, "lon": -71.06}},
		},
		"authenticationContext": map[string]any{"authenticationProvider": nil, "credentialProvider": nil, "credentialType": nil, "issuer": nil, "interface": nil, "authenticationStep": 0, "externalSessionId": "102sess" + actor},
		"outcome":               map[string]any{"result": "SUCCESS", "reason": nil},
		"securityContext":       map[string]any{"asNumber": 7922, "asOrg": "comcast", "isp": "comcast", "domain": "comcast.net", "isProxy": false},
		"debugContext":          map[string]any{"debugData": map[string]any{"requestId": fmt.Sprintf("req%d", n), "threatSuspected": "false"}},
		"transaction":           map[string]any{"type": "WEB", "id": fmt.Sprintf("tx%d", n), "detail": map[string]any{}},
		"request":               map[string]any{"ipChain": []any{map[string]any{"ip": "73.12.40.7", "version": "V4", "source": nil}}},
		"target":                nil,
	}
	for _, f := range mods {
		f(m)
	}
	trusted, _ := m["_trusted"].(bool)
	delete(m, "_trusted")
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Decode(raw)
	if err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	if trusted {
		ev.IP.Categories |= event.CatTrusted
	}
	return ev
}

func sub(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }

func jIP(ip string, asn int) jmod {
	return func(m map[string]any) {
		sub(m, "client")["ipAddress"] = ip
		sub(m, "securityContext")["asNumber"] = asn
		m["request"] = map[string]any{"ipChain": []any{map[string]any{"ip": ip, "version": "V4", "source": nil}}}
	}
}
func jTrusted() jmod { return func(m map[string]any) { m["_trusted"] = true } }
func jFail(reason string) jmod {
	return func(m map[string]any) { m["outcome"] = map[string]any{"result": "FAILURE", "reason": reason} }
}
func jOutcome(result, reason string) jmod {
	return func(m map[string]any) { m["outcome"] = map[string]any{"result": result, "reason": reason} }
}
func jSess(s string) jmod {
	return func(m map[string]any) { sub(m, "authenticationContext")["externalSessionId"] = s }
}
func jCred(typ string) jmod {
	return func(m map[string]any) { sub(m, "authenticationContext")["credentialType"] = typ }
}
func jDbg(kv ...string) jmod {
	return func(m map[string]any) {
		d := sub(sub(m, "debugContext"), "debugData")
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i]] = kv[i+1]
		}
	}
}
func jToken(id string) jmod {
	return func(m map[string]any) { sub(m, "transaction")["detail"] = map[string]any{"requestApiTokenId": id} }
}
func jJob() jmod { return func(m map[string]any) { sub(m, "transaction")["type"] = "JOB" } }
func jActorType(typ string) jmod {
	return func(m map[string]any) { sub(m, "actor")["type"] = typ }
}
func jOS(os string) jmod {
	return func(m map[string]any) { sub(sub(m, "client"), "userAgent")["os"] = os }
}
func jCountry(c string) jmod {
	return func(m map[string]any) { sub(sub(m, "client"), "geographicalContext")["country"] = c }
}
func jDevice(id string) jmod {
	return func(m map[string]any) {
		m["device"] = map[string]any{"id": id, "name": "Pixel 7", "os_platform": "ANDROID", "os_version": "13", "managed": false, "registered": true}
	}
}

// jTarget appends a target; detail is key, value pairs (nil = null).
func jTarget(typ, id, alt, name string, detail ...string) jmod {
	return func(m map[string]any) {
		var d any
		if len(detail) > 0 {
			dm := map[string]any{}
			for i := 0; i+1 < len(detail); i += 2 {
				dm[detail[i]] = detail[i+1]
			}
			d = dm
		}
		tg, _ := m["target"].([]any)
		m["target"] = append(tg, map[string]any{"id": id, "type": typ, "alternateId": alt, "displayName": name, "detailEntry": d})
	}
}

// jUser appends a User target.
func jUser(login string) jmod { return jTarget("User", "00u"+login, login, login) }

// jChange sets changeDetails (JSON objects) on the last target.
func jChange(from, to string) jmod {
	return func(m map[string]any) {
		tg := m["target"].([]any)
		var f, t map[string]any
		_ = json.Unmarshal([]byte(from), &f)
		_ = json.Unmarshal([]byte(to), &t)
		tg[len(tg)-1].(map[string]any)["changeDetails"] = map[string]any{"from": f, "to": t}
	}
}

// ruleOnly enables one rule (every other detector off).
func ruleOnly(id string, dc DetectorConfig) Config {
	cfg := Config{}
	off := false
	for _, r := range registry {
		if r.Info.ID != id {
			cfg[r.Info.ID] = DetectorConfig{Enabled: &off}
		}
	}
	cfg[id] = dc
	return cfg
}

type ruleCase struct {
	name   string
	cfg    DetectorConfig
	events []event.Event
	want   int    // alerts of the rule
	sev    string // severity of the first alert, when set
	check  func(t *testing.T, as []Alert)
}

func runRule(t testing.TB, id string, cfg DetectorConfig, evs []event.Event) []Alert {
	t.Helper()
	e, err := NewEngine(ruleOnly(id, cfg), WithReorderWindow(0))
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	var out []Alert
	for i := range evs {
		out = append(out, e.Process(&evs[i])...)
	}
	out = Final(append(out, e.Flush()...))
	var mine []Alert
	for _, a := range out {
		if a.Detector == id {
			mine = append(mine, a)
		}
	}
	return mine
}

// testRule runs the cases of one rule and checks every alert is complete.
func testRule(t *testing.T, id string, cases []ruleCase) {
	t.Helper()
	pos, neg := 0, 0
	for _, tc := range cases {
		if tc.want > 0 {
			pos++
		} else {
			neg++
		}
		t.Run(id+"/"+tc.name, func(t *testing.T) {
			as := runRule(t, id, tc.cfg, tc.events)
			if len(as) != tc.want {
				for _, a := range as {
					t.Logf("alert: %s %s %s", a.Severity, a.Actor, a.Summary)
				}
				t.Fatalf("%d alerts, want %d", len(as), tc.want)
			}
			for _, a := range as {
				if a.ID == "" || a.Title == "" || a.Summary == "" || len(a.EventIDs) == 0 || len(a.MITRE) == 0 || a.Evidence == nil {
					t.Fatalf("incomplete alert %+v", a)
				}
			}
			if tc.sev != "" && len(as) > 0 && as[0].Severity != tc.sev {
				t.Fatalf("severity %s, want %s (%s)", as[0].Severity, tc.sev, as[0].Summary)
			}
			if tc.check != nil {
				tc.check(t, as)
			}
		})
	}
	if pos == 0 || neg == 0 {
		t.Errorf("%s: needs positive and negative cases (%d/%d)", id, pos, neg)
	}
}

func evs(e ...event.Event) []event.Event { return e }

func mins(n int) time.Duration { return time.Duration(n) * time.Minute }

func joinEvs(parts ...[]event.Event) []event.Event {
	var out []event.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
