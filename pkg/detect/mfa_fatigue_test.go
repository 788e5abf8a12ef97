package detect

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// pushes: n pushes from the attacker IP, each denied (deny) or left unanswered.
func pushes(u string, from time.Time, n int, step time.Duration, deny bool) []event.Event {
	var out []event.Event
	for i := 0; i < n; i++ {
		tt := from.Add(time.Duration(i) * step)
		out = append(out, mkEv("system.push.send_factor_verify_push", u, tt, ip("159.203.7.7")))
		if deny {
			out = append(out, mkEv("user.mfa.okta_verify.deny_push", u, tt.Add(10*time.Second), ip("73.1.1.1"), failed("User rejected Okta Verify push")))
		}
	}
	return out
}

func TestMFAFatigue(t *testing.T) {
	const u = "alice@example.com"
	approve := func(at time.Time, addr string) []event.Event {
		return []event.Event{
			mkEv("system.push.send_factor_verify_push", u, at, ip("159.203.7.7")),
			mkEv("user.authentication.auth_via_mfa", u, at.Add(5*time.Second), ip(addr)),
		}
	}
	var normal []event.Event
	for i := 0; i < 8; i++ {
		normal = append(normal, approve(t0.Add(time.Duration(i)*time.Minute), "159.203.7.7")...)
	}
	runCases(t, "mfa_fatigue", []detCase{
		{name: "six denied pushes in ten minutes", events: pushes(u, t0, 6, 100*time.Second, true), want: 1, wantSev: SeverityHigh,
			check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["badInWindow"].(int) < 5 || as[0].Evidence["denied"].(int) < 4 {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "unanswered pushes count", events: pushes(u, t0, 6, time.Minute, false), want: 1},
		{name: "four denied pushes", events: pushes(u, t0, 4, time.Minute, true), want: 0},
		{name: "approved pushes are normal", events: normal, want: 0},
		{name: "denials spread over hours", events: pushes(u, t0, 8, 20*time.Minute, true), want: 0},
		{name: "success after the bombing is critical, IP mismatch noted", events: concat(pushes(u, t0, 6, time.Minute, true), approve(t0.Add(15*time.Minute), "73.1.1.1")), want: 1, wantSev: SeverityCritical,
			check: func(t *testing.T, as []Alert) {
				// one incident: the burst's alert, escalated by the approval
				if as[0].Evidence["ipMismatch"] != true || as[0].Evidence["firstSummary"] == nil || as[0].IP != "73.1.1.1" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}},
		{name: "success long after is not escalated", events: concat(pushes(u, t0, 6, time.Minute, true), approve(t0.Add(3*time.Hour), "73.1.1.1")), want: 1},
		{name: "MFA verify failures count", events: func() []event.Event {
			var out []event.Event
			for i := 0; i < 5; i++ {
				out = append(out, mkEv("user.authentication.auth_via_mfa", u, t0.Add(time.Duration(i)*time.Minute), failed("INVALID_CREDENTIALS")))
			}
			return out
		}(), want: 1},
	})
}
