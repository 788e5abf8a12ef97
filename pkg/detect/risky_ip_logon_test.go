package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func TestRiskyIPLogon(t *testing.T) {
	const u = "alice@example.com"
	s := func(h int, addr string, o ...evOpt) event.Event {
		return signIn(u, t0.Add(time.Duration(h)*time.Hour), append([]evOpt{ip(addr)}, o...)...)
	}
	runCases(t, "risky_ip_logon", []detCase{
		{name: "risky list", events: []event.Event{s(0, "198.51.100.7", cats(event.CatRisky))}, want: 1, wantSev: SeverityMedium,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["classification"] != "risky_list" || as[0].IP != "198.51.100.7" {
					t.Fatalf("%+v", as[0])
				}
			}},
		{name: "no learning: first day alerts", events: []event.Event{s(0, "185.220.1.1", tor())}, want: 1},
		{name: "built-in anonymous tag", events: []event.Event{s(0, "185.246.1.1", proxy())}, want: 1},
		{name: "anonymous tags can be excluded", cfg: DetectorConfig{Params: map[string]any{"includeAnonymous": false}}, events: []event.Event{s(0, "185.246.1.1", proxy())}, want: 0},
		{name: "trusted range wins", events: []event.Event{s(0, "198.51.100.7", cats(event.CatRisky|event.CatTrusted))}, want: 0},
		{name: "suspicious not included by default", events: []event.Event{s(0, "203.0.113.9", cats(event.CatSuspicious))}, want: 0},
		{name: "suspicious included on request", cfg: DetectorConfig{Params: map[string]any{"includeSuspicious": true}},
			events: []event.Event{s(0, "203.0.113.9", cats(event.CatSuspicious))}, want: 1},
		{name: "Private Relay is not risky", events: []event.Event{s(0, "172.225.1.1", relay())}, want: 0},
		{name: "failed sign-in", events: []event.Event{s(0, "198.51.100.7", cats(event.CatRisky), failed("INVALID_CREDENTIALS"))}, want: 0},
		{name: "dedup per user and IP per 24h", events: []event.Event{s(0, "198.51.100.7", cats(event.CatRisky)), s(1, "198.51.100.7", cats(event.CatRisky)),
			s(2, "198.51.100.8", cats(event.CatRisky)), s(30, "198.51.100.7", cats(event.CatRisky))}, want: 3},
	})
}
