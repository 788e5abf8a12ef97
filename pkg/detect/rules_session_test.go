package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func sessionRuleCases(t testing.TB) map[string][]ruleCase {
	u, other := "una.user@example.com", "olaf.other@example.com"
	app := func(name string) jmod { return jTarget("AppInstance", "0oa"+name, name, name) }
	return map[string][]ruleCase{
		"app_password_reveal": {
			{name: "another user's app password", want: 1, sev: SeverityHigh, events: evs(jev(t, "application.user_membership.show_password", u, rt0,
				jTarget("AppUser", "0ua1", other, other), app("AWS")))},
			{name: "own passwords of three apps", want: 1, sev: SeverityMedium, events: evs(
				jev(t, "application.user_membership.show_password", u, rt0, jTarget("AppUser", "0ua1", u, u), app("AWS")),
				jev(t, "application.user_membership.show_password", u, rt0.Add(mins(5)), jTarget("AppUser", "0ua2", u, u), app("GitHub")),
				jev(t, "application.user_membership.show_password", u, rt0.Add(mins(9)), jTarget("AppUser", "0ua3", u, u), app("Payroll")))},
			// the owner is the event's User target: the app account's name
			// (a display name, an app-specific username) proves nothing alone
			// (a public case of panther-analysis' okta_password_accessed)
			{name: "own password, app account named by display name", want: 0, events: evs(jev(t, "application.user_membership.show_password", u, rt0,
				jTarget("AppUser", "0ua1", "Una User", "Una User"), app("AWS"), jTarget("User", "00uuna", u, "Una User")))},
			{name: "own password, app-specific username", want: 0, events: evs(jev(t, "application.user_membership.show_password", u, rt0,
				jTarget("AppUser", "0ua1", "una", "una"), app("AWS"), jTarget("User", "00uuna", u, "Una User")))},
			{name: "another user's password, app account named by display name", want: 1, sev: SeverityHigh, events: evs(jev(t, "application.user_membership.show_password", u, rt0,
				jTarget("AppUser", "0ua9", "Olga Other", "Olga Other"), app("AWS"), jTarget("User", "00uolga", other, "Olga Other")))},
			{name: "own password, one app, twice", want: 0, events: evs(
				jev(t, "application.user_membership.show_password", u, rt0, jTarget("AppUser", "0ua1", u, u), app("AWS")),
				jev(t, "application.user_membership.show_password", u, rt0.Add(mins(5)), jTarget("AppUser", "0ua1", u, u), app("AWS")))},
		},
		"client_secret_read": {
			{name: "secret read", want: 1, events: evs(jev(t, "app.oauth2.client.read_client_secret", u, rt0, app("Backend")))},
			{name: "client updated", want: 0, events: evs(jev(t, "app.oauth2.client.lifecycle.update", u, rt0, app("Backend")))},
		},
		"oauth_client_abuse": {
			{name: "mismatched redirect", want: 1, events: evs(jev(t, "app.oauth2.token.grant", u, rt0, jFail("mismatched_redirect_uri")))},
			{name: "successful grant", want: 0, events: evs(jev(t, "app.oauth2.token.grant", u, rt0))},
		},
		"refresh_token_reuse": {
			{name: "reuse detected", want: 1, events: evs(jev(t, "app.oauth2.as.token.detect_reuse", u, rt0, jFail("reuse")))},
			{name: "normal refresh", want: 0, events: evs(jev(t, "app.oauth2.as.token.grant.refresh_token", u, rt0))},
		},
		"denied_app_access": {
			{name: "three denials in an hour", want: 1, events: evs(
				jev(t, "app.generic.unauth_app_access_attempt", u, rt0, jFail("denied"), app("AWS")),
				jev(t, "app.generic.unauth_app_access_attempt", u, rt0.Add(mins(10)), jFail("denied"), app("Payroll")),
				jev(t, "app.generic.unauth_app_access_attempt", u, rt0.Add(mins(20)), jFail("denied"), app("GitHub")))},
			{name: "two denials, then one a day later", want: 0, events: evs(
				jev(t, "app.generic.unauth_app_access_attempt", u, rt0, jFail("denied"), app("AWS")),
				jev(t, "app.generic.unauth_app_access_attempt", u, rt0.Add(mins(10)), jFail("denied"), app("Payroll")),
				jev(t, "app.generic.unauth_app_access_attempt", u, rt0.Add(25*time.Hour), jFail("denied"), app("GitHub")))},
		},
		"dt_hash_multiple_os": {
			{name: "one token, macOS then Windows", want: 1, events: evs(
				jev(t, "user.session.start", u, rt0, jDbg("dtHash", "dt123")),
				jev(t, "user.authentication.sso", u, rt0.Add(time.Hour), jDbg("dtHash", "dt123"), jOS("Windows 10")))},
			{name: "two devices with their own tokens; a script's Unknown OS", want: 0, events: evs(
				jev(t, "user.session.start", u, rt0, jDbg("dtHash", "dt789"), jOS("Unknown")),
				jev(t, "user.session.start", u, rt0.Add(time.Minute), jDbg("dtHash", "dt789"), jOS("Linux")),
				jev(t, "user.session.start", u, rt0, jDbg("dtHash", "dt123")),
				jev(t, "user.session.start", u, rt0, jDbg("dtHash", "dt456"), jOS("iOS")),
				jev(t, "user.authentication.sso", u, rt0.Add(time.Hour), jDbg("dtHash", "dt123")))},
		},
		"concurrent_sessions": {
			{name: "four IPs in an hour", want: 1, events: func() []event.Event {
				var out []event.Event
				for i := 0; i < 4; i++ {
					out = append(out, jev(t, "user.session.start", u, rt0.Add(mins(10*i)), jIP(fmt.Sprintf("81.2.69.%d", 10+i), 20712), jSess(fmt.Sprintf("s%d", i))))
				}
				return out
			}(), check: func(t *testing.T, as []Alert) {
				if !strings.Contains(as[0].Summary, "4 IPs") {
					t.Fatal(as[0].Summary)
				}
			}},
			// the window's edges: a fourth IP 61 minutes after the first
			// does not make four within the hour; 59 minutes does
			{name: "four IPs over 61 minutes: the first is out of the window", want: 0, events: evs(
				jev(t, "user.session.start", u, rt0, jIP("81.2.69.10", 20712), jSess("s0")),
				jev(t, "user.session.start", u, rt0.Add(mins(30)), jIP("81.2.69.11", 20712), jSess("s1")),
				jev(t, "user.session.start", u, rt0.Add(mins(45)), jIP("81.2.69.12", 20712), jSess("s2")),
				jev(t, "user.session.start", u, rt0.Add(mins(61)), jIP("81.2.69.13", 20712), jSess("s3")))},
			{name: "four IPs over 59 minutes", want: 1, events: evs(
				jev(t, "user.session.start", u, rt0.Add(mins(2)), jIP("81.2.69.10", 20712), jSess("s0")),
				jev(t, "user.session.start", u, rt0.Add(mins(30)), jIP("81.2.69.11", 20712), jSess("s1")),
				jev(t, "user.session.start", u, rt0.Add(mins(45)), jIP("81.2.69.12", 20712), jSess("s2")),
				jev(t, "user.session.start", u, rt0.Add(mins(61)), jIP("81.2.69.13", 20712), jSess("s3")))},
			{name: "three IPs, and office sessions", want: 0, events: func() []event.Event {
				var out []event.Event
				for i := 0; i < 3; i++ {
					out = append(out, jev(t, "user.session.start", u, rt0.Add(mins(10*i)), jIP(fmt.Sprintf("81.2.69.%d", 10+i), 20712)))
				}
				return append(out, jev(t, "user.session.start", u, rt0.Add(mins(40)), jIP("10.0.0.1", 64512), jTrusted()))
			}()},
		},
	}
}

func TestRulesSession(t *testing.T) {
	for id, cs := range sessionRuleCases(t) {
		testRule(t, id, cs)
	}
}

func threatRuleCases(t testing.TB) map[string][]ruleCase {
	sys := func(m map[string]any) {
		jActorType("SystemPrincipal")(m)
		jJob()(m)
		m["client"] = map[string]any{"userAgent": nil, "zone": nil, "device": nil, "id": nil, "ipAddress": nil, "geographicalContext": nil}
		m["securityContext"] = map[string]any{"asNumber": nil, "asOrg": nil, "isp": nil, "domain": nil, "isProxy": nil}
		m["request"] = map[string]any{"ipChain": []any{}}
	}
	spray := func(ip string, n int, at time.Time) []event.Event {
		var out []event.Event
		for i := 0; i < n; i++ {
			out = append(out, jev(t, "user.session.start", fmt.Sprintf("v%d@example.com", i), at.Add(time.Duration(i)*20*time.Second), jIP(ip, 16509), jFail("INVALID_CREDENTIALS")))
		}
		return out
	}
	return map[string][]ruleCase{
		"security_threat_detected": {
			{name: "ThreatInsight DENY", want: 1, sev: SeverityHigh, check: func(t *testing.T, as []Alert) {
				if as[0].IP != "185.220.101.4" {
					t.Fatal(as[0].IP)
				}
			}, events: evs(
				jev(t, "security.threat.detected", "unknown", rt0, jIP("185.220.101.4", 4224), jOutcome("DENY", "Credential Stuffing")),
				jev(t, "security.threat.detected", "unknown", rt0.Add(mins(3)), jIP("185.220.101.4", 4224), jOutcome("DENY", "Credential Stuffing")))},
			{name: "threatSuspected on a sign-in is suspicious_ip's", want: 0, events: evs(jev(t, "user.session.start", "u@example.com", rt0, jDbg("threatSuspected", "true")))},
		},
		"org_under_attack": {
			// one incident: the start's alert, summed up by the end (same id)
			{name: "start, sprays, end", want: 1, check: func(t *testing.T, as []Alert) {
				inc := as[0]
				ips, _ := inc.Evidence["sprayIPs"].([]string)
				if inc.Actor != "system@okta.com" || len(ips) != 2 || ips[0] != "52.4.1.1" || ips[1] != "52.4.1.2" ||
					!inc.LastTime.Equal(rt0.Add(40*time.Minute)) || !inc.Time.Equal(rt0) || inc.Evidence["firstSummary"] != "Okta reports an attack on the org (PASSWORD_SPRAY)" {
					t.Fatalf("incident %+v", inc)
				}
			}, events: joinEvs(
				evs(jev(t, "security.attack.start", "system@okta.com", rt0, sys, jDbg("attackType", "PASSWORD_SPRAY"))),
				spray("52.4.1.1", 12, rt0.Add(time.Minute)),
				spray("52.4.1.2", 6, rt0.Add(2*time.Minute)),
				spray("52.4.1.3", 2, rt0.Add(3*time.Minute)),
				evs(jev(t, "security.attack.end", "system@okta.com", rt0.Add(40*time.Minute), sys, jDbg("attackType", "PASSWORD_SPRAY"))))},
			{name: "sprays without Okta's attack events", want: 0, events: spray("52.4.1.1", 12, rt0)},
		},
		"itp_user_risk": {
			{name: "risk HIGH", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Actor != "una.user@example.com" {
					t.Fatal(as[0].Actor)
				}
			}, events: evs(jev(t, "user.risk.detect", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser("una.user@example.com"), jDbg("risk", "{reasons=Session influenced user risk, level=HIGH}")))},
			{name: "risk MEDIUM", want: 0, events: evs(jev(t, "user.risk.detect", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser("una.user@example.com"), jDbg("risk", "{reasons=x, level=MEDIUM}")))},
		},
		"user_reported_suspicious": {
			{name: "report", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["suspiciousActivityEventType"] != "system.push.send_factor_verify_push" {
					t.Fatal(as[0].Evidence)
				}
			}, events: evs(jev(t, "user.account.report_suspicious_activity_by_enduser", "una.user@example.com", rt0, jUser("una.user@example.com"),
				jDbg("suspiciousActivityEventType", "system.push.send_factor_verify_push", "suspiciousActivityEventId", "abc")))},
			{name: "password update", want: 0, events: evs(jev(t, "user.account.update_password", "una.user@example.com", rt0))},
		},
	}
}

func TestRulesThreat(t *testing.T) {
	for id, cs := range threatRuleCases(t) {
		testRule(t, id, cs)
	}
}

// TestEveryRuleHasCases: every registered rule has positive and negative
// cases in one of the theme case sets.
func TestEveryRuleHasCases(t *testing.T) {
	all := map[string][]ruleCase{}
	for _, set := range []func(testing.TB) map[string][]ruleCase{adminRuleCases, mfaRuleCases, persistenceRuleCases, policyRuleCases, tamperingRuleCases, credentialRuleCases, sessionRuleCases, threatRuleCases} {
		for id, cs := range set(t) {
			all[id] = append(all[id], cs...)
		}
	}
	for _, r := range Rules() {
		pos, neg := 0, 0
		for _, c := range all[r.ID] {
			if c.want > 0 {
				pos++
			} else {
				neg++
			}
		}
		if pos == 0 || neg == 0 {
			t.Errorf("rule %s: %d positive and %d negative cases", r.ID, pos, neg)
		}
		delete(all, r.ID)
	}
	for id := range all {
		t.Errorf("cases for %q, which is not a registered rule", id)
	}
}
