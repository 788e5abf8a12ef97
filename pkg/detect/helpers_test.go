package detect

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// t0 is the start of test time; tests usually work after t0+10 days so
// learning periods are over for users seen at t0.
var t0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

var uuidSeq atomic.Int64

type evOpt func(*event.Event)

func mkEv(typ, actor string, at time.Time, opts ...evOpt) event.Event {
	ev := event.Event{
		UUID:      fmt.Sprintf("ev-%06d", uuidSeq.Add(1)),
		Published: at,
		EventType: typ,
		Actor:     event.Actor{ID: "id-" + actor, Type: "User", AlternateID: actor, DisplayName: actor},
		Outcome:   event.Outcome{Result: "SUCCESS"},
		Client: event.Client{IPAddress: "198.51.100.10", UserAgent: event.UserAgent{Raw: "Mozilla/5.0 (Macintosh) Chrome/120", OS: "Mac OS X", Browser: "CHROME"},
			Geo: event.Geo{Country: "United States", City: "New York", Lat: 40.71, Lon: -74.0, HasLatLon: true}},
		Transaction: event.Transaction{Type: "WEB", ID: "tx"},
		Auth:        event.AuthContext{ExternalSessionID: "sess-" + actor},
		Security:    event.SecurityContext{ASNumber: 7922},
	}
	ev.IP.ASN = 7922
	for _, o := range opts {
		o(&ev)
	}
	return ev
}

// places used by the tests (lat, lon)
var places = map[string][3]any{
	"New York":  {"United States", 40.71, -74.0},
	"Boston":    {"United States", 42.36, -71.06},
	"Toronto":   {"Canada", 43.65, -79.38},
	"London":    {"United Kingdom", 51.51, -0.13},
	"Berlin":    {"Germany", 52.52, 13.40},
	"Paris":     {"France", 48.86, 2.35},
	"Lagos":     {"Nigeria", 6.52, 3.38},
	"Moscow":    {"Russia", 55.75, 37.62},
	"Sao Paulo": {"Brazil", -23.55, -46.63},
	"Singapore": {"Singapore", 1.35, 103.82},
	"Sydney":    {"Australia", -33.87, 151.21},
	"Bucharest": {"Romania", 44.43, 26.10},
}

func at(city string) evOpt {
	p, ok := places[city]
	if !ok {
		panic("unknown test city " + city)
	}
	return func(e *event.Event) {
		e.Client.Geo = event.Geo{Country: p[0].(string), City: city, Lat: p[1].(float64), Lon: p[2].(float64), HasLatLon: true}
	}
}
func ip(s string) evOpt { return func(e *event.Event) { e.Client.IPAddress = s } }
func asn(n int) evOpt {
	return func(e *event.Event) { e.IP.ASN = n; e.Security.ASNumber = n }
}
func cats(c event.IPCategory) evOpt { return func(e *event.Event) { e.IP.Categories |= c } }
func failed(reason string) evOpt {
	return func(e *event.Event) { e.Outcome = event.Outcome{Result: "FAILURE", Reason: reason} }
}
func ua(raw, os string) evOpt {
	return func(e *event.Event) { e.Client.UserAgent = event.UserAgent{Raw: raw, OS: os, Browser: "X"} }
}
func session(s string) evOpt { return func(e *event.Event) { e.Auth.ExternalSessionID = s } }
func dt(h string) evOpt      { return func(e *event.Event) { e.Debug.DTHash = h } }
func proxy() evOpt           { return func(e *event.Event) { e.Security.IsProxy = true } }
func tor() evOpt             { return func(e *event.Event) { e.IP.Tor = true } }
func relay() evOpt {
	return func(e *event.Event) { e.IP.PrivateRelay = true; e.Security.IsProxy = true }
}
func clientID(s string) evOpt { return func(e *event.Event) { e.Client.ID = s } }
func noGeo() evOpt            { return func(e *event.Event) { e.Client.Geo = event.Geo{} } }
func threat() evOpt           { return func(e *event.Event) { e.Debug.ThreatSuspected = true } }
func txJob() evOpt            { return func(e *event.Event) { e.Transaction.Type = "JOB" } }
func token(id string) evOpt   { return func(e *event.Event) { e.Debug.RequestAPITokenID = id } }
func actorType(t string) evOpt {
	return func(e *event.Event) { e.Actor.Type = t }
}
func tunnel(op string, anon bool) evOpt {
	return func(e *event.Event) {
		e.Debug.Tunnels = append(e.Debug.Tunnels, event.Tunnel{Operator: op, Type: "VPN", Anonymous: anon})
	}
}
func behaviors(kv ...string) evOpt {
	return func(e *event.Event) {
		if e.Debug.Behaviors == nil {
			e.Debug.Behaviors = map[string]string{}
		}
		for _, k := range kv {
			e.Debug.Behaviors[k] = "POSITIVE"
		}
	}
}
func target(typ, id, alt string) evOpt {
	return func(e *event.Event) {
		e.Targets = append(e.Targets, event.Target{Type: typ, ID: id, AlternateID: alt})
	}
}
func country(c string) evOpt {
	return func(e *event.Event) { e.Client.Geo.Country = c }
}

func signIn(actor string, when time.Time, opts ...evOpt) event.Event {
	return mkEv("user.session.start", actor, when, opts...)
}

// only enables one detector (plus per-detector settings).
func only(id string, dc DetectorConfig) Config {
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

// runEvents processes events through a fresh engine and flushes.
func runEvents(t testing.TB, cfg Config, evs []event.Event, opts ...Option) []Alert {
	t.Helper()
	e, err := NewEngine(cfg, opts...)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	var out []Alert
	for i := range evs {
		out = append(out, e.Process(&evs[i])...)
	}
	return Final(append(out, e.Flush()...))
}

// warmup: a user signing in daily from a home city for `days` days from t0.
func warmup(actor, city, addr string, days int, opts ...evOpt) []event.Event {
	var out []event.Event
	for d := 0; d < days; d++ {
		o := append([]evOpt{at(city), ip(addr)}, opts...)
		out = append(out, signIn(actor, t0.Add(time.Duration(d)*24*time.Hour), o...))
	}
	return out
}

func concat(parts ...[]event.Event) []event.Event {
	var out []event.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ids(as []Alert) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Detector+"/"+a.Severity+"/"+a.Actor+"/"+a.IP+" ("+a.Summary+")")
	}
	return strings.Join(s, ", ")
}

// day10 is a moment after the default learning period.
var day10 = t0.Add(10 * 24 * time.Hour)

type detCase struct {
	name    string
	cfg     DetectorConfig
	events  []event.Event
	want    int    // alerts expected
	wantSev string // severity of the last alert when want > 0
	check   func(t *testing.T, as []Alert)
}

func runCases(t *testing.T, id string, cases []detCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			as := runEvents(t, only(id, tc.cfg), tc.events)
			if len(as) != tc.want {
				t.Fatalf("got %d alerts, want %d: %s", len(as), tc.want, ids(as))
			}
			for _, a := range as {
				if a.Detector != id || a.ID == "" || len(a.EventIDs) == 0 || len(a.MITRE) == 0 || a.Evidence == nil {
					t.Fatalf("incomplete alert %+v", a)
				}
			}
			if tc.want > 0 && tc.wantSev != "" && as[len(as)-1].Severity != tc.wantSev {
				t.Fatalf("severity %s, want %s (%s)", as[len(as)-1].Severity, tc.wantSev, as[len(as)-1].Summary)
			}
			if tc.check != nil {
				tc.check(t, as)
			}
		})
	}
}
