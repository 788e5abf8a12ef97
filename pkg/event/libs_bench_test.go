package event

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// The hand-written decoder next to the libraries, on the same events and
// with the same output (issue 18): each library decodes into tagged
// structs, which toEvent turns into an Event through the same debugData
// parsers. TestLibraryDecodersSameOutput holds the outputs equal;
// BenchmarkDecoders measures them side by side:
//
//	go test ./pkg/event -run '^$' -bench BenchmarkDecoders -benchtime 1s -count 3 -cpu 1
//
// goccy/go-json and sonic are test-only dependencies (listed in go.mod,
// not linked into any binary).

type libGeo struct {
	City        string `json:"city"`
	State       string `json:"state"`
	Country     string `json:"country"`
	PostalCode  string `json:"postalCode"`
	Geolocation *struct {
		Lat *float64 `json:"lat"`
		Lon *float64 `json:"lon"`
	} `json:"geolocation"`
}

type libEvent struct {
	UUID            string `json:"uuid"`
	Published       string `json:"published"`
	EventType       string `json:"eventType"`
	Version         string `json:"version"`
	Severity        string `json:"severity"`
	LegacyEventType string `json:"legacyEventType"`
	DisplayMessage  string `json:"displayMessage"`
	Actor           struct {
		ID          string         `json:"id"`
		Type        string         `json:"type"`
		AlternateID string         `json:"alternateId"`
		DisplayName string         `json:"displayName"`
		DetailEntry map[string]any `json:"detailEntry"`
	} `json:"actor"`
	Client struct {
		UserAgent struct {
			RawUserAgent string `json:"rawUserAgent"`
			OS           string `json:"os"`
			Browser      string `json:"browser"`
		} `json:"userAgent"`
		Zone                string `json:"zone"`
		Device              string `json:"device"`
		ID                  string `json:"id"`
		IPAddress           string `json:"ipAddress"`
		GeographicalContext libGeo `json:"geographicalContext"`
	} `json:"client"`
	Outcome struct {
		Result string `json:"result"`
		Reason string `json:"reason"`
	} `json:"outcome"`
	Target []struct {
		ID          string         `json:"id"`
		Type        string         `json:"type"`
		AlternateID string         `json:"alternateId"`
		DisplayName string         `json:"displayName"`
		DetailEntry map[string]any `json:"detailEntry"`
	} `json:"target"`
	Transaction struct {
		ID     string         `json:"id"`
		Type   string         `json:"type"`
		Detail map[string]any `json:"detail"`
	} `json:"transaction"`
	DebugContext struct {
		DebugData map[string]any `json:"debugData"`
	} `json:"debugContext"`
	AuthenticationContext struct {
		AuthenticationProvider string `json:"authenticationProvider"`
		CredentialProvider     string `json:"credentialProvider"`
		CredentialType         string `json:"credentialType"`
		Issuer                 *struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"issuer"`
		ExternalSessionID string `json:"externalSessionId"`
		RootSessionID     string `json:"rootSessionId"`
		Interface         string `json:"interface"`
	} `json:"authenticationContext"`
	SecurityContext struct {
		ASNumber int    `json:"asNumber"`
		ASOrg    string `json:"asOrg"`
		ISP      string `json:"isp"`
		Domain   string `json:"domain"`
		IsProxy  bool   `json:"isProxy"`
	} `json:"securityContext"`
	Request struct {
		IPChain []struct {
			IP                  string `json:"ip"`
			Version             string `json:"version"`
			Source              string `json:"source"`
			GeographicalContext libGeo `json:"geographicalContext"`
		} `json:"ipChain"`
	} `json:"request"`
}

func (g *libGeo) geo() Geo {
	out := Geo{City: g.City, State: g.State, Country: g.Country, PostalCode: g.PostalCode}
	if g.Geolocation != nil && g.Geolocation.Lat != nil && g.Geolocation.Lon != nil {
		out.Lat, out.Lon, out.HasLatLon = *g.Geolocation.Lat, *g.Geolocation.Lon, true
	}
	return out
}

// toEvent builds the Event the hand-written decoder would (the fields the
// comparison holds equal, see projection).
func toEvent(le *libEvent) (Event, error) {
	pub, err := time.Parse(time.RFC3339Nano, le.Published)
	if err != nil {
		return Event{}, err
	}
	ev := Event{UUID: le.UUID, Published: pub.UTC(), EventType: le.EventType, Version: le.Version, Severity: le.Severity,
		LegacyEventType: le.LegacyEventType, DisplayMessage: le.DisplayMessage}
	ev.Actor = Actor{ID: le.Actor.ID, Type: le.Actor.Type, AlternateID: le.Actor.AlternateID, DisplayName: le.Actor.DisplayName, Detail: le.Actor.DetailEntry}
	c := &le.Client
	ev.Client = Client{UserAgent: UserAgent{Raw: c.UserAgent.RawUserAgent, OS: c.UserAgent.OS, Browser: c.UserAgent.Browser},
		Device: c.Device, ID: c.ID, IPAddress: c.IPAddress, Geo: c.GeographicalContext.geo()}
	if c.Zone != "null" {
		ev.Client.Zone = c.Zone
	}
	ev.Outcome = Outcome{Result: le.Outcome.Result, Reason: le.Outcome.Reason}
	for _, t := range le.Target {
		ev.Targets = append(ev.Targets, Target{ID: t.ID, Type: t.Type, AlternateID: t.AlternateID, DisplayName: t.DisplayName, Detail: t.DetailEntry})
	}
	ev.Transaction = Transaction{ID: le.Transaction.ID, Type: le.Transaction.Type, Detail: le.Transaction.Detail}
	ev.Debug.SetData(le.DebugContext.DebugData)
	parseDebugData(&ev.Debug, le.DebugContext.DebugData, nil)
	a := &le.AuthenticationContext
	ev.Auth = AuthContext{AuthenticationProvider: a.AuthenticationProvider, CredentialProvider: a.CredentialProvider,
		CredentialType: a.CredentialType, ExternalSessionID: a.ExternalSessionID, RootSessionID: a.RootSessionID, Interface: a.Interface}
	if a.Issuer != nil {
		ev.Auth.IssuerID, ev.Auth.IssuerType = a.Issuer.ID, a.Issuer.Type
	}
	s := &le.SecurityContext
	ev.Security = SecurityContext{ASNumber: s.ASNumber, ASOrg: s.ASOrg, ISP: s.ISP, Domain: s.Domain, IsProxy: s.IsProxy}
	for _, ip := range le.Request.IPChain {
		ev.IPChain = append(ev.IPChain, IPChainEntry{IP: ip.IP, Version: ip.Version, Source: ip.Source, Geo: ip.GeographicalContext.geo()})
	}
	return ev, nil
}

// projection is what the comparison holds equal: every normalized field
// detection and storage read (free-form maps compared by their parsed
// parts: behaviors, risk, tunnels).
type projection struct {
	UUID, EventType, Severity, DisplayMessage string
	Published                                 time.Time
	Actor                                     [4]string
	Client                                    Client
	Outcome                                   Outcome
	Targets                                   []string
	Auth                                      AuthContext
	Security                                  SecurityContext
	IPChain                                   []IPChainEntry
	Risk                                      [2]string
	Behaviors                                 map[string]string
	Threat                                    bool
	Tunnels                                   []Tunnel
	DT                                        [3]string
}

func project(ev *Event) projection {
	p := projection{UUID: ev.UUID, EventType: ev.EventType, Severity: ev.Severity, DisplayMessage: ev.DisplayMessage, Published: ev.Published,
		Actor: [4]string{ev.Actor.ID, ev.Actor.Type, ev.Actor.AlternateID, ev.Actor.DisplayName}, Client: ev.Client, Outcome: ev.Outcome,
		Auth: ev.Auth, Security: ev.Security, IPChain: ev.IPChain, Risk: [2]string{ev.Debug.RiskLevel, ev.Debug.RiskReasons},
		Behaviors: ev.Debug.Behaviors, Threat: ev.Debug.ThreatSuspected, Tunnels: ev.Debug.Tunnels,
		DT: [3]string{ev.Debug.DTHash, ev.Debug.DeviceFingerprint, ev.Debug.RequestURI}}
	for _, t := range ev.Targets {
		p.Targets = append(p.Targets, t.ID+"|"+t.Type+"|"+t.AlternateID+"|"+t.DisplayName)
	}
	return p
}

var libDecoders = []struct {
	name      string
	unmarshal func([]byte, any) error
}{
	{"encoding-json-struct", json.Unmarshal},
	{"goccy-go-json-struct", gojson.Unmarshal},
	{"sonic-struct", sonic.ConfigStd.Unmarshal},
}

func libDecode(unmarshal func([]byte, any) error, raw []byte) (Event, error) {
	var le libEvent
	if err := unmarshal(raw, &le); err != nil {
		return Event{}, err
	}
	ev, err := toEvent(&le)
	ev.Raw = append([]byte(nil), raw...) // Decode's Raw is a copy too (TestRawIsACopy)
	return ev, err
}

func TestLibraryDecodersSameOutput(t *testing.T) {
	names, lines := sampleLines(t)
	compared := 0
	for _, n := range names {
		raw := lines[n]
		want, err := Decode(raw)
		if err != nil || len(want.Degraded) > 0 {
			continue // invalid or degraded events: the tolerant paths have no struct equivalent
		}
		for _, d := range libDecoders {
			got, err := libDecode(d.unmarshal, raw)
			if err != nil {
				t.Errorf("%s: %s: %v", d.name, n, err)
				continue
			}
			if pw, pg := project(&want), project(&got); !reflect.DeepEqual(pw, pg) {
				t.Errorf("%s: %s: output differs from the hand-written decoder:\n got %+v\nwant %+v", d.name, n, pg, pw)
			}
		}
		compared++
	}
	if compared < 10 {
		t.Fatalf("only %d sample events compared", compared)
	}
}

// BenchmarkDecoders: the hand-written decoder and each library (tagged
// structs + the same debugData parsers), then encoding/json into
// map[string]any (the old baseline), on the real sample events ≥ 1.5 KB.
// Besides the wall-clock ns/op it reports cpu-ns/op, the CPU time the
// process spent per event (user + system, garbage collection included):
// on a shared machine the wall clock also counts the time other jobs held
// the core, the CPU time does not.
func BenchmarkDecoders(b *testing.B) {
	evs := benchEvents(b)
	run := func(name string, fn func([]byte) error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(avgLen(evs))
			b.ReportAllocs()
			// warm up: sonic compiles a decoder per type on first use
			if err := fn(evs[0]); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 := int64(cpumeter.Process())
			for i := 0; i < b.N; i++ {
				if err := fn(evs[i%len(evs)]); err != nil {
					b.Fatal(err)
				}
			}
			if cpu := int64(cpumeter.Process()) - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	run("hand-written", func(raw []byte) error { _, err := Decode(raw); return err })
	for _, d := range libDecoders {
		run(d.name, func(raw []byte) error { _, err := libDecode(d.unmarshal, raw); return err })
	}
	run("encoding-json-map", func(raw []byte) error { var m map[string]any; return json.Unmarshal(raw, &m) })
}
