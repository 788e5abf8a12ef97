package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func credentialRuleCases(t testing.TB) map[string][]ruleCase {
	u, admin, hd := "una.user@example.com", "ana.admin@example.com", "hd.desk@example.com"
	locks := func(n int, users bool) []event.Event {
		var out []event.Event
		for i := 0; i < n; i++ {
			who := "u0@example.com"
			if users {
				who = fmt.Sprintf("u%d@example.com", i)
			}
			out = append(out, jev(t, "user.account.lock", who, rt0.Add(mins(3*i)), jFail("LOCKED_OUT"), jUser(who)))
		}
		return out
	}
	resets := func(n int, actor string, distinct bool) []event.Event {
		var out []event.Event
		for i := 0; i < n; i++ {
			who := u
			if distinct {
				who = fmt.Sprintf("u%d@example.com", i)
			}
			out = append(out, jev(t, "user.account.reset_password", actor, rt0.Add(mins(2*i)), jUser(who)))
		}
		return out
	}
	return map[string][]ruleCase{
		"account_lockouts": {
			{name: "five users locked", want: 1, events: locks(5, true)},
			{name: "one user locked three times", want: 1, events: locks(3, false)},
			{name: "four users, one of them twice", want: 0, events: append(locks(4, true), locks(1, false)...)},
			{name: "lone lockout of an admin from a hosting address", want: 1, sev: SeverityHigh, check: func(t *testing.T, as []Alert) {
				if as[0].Actor != admin || as[0].IP != "159.203.17.4" || as[0].Evidence["pattern"] != "admin" || as[0].Evidence["hosting"] != true {
					t.Fatalf("%+v", as[0])
				}
			}, events: adminLockout(t, admin, 2, jIP("159.203.17.4", 14061))},
			{name: "lone lockout of an admin from a network new to them", want: 1, events: adminLockout(t, admin, 2, jIP("81.2.69.160", 5089))},
			{name: "benign: an admin locks themselves out at home", want: 0, events: adminLockout(t, admin, 2)},
			{name: "benign: a plain user's lone lockout from a hosting address", want: 0, events: joinEvs(
				evs(jev(t, "user.session.start", u, rt0.Add(-72*time.Hour))),
				evs(jev(t, "user.account.lock", u, rt0, jFail("LOCKED_OUT"), jUser(u), jIP("159.203.17.4", 14061))))},
			{name: "just below: the admin's last Admin Console access was 31 days before", want: 0, events: adminLockout(t, admin, 31, jIP("159.203.17.4", 14061))},
		},
		"password_in_username": {
			{name: "password-like login", want: 1, check: func(t *testing.T, as []Alert) {
				b := fmt.Sprint(as[0])
				if strings.Contains(b, "Sup3r$ecret") || as[0].Actor != "S**********" {
					t.Fatalf("secret leaked or not masked: %s", b)
				}
			}, events: evs(jev(t, "user.session.start", "Sup3r$ecret", rt0, jFail("VERIFICATION_ERROR")))},
			{name: "email login, short name, success", want: 0, events: evs(
				jev(t, "user.session.start", "Jo.Smith2024@example.com", rt0, jFail("INVALID_CREDENTIALS")),
				jev(t, "user.session.start", "jsmith", rt0, jFail("INVALID_CREDENTIALS")),
				jev(t, "user.session.start", "DOMAIN\\jsmith1!", rt0, jFail("INVALID_CREDENTIALS")))},
		},
		"reset_unlock_flood": {
			{name: "five resets for one user", want: 1, events: resets(5, u, false)},
			{name: "help desk resets ten users", want: 1, events: resets(10, hd, true)},
			{name: "help desk routine and Okta auto-unlocks", want: 0, events: append(resets(4, hd, true),
				jev(t, "user.account.unlock", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser(u)),
				jev(t, "user.account.unlock", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser(u)),
				jev(t, "user.account.unlock", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser(u)),
				jev(t, "user.account.unlock", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser(u)),
				jev(t, "user.account.unlock", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser(u)))},
		},
		"rate_limit_violation": {
			{name: "org rate limit violation: info", want: 1, sev: SeverityInfo, events: evs(jev(t, "system.org.rate_limit.violation", "system@okta.com", rt0, jActorType("SystemPrincipal")))},
			{name: "warnings are not alerts", want: 0, events: evs(jev(t, "system.org.rate_limit.warning", "system@okta.com", rt0, jActorType("SystemPrincipal")),
				jev(t, "app.oauth2.client_id_rate_limit_warning", "system@okta.com", rt0, jActorType("SystemPrincipal")),
				jev(t, "system.operation.rate_limit.warning", "system@okta.com", rt0, jActorType("SystemPrincipal")))},
			{name: "exceeded with threatSuspected: medium", want: 1, sev: SeverityMedium, events: evs(jev(t, "system.client.rate_limit.violation", "system@okta.com", rt0, jActorType("SystemPrincipal"), jDbg("threatSuspected", "true")))},
			{name: "ordinary events", want: 0, events: evs(jev(t, "user.session.start", u, rt0))},
		},
		"denylist_country": {
			{name: "listed country", want: 1, cfg: DetectorConfig{Params: map[string]any{"countries": []any{"North Korea"}}}, events: evs(jev(t, "user.session.start", u, rt0, jCountry("North Korea")))},
			{name: "empty list (default) and unlisted country", want: 0, events: evs(jev(t, "user.session.start", u, rt0, jCountry("North Korea")))},
		},
		"dormant_account_activity": {
			{name: "suspended account signs in", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Actor != u || as[0].Evidence["changedBy"] != admin || len(as[0].EventIDs) != 2 {
					t.Fatalf("%+v", as[0])
				}
			}, events: evs(
				jev(t, "user.lifecycle.suspend", admin, rt0, jUser(u)),
				jev(t, "user.session.start", u, rt0.Add(36*time.Hour)),
				jev(t, "user.authentication.sso", u, rt0.Add(37*time.Hour)))},
			{name: "first sign-in after 100 idle days", want: 1, sev: SeverityMedium, events: evs(
				jev(t, "user.session.start", u, rt0),
				jev(t, "user.session.start", u, rt0.Add(100*24*time.Hour)))},
			{name: "idle param shortens dormancy", want: 1, cfg: DetectorConfig{Params: map[string]any{"idle": "10d"}}, events: evs(
				jev(t, "user.session.start", u, rt0),
				jev(t, "user.session.start", u, rt0.Add(11*24*time.Hour)))},
			{name: "unsuspended before use; failed attempts; regular user", want: 0, events: evs(
				jev(t, "user.lifecycle.suspend", admin, rt0, jUser(u)),
				jev(t, "user.session.start", u, rt0.Add(time.Hour), jFail("USER_SUSPENDED")),
				jev(t, "user.lifecycle.unsuspend", admin, rt0.Add(2*time.Hour), jUser(u)),
				jev(t, "user.session.start", u, rt0.Add(3*time.Hour)),
				jev(t, "user.session.start", u, rt0.Add(30*24*time.Hour)))},
		},
	}
}

func TestRulesCredential(t *testing.T) {
	for id, cs := range credentialRuleCases(t) {
		testRule(t, id, cs)
	}
}

// adminLockout: admin signs in at home for a week, opens the Admin Console
// consoleDaysBefore days before rt0, then is locked out at rt0 (from the
// home address unless where says otherwise).
func adminLockout(t testing.TB, admin string, consoleDaysBefore int, where ...jmod) []event.Event {
	var out []event.Event
	for d := 40; d >= 1; d-- {
		out = append(out, jev(t, "user.session.start", admin, rt0.Add(-time.Duration(d)*24*time.Hour)))
		if d == consoleDaysBefore {
			out = append(out, jev(t, "user.session.access_admin_app", admin, rt0.Add(-time.Duration(d)*24*time.Hour+time.Minute)))
		}
	}
	return append(out, jev(t, "user.account.lock", admin, rt0, append([]jmod{jFail("LOCKED_OUT"), jUser(admin)}, where...)...))
}
