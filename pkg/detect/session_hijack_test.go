package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func TestSessionHijack(t *testing.T) {
	const u = "alice@example.com"
	start := signIn(u, t0, ip("73.1.1.1"), asn(7922), session("102abc"), at("New York"))
	sso := func(m int, o ...evOpt) event.Event {
		return mkEv("user.authentication.sso", u, t0.Add(time.Duration(m)*time.Minute), append([]evOpt{session("102abc")}, o...)...)
	}
	runCases(t, "session_hijack", []detCase{
		{name: "cookie replayed from another country and browser", events: []event.Event{start,
			sso(40, ip("105.112.1.1"), asn(29465), at("Lagos"), ua("Mozilla/5.0 (X11; Linux x86_64) Firefox/124.0", "Linux"))}, want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				ch := as[0].Evidence["changed"].([]string)
				if len(ch) < 3 || len(as[0].EventIDs) != 2 {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "replay from same country, other client", events: []event.Event{start, sso(40, ip("159.203.1.1"), asn(14061), ua("python-requests/2.31", "Linux"))}, want: 1},
		{name: "same IP", events: []event.Event{start, sso(40, ip("73.1.1.1"))}, want: 0},
		{name: "mobile network: new IP, same ASN, country and agent", events: []event.Event{start, sso(40, ip("73.9.9.9"), asn(7922))}, want: 0},
		{name: "same /24", events: []event.Event{start, sso(40, ip("73.1.1.77"), asn(1), ua("other", "Linux"))}, want: 0},
		{name: "both ends trusted (VPN)", events: []event.Event{
			signIn(u, t0, ip("212.36.0.10"), session("102abc"), cats(event.CatTrusted)),
			sso(40, ip("212.36.16.10"), asn(8220), at("London"), cats(event.CatTrusted))}, want: 0},
		{name: "Okta first-party client", events: []event.Event{start, sso(40, ip("105.112.1.1"), at("Lagos"), asn(29465), clientID("okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26"))}, want: 0},
		{name: "after the session lifetime", events: []event.Event{start, sso(25*60, ip("105.112.1.1"), asn(29465), at("Lagos"))}, want: 0},
		{name: "other session", events: []event.Event{start, sso(40, ip("105.112.1.1"), asn(29465), at("Lagos"), session("102other"))}, want: 0},
		{name: "device token reused without a session id", events: []event.Event{
			signIn(u, t0, ip("73.1.1.1"), session(""), dt("dt1")),
			mkEv("user.authentication.sso", u, t0.Add(time.Hour), session(""), dt("dt1"), ip("105.112.1.1"), asn(29465), at("Lagos"))}, want: 1},
		{name: "Okta session roaming event", events: []event.Event{start, mkEv("security.session.detect_client_roaming", u, t0.Add(time.Hour), session("102abc"), ip("105.112.1.1"))}, want: 1},
		{name: "asn change alone can be ignored", cfg: DetectorConfig{Params: map[string]any{"asnChange": false}},
			events: []event.Event{start, sso(40, ip("100.1.1.1"), asn(21928))}, want: 0},
		{name: "asn change alone alerts by default", events: []event.Event{start, sso(40, ip("100.1.1.1"), asn(21928))}, want: 1},
	})
}
