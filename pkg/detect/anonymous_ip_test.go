package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func TestAnonymousIP(t *testing.T) {
	const u = "alice@example.com"
	home := warmup(u, "New York", "203.0.113.5", 10)
	anon := func(h int, o ...evOpt) event.Event {
		return signIn(u, day10.Add(time.Duration(h)*time.Hour), append([]evOpt{at("New York"), ip("185.246.1.1")}, o...)...)
	}
	// five other users behind the same (mis-tagged) operator
	var shared []event.Event
	for i := 0; i < 5; i++ {
		shared = append(shared, warmup(userN(i), "New York", "203.0.113.9", 10)...)
		shared = append(shared, signIn(userN(i), day10.Add(-time.Duration(i+1)*time.Hour), proxy(), tunnel("CORP_SDP", true), ip("100.64.0."+itoa(i))))
	}
	runCases(t, "anonymous_ip", []detCase{
		{name: "Okta isProxy", events: concat(home, []event.Event{anon(0, proxy())}), want: 1, wantSev: SeverityMedium},
		{name: "Tor exit", events: concat(home, []event.Event{anon(0, tor())}), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["signal"] != "tor" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "anonymous tunnel with operator", events: concat(home, []event.Event{anon(0, tunnel("NORD_VPN", true))}), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["operator"] != "NORD_VPN" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "anonymous IP list", events: concat(home, []event.Event{anon(0, cats(event.CatAnonymous))}), want: 1},
		{name: "plain sign-in", events: concat(home, []event.Event{anon(0)}), want: 0},
		{name: "corporate range wins over built-in tags", events: concat(home, []event.Event{anon(0, proxy(), cats(event.CatTrusted))}), want: 0},
		{name: "Private Relay demoted to info", events: concat(home, []event.Event{anon(0, relay())}), want: 1, wantSev: SeverityInfo},
		{name: "Private Relay ignored when configured", cfg: DetectorConfig{Params: map[string]any{"privateRelay": "ignore"}},
			events: concat(home, []event.Event{anon(0, relay())}), want: 0},
		{name: "Private Relay does not block a real anonymous alert", events: concat(home, []event.Event{anon(0, relay()), anon(1, tor())}), want: 2},
		{name: "operator shared by five users is corporate egress", events: concat(home, shared,
			[]event.Event{anon(0, proxy(), tunnel("CORP_SDP", true))}), want: 5},
		{name: "failed sign-in", events: concat(home, []event.Event{anon(0, proxy(), failed("INVALID_CREDENTIALS"))}), want: 0},
		{name: "learning period", events: []event.Event{signIn("new@example.com", day10), signIn("new@example.com", day10.Add(time.Hour), proxy())}, want: 0},
		{name: "once per user per 7 days", events: concat(home, []event.Event{anon(0, proxy()), anon(24, proxy()), anon(72, tor()), anon(8*24, proxy())}), want: 2},
		{name: "pen-tester scoped out", cfg: DetectorConfig{Exclude: []string{"alice@*"}}, events: concat(home, []event.Event{anon(0, tor())}), want: 0},
		{name: "admin activity within 30 min escalates", events: concat(home, []event.Event{anon(0, proxy()),
			mkEv("user.account.privilege.grant", u, day10.Add(10*time.Minute), target("User", "u2", "bob@example.com"))}), want: 2, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				if len(as[1].EventIDs) != 2 || as[1].IP != "185.246.1.1" {
					t.Fatalf("%+v", as[1])
				}
			}},
		{name: "admin activity after the window does not", events: concat(home, []event.Event{anon(0, proxy()),
			mkEv("user.account.privilege.grant", u, day10.Add(45*time.Minute), target("User", "u2", "bob@example.com"))}), want: 1},
		{name: "any activity at high sensitivity", cfg: DetectorConfig{Sensitivity: SensitivityHigh},
			events: concat(home, []event.Event{mkEv("app.oauth2.signon", u, day10, proxy())}), want: 1},
	})
}
