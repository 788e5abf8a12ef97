package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// sprayFrom: failures against n users from addr, k attempts each, from tt.
func sprayFrom(addr string, tt time.Time, n, k int) []event.Event {
	var out []event.Event
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			out = append(out, signIn(userN(i), tt, ip(addr), ua("python-requests/2.31", "Linux"), failed("INVALID_CREDENTIALS")))
			tt = tt.Add(20 * time.Second)
		}
	}
	return out
}

func TestSuspiciousIP(t *testing.T) {
	const u = "alice@example.com"
	const bad = "159.203.1.66"
	ok := func(at time.Time, o ...evOpt) event.Event {
		return signIn(u, at, append([]evOpt{ip(bad)}, o...)...)
	}
	threatEv := func(at time.Time, result string) event.Event {
		e := mkEv("security.threat.detected", "unknown", at, ip(bad))
		e.Actor = event.Actor{ID: "unknown", Type: "User", AlternateID: "unknown"}
		e.Outcome.Result = result
		return e
	}
	var shared []event.Event
	for i := 0; i < 5; i++ {
		shared = append(shared, signIn(userN(20+i), t0.Add(time.Duration(i)*time.Hour), ip(bad)))
	}
	runCases(t, "suspicious_ip", []detCase{
		{name: "threat-intel list", events: []event.Event{ok(t0, cats(event.CatSuspicious))}, want: 1, wantSev: SeverityHigh},
		{name: "ThreatInsight threatSuspected", events: []event.Event{ok(t0, threat())}, want: 1},
		{name: "security.threat.detected in the last 24h", events: []event.Event{threatEv(t0, "DENY"), ok(t0.Add(20 * time.Hour))}, want: 1,
			check: func(t *testing.T, as []Alert) {
				if len(as[0].EventIDs) != 2 {
					t.Fatalf("threat event not linked: %v", as[0].EventIDs)
				}
			}},
		{name: "threat verdict older than 24h", events: []event.Event{threatEv(t0, "DENY"), ok(t0.Add(25 * time.Hour))}, want: 0},
		{name: "self-derived spray source", events: concat(sprayFrom(bad, t0, 10, 2), []event.Event{ok(t0.Add(2 * time.Hour))}), want: 1,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["sprayedUsers"].(int) != 10 {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "nine users is not a spray", events: concat(sprayFrom(bad, t0, 9, 2), []event.Event{ok(t0.Add(2 * time.Hour))}), want: 0},
		{name: "many attempts per user is brute force, not spray", events: concat(sprayFrom(bad, t0, 10, 5), []event.Event{ok(t0.Add(2 * time.Hour))}), want: 0},
		{name: "only failures from a listed IP", events: []event.Event{ok(t0, cats(event.CatSuspicious), failed("INVALID_CREDENTIALS"))}, want: 0},
		{name: "clean IP", events: []event.Event{ok(t0)}, want: 0},
		{name: "corporate range", events: []event.Event{ok(t0, threat(), cats(event.CatTrusted))}, want: 0},
		{name: "shared egress many users sign in from", events: concat(shared, []event.Event{ok(t0.Add(10*time.Hour), threat())}), want: 0},
		{name: "shared egress does not hide a listed IP", events: concat(shared, []event.Event{ok(t0.Add(10*time.Hour), cats(event.CatSuspicious))}), want: 1},
	})
}
