package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

func adminRuleCases(t testing.TB) map[string][]ruleCase {
	admin, victim := "ana.admin@example.com", "vic.user@example.com"
	office := jTrusted()
	vps := jIP("159.203.17.4", 14061)
	home := jIP("73.10.20.5", 7922)
	return map[string][]ruleCase{
		"admin_role_granted": {
			{name: "super admin to a user", want: 1, sev: SeverityCritical, events: evs(
				jev(t, "user.account.privilege.grant", admin, rt0, office, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Super administrator")))},
			{name: "org admin to a group", want: 1, sev: SeverityCritical, events: evs(
				jev(t, "group.privilege.grant", admin, rt0, office, jTarget("UserGroup", "00g1", "unknown", "IT Ops", "privilegeGranted", "Organization administrator")))},
			{name: "help desk role to a user", want: 1, sev: SeverityHigh, check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["role"] != "Help Desk administrator" || as[0].Evidence["grantee"] != victim {
					t.Fatalf("evidence %v", as[0].Evidence)
				}
			}, events: evs(jev(t, "user.account.privilege.grant", admin, rt0, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Help Desk administrator")))},
			{name: "custom role binding", want: 1, events: evs(jev(t, "iam.resourceset.bindings.add", admin, rt0, jTarget("ROLE", "cr0", "unknown", "App admins")))},
			{name: "failed grant and revocation do not alert", want: 0, events: evs(
				jev(t, "user.account.privilege.grant", admin, rt0, jFail("INSUFFICIENT_PERMISSIONS"), jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Super administrator")),
				jev(t, "user.account.privilege.revoke", admin, rt0.Add(time.Minute), jTarget("User", "00uv", victim, "Vic")))},
			{name: "severity param overrides", want: 1, sev: SeverityLow, cfg: DetectorConfig{Params: map[string]any{"severity": "low"}}, events: evs(
				jev(t, "user.account.privilege.grant", admin, rt0, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Super administrator")))},
			{name: "exclude scoping drops the actor", want: 0, cfg: DetectorConfig{Exclude: []string{"ana.*"}}, events: evs(
				jev(t, "user.account.privilege.grant", admin, rt0, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Super administrator")))},
			// routine work: the established admin granted a role yesterday
			{name: "routine: an established admin's repeat grant from home is info", want: 2, check: sevsAre(SeverityHigh, SeverityInfo), events: append(homeHistory(t, admin),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Read-only Administrator")),
				jev(t, "user.account.privilege.grant", admin, rt0, home, jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Help Desk Administrator")))},
			{name: "the same repeat from a VPS alerts", want: 2, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Read-only Administrator")),
				jev(t, "user.account.privilege.grant", admin, rt0, vps, jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Help Desk Administrator")))},
			{name: "the same repeat from home with threatSuspected alerts", want: 2, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Read-only Administrator")),
				jev(t, "user.account.privilege.grant", admin, rt0, home, jDbg("threatSuspected", "true"), jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Help Desk Administrator")))},
			{name: "a repeated Super administrator grant stays critical", want: 2, check: sevsAre(SeverityCritical, SeverityCritical), events: append(homeHistory(t, admin),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Super administrator")),
				jev(t, "user.account.privilege.grant", admin, rt0, home, jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Super administrator")))},
			{name: "a repeated self-grant stays high", want: 2, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Read-only Administrator")),
				jev(t, "user.account.privilege.grant", admin, rt0, home, jTarget("User", "00u"+admin, admin, "Ana", "privilegeGranted", "Read-only Administrator")))},
			{name: "routine: false alerts on the repeat", want: 2, cfg: DetectorConfig{Params: map[string]any{"routine": false}}, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Read-only Administrator")),
				jev(t, "user.account.privilege.grant", admin, rt0, home, jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Help Desk Administrator")))},
			{name: "learning: a grant from the network signed in from earlier that day is info, from a VPS high", want: 2, check: sevsAre(SeverityInfo, SeverityHigh), events: evs(
				jev(t, "user.session.start", admin, rt0, home),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(time.Hour), home, jTarget("User", "00uv", victim, "Vic", "privilegeGranted", "Read-only Administrator")),
				jev(t, "user.session.start", admin, rt0.Add(3*time.Hour), vps),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(3*time.Hour+time.Minute), vps, jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Help Desk Administrator")))},
		},
		"new_user_created": {
			{name: "created from a network new to the admin", want: 1, sev: SeverityLow, events: append(homeHistory(t, admin),
				jev(t, "user.session.start", admin, rt0, vps),
				jev(t, "user.lifecycle.create", admin, rt0.Add(time.Hour), vps, jUser("backdoor@example.com")))},
			{name: "created from a hostile address on the home network is high", want: 1, sev: SeverityHigh, events: append(homeHistory(t, admin),
				jev(t, "user.lifecycle.create", admin, rt0.Add(time.Hour), home, jDbg("threatSuspected", "true"), jUser("backdoor@example.com")))},
			// one incident: the creation's alert, updated (same id) by the grant
			{name: "created then granted admin", want: 1, check: func(t *testing.T, as []Alert) {
				conds, _ := as[0].Evidence["conditions"].([]any)
				if as[0].Severity != SeverityHigh || as[0].Evidence["pattern"] != "created_then_admin" || len(conds) != 2 || as[0].Count != 2 {
					t.Fatalf("alert %s count %d %v", as[0].Severity, as[0].Count, as[0].Evidence)
				}
			}, events: append(homeHistory(t, admin),
				jev(t, "user.lifecycle.create", admin, rt0.Add(time.Hour), vps, jUser("backdoor@example.com")),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(2*time.Hour), vps, jTarget("User", "00ub", "backdoor@example.com", "b", "privilegeGranted", "Super administrator")))},
			{name: "benign: creation from home (no VPN), office, provisioning job, grant after 24h", want: 0, events: append(homeHistory(t, admin),
				jev(t, "user.lifecycle.create", admin, rt0.Add(time.Hour), home, jUser("newhire0@example.com")),
				jev(t, "user.lifecycle.create", admin, rt0.Add(time.Hour), jIP("73.99.1.1", 7922), jUser("newhire1@example.com")),
				jev(t, "user.lifecycle.create", admin, rt0.Add(time.Hour), office, jUser("newhire@example.com")),
				jev(t, "user.lifecycle.create", "Workday", rt0.Add(time.Hour), jActorType("PublicClientApp"), jJob(), jUser("newhire2@example.com")),
				jev(t, "user.account.privilege.grant", admin, rt0.Add(30*time.Hour), office, jTarget("User", "00un", "newhire@example.com", "n", "privilegeGranted", "Read-only administrator")))},
			{name: "learning: an admin without history is silent", want: 0, events: evs(
				jev(t, "user.lifecycle.create", admin, rt0, vps, jUser("x@example.com")))},
			{name: "known device: first day at a new home network is not an alert", want: 0, events: append(homeHistory(t, admin),
				knownDeviceSignIn(t, admin, rt0, "s-new-home", jIP("66.188.3.130", 20115)),
				jev(t, "user.lifecycle.create", admin, rt0.Add(10*time.Minute), jSess("s-new-home"), jIP("66.188.3.130", 20115), jUser("newhire@example.com")))},
			{name: "new device on the same new network alerts", want: 1, sev: SeverityLow, events: append(homeHistory(t, admin),
				jev(t, "user.session.start", admin, rt0, jSess("s-new-dev"), jIP("66.188.3.130", 20115), jDbg("behaviors", "{New Device=POSITIVE, New Geo-Location=NEGATIVE, New IP=POSITIVE}")),
				jev(t, "user.lifecycle.create", admin, rt0.Add(10*time.Minute), jSess("s-new-dev"), jIP("66.188.3.130", 20115), jUser("newhire@example.com")))},
			{name: "known device on a hosting network alerts", want: 1, sev: SeverityLow, events: append(homeHistory(t, admin),
				knownDeviceSignIn(t, admin, rt0, "s-vps", vps),
				jev(t, "user.lifecycle.create", admin, rt0.Add(10*time.Minute), jSess("s-vps"), vps, jUser("newhire@example.com")))},
		},
		"admin_activity_untrusted_ip": {
			{name: "admin console from a VPS new to the admin", want: 1, sev: SeverityMedium, check: func(t *testing.T, as []Alert) {
				if as[0].IP != "159.203.17.4" || as[0].Count != 2 || as[0].Evidence["hosting"] != true {
					t.Fatalf("ip %s count %d %v", as[0].IP, as[0].Count, as[0].Evidence)
				}
			}, events: append(homeHistory(t, admin),
				jev(t, "user.session.start", admin, rt0.Add(59*time.Minute), vps),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Hour), vps),
				jev(t, "group.user_membership.add", admin, rt0.Add(61*time.Minute), vps, jUser(victim), jTarget("UserGroup", "00g", "unknown", "Admins")))},
			{name: "admin console through Tor is high", want: 1, sev: SeverityHigh, events: append(homeHistory(t, admin),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Hour), home, func(m map[string]any) { sub(m, "securityContext")["isProxy"] = true }))},
			{name: "benign: admin at home without VPN, new address from the same ISP, office", want: 0, events: append(homeHistory(t, admin),
				jev(t, "user.session.access_admin_app", admin, rt0, home),
				jev(t, "group.user_membership.add", admin, rt0.Add(time.Minute), home, jUser(victim), jTarget("UserGroup", "00g", "unknown", "Sales")),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(3*time.Hour), jIP("73.99.1.1", 7922)),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(4*time.Hour), office),
				jev(t, "user.authentication.sso", admin, rt0.Add(2*time.Hour), vps),
				jev(t, "user.account.update_password", victim, rt0.Add(3*time.Hour), vps, jUser(victim)))},
			{name: "learning: a new admin is silent", want: 0, events: evs(
				jev(t, "user.session.access_admin_app", "new.admin@example.com", rt0, vps))},
			{name: "known device: first day at a new home network is info", want: 1, sev: SeverityInfo, check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["knownDevice"] != true || as[0].Evidence["pattern"] != "known_device" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}, events: append(homeHistory(t, admin),
				knownDeviceSignIn(t, admin, rt0, "s-new-home", jIP("66.188.3.130", 20115)),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Minute), jSess("s-new-home"), jIP("66.188.3.130", 20115)),
				jev(t, "group.user_membership.add", admin, rt0.Add(2*time.Minute), jSess("s-new-home"), jIP("66.188.3.130", 20115), jUser(victim), jTarget("UserGroup", "00g", "unknown", "Sales")))},
			{name: "new device on the same network is medium", want: 1, sev: SeverityMedium, events: append(homeHistory(t, admin),
				jev(t, "user.session.start", admin, rt0, jSess("s-new-dev"), jIP("66.188.3.130", 20115), jDbg("behaviors", "{New Device=POSITIVE, New Geo-Location=NEGATIVE, New IP=POSITIVE}")),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Minute), jSess("s-new-dev"), jIP("66.188.3.130", 20115)))},
			{name: "known device, then a new-device sign-in in the same session, is medium", want: 1, sev: SeverityMedium, events: append(homeHistory(t, admin),
				knownDeviceSignIn(t, admin, rt0, "s-mixed", jIP("66.188.3.130", 20115)),
				jev(t, "user.authentication.verify", admin, rt0.Add(time.Minute), jSess("s-mixed"), jIP("66.188.3.130", 20115), jDbg("behaviors", "{New Device=POSITIVE, New Geo-Location=NEGATIVE}")),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(2*time.Minute), jSess("s-mixed"), jIP("66.188.3.130", 20115)))},
			{name: "known device from a hosting network is medium", want: 1, sev: SeverityMedium, events: append(homeHistory(t, admin),
				knownDeviceSignIn(t, admin, rt0, "s-vps", vps),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Minute), jSess("s-vps"), vps))},
			{name: "knownDevice: false keeps it medium", want: 1, sev: SeverityMedium, cfg: DetectorConfig{Params: map[string]any{"knownDevice": false}}, events: append(homeHistory(t, admin),
				knownDeviceSignIn(t, admin, rt0, "s-new-home", jIP("66.188.3.130", 20115)),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Minute), jSess("s-new-home"), jIP("66.188.3.130", 20115)))},
			{name: "API-token automation from its cloud project is learned", want: 0, events: tokenAutomation(t, "svc-sync@example.com", jIP("34.122.0.78", 396982))},
			{name: "the same automation from a new network alerts", want: 1, sev: SeverityMedium, events: append(tokenAutomation(t, "svc-sync@example.com", jIP("34.122.0.78", 396982)),
				jev(t, "group.user_membership.add", "svc-sync@example.com", rt0.Add(time.Hour), vps, jToken("00Tsync"), jUser(victim), jTarget("UserGroup", "00g", "unknown", "Sales")))},
		},
		"okta_support_reset": {
			{name: "password reset by Okta Support", want: 1, sev: SeverityHigh, check: func(t *testing.T, as []Alert) {
				if strings.Join(as[0].Targets, ",") != victim {
					t.Fatalf("targets %v", as[0].Targets)
				}
			}, events: evs(jev(t, "user.account.reset_password", "system@okta.com", rt0, jActorType("User"), jNoClient(), jUser(victim)))},
			{name: "benign: help-desk reset by an admin, and Okta's scheduled job", want: 0, events: evs(
				jev(t, "user.account.reset_password", admin, rt0, jUser(victim)),
				jev(t, "user.account.reset_password", "system@okta.com", rt0, jJob(), jNoClient(), jUser(victim)),
				jev(t, "user.account.reset_password", "system@okta.com", rt0, jActorType("User"), jUser(victim)))},
		},
		"admin_console_access_denied": {
			{name: "denied", want: 1, events: evs(jev(t, "user.session.access_admin_app", victim, rt0, jFail("Access denied by admin app policy")))},
			{name: "allowed", want: 0, events: evs(jev(t, "user.session.access_admin_app", admin, rt0))},
		},
		"admin_console_weak_mfa": {
			{name: "verify to the admin console with a password", want: 1, events: evs(
				jev(t, "user.authentication.verify", admin, rt0, jTarget("AppInstance", "0oaadm", "Okta Admin Console", "Okta Admin Console"),
					jTarget("AuthenticatorEnrollment", "pfd", "unknown", "Password", "methodTypeUsed", "Password")))},
			{name: "password session without MFA opens the console", want: 1, events: evs(
				jev(t, "user.session.start", admin, rt0, jSess("s1"), jCred("PASSWORD")),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(mins(5)), jSess("s1")))},
			{name: "MFA logged before the session start", want: 0, events: evs(
				jev(t, "user.authentication.auth_via_mfa", admin, rt0, jSess("s2"), jDbg("factor", "OKTA_VERIFY_PUSH")),
				jev(t, "user.session.start", admin, rt0.Add(time.Second), jSess("s2"), jCred("PASSWORD")),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(mins(5)), jSess("s2")))},
			{name: "MFA completed in the session; console verify with push", want: 0, events: evs(
				jev(t, "user.session.start", admin, rt0, jSess("s1"), jCred("PASSWORD")),
				jev(t, "user.authentication.auth_via_mfa", admin, rt0.Add(time.Minute), jSess("s1"), jDbg("factor", "OKTA_VERIFY_PUSH")),
				jev(t, "user.session.access_admin_app", admin, rt0.Add(mins(5)), jSess("s1")),
				jev(t, "user.authentication.verify", admin, rt0.Add(mins(6)), jTarget("AppInstance", "0oaadm", "Okta Admin Console", "Okta Admin Console"),
					jTarget("AuthenticatorEnrollment", "pfd", "unknown", "Okta Verify", "methodTypeUsed", "push")))},
		},
		"support_impersonation": {
			{name: "grant then initiate: one incident, raised to high by the session", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Severity != SeverityHigh || !strings.Contains(as[0].Summary, "Okta Support") || as[0].Count != 2 || len(as[0].EventIDs) != 2 {
					t.Fatalf("%s %s count %d ids %v", as[0].Severity, as[0].Summary, as[0].Count, as[0].EventIDs)
				}
			}, events: evs(
				jev(t, "user.session.impersonation.grant", admin, rt0, jUser(admin), jDbg("grantDurationHours", "8")),
				jev(t, "user.session.impersonation.initiate", admin, rt0.Add(time.Hour), jIP("52.4.1.9", 14618), jUser(admin),
					jDbg("originalPrincipal", `{"alternateId":"support.engineer@okta.com"}`)))},
			{name: "revocation and failures", want: 0, events: evs(
				jev(t, "user.session.impersonation.revoke", admin, rt0),
				jev(t, "user.session.impersonation.grant", admin, rt0, jFail("denied")))},
		},
	}
}

func TestRulesAdmin(t *testing.T) {
	for id, cs := range adminRuleCases(t) {
		testRule(t, id, cs)
	}
}

// homeHistory: an admin signing in from a home ISP (no trusted list) on
// the 8 days before rt0, past its learning period.
func homeHistory(t testing.TB, who string) []event.Event {
	var out []event.Event
	for d := 8; d >= 1; d-- {
		out = append(out, jev(t, "user.session.start", who, rt0.Add(-time.Duration(d)*24*time.Hour), jIP("73.10.20.5", 7922)))
	}
	return out
}

// sevsAre checks the severities of a case's alerts, in order.
func sevsAre(want ...string) func(t *testing.T, as []Alert) {
	return func(t *testing.T, as []Alert) {
		t.Helper()
		var got []string
		for _, a := range as {
			got = append(got, a.Severity)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			for _, a := range as {
				t.Logf("alert: %s %s", a.Severity, a.Summary)
			}
			t.Fatalf("severities %v, want %v", got, want)
		}
	}
}

// knownDeviceSignIn is a sign-in Okta judged from a known device and
// place on a new IP (an admin at home for the first time), in session s.
func knownDeviceSignIn(t testing.TB, who string, at time.Time, s string, mods ...jmod) event.Event {
	return jev(t, "user.session.start", who, at, append([]jmod{jSess(s), jDbg("behaviors", "{New Device=NEGATIVE, New Geo-Location=NEGATIVE, New IP=POSITIVE}")}, mods...)...)
}

// tokenAutomation: an account's API token adds group members from a cloud
// project every day for nine days, ending at rt0.
func tokenAutomation(t testing.TB, who string, net jmod) []event.Event {
	var out []event.Event
	for d := 9; d >= 0; d-- {
		out = append(out, jev(t, "group.user_membership.add", who, rt0.Add(-time.Duration(d)*24*time.Hour), net, jToken("00Tsync"),
			jUser("u"+string(rune('a'+d))+"@example.com"), jTarget("UserGroup", "00g", "unknown", "Sales")))
	}
	return out
}

// jNoClient removes the client's user agent and location (an action Okta
// performed itself, as Okta Support's are logged).
func jNoClient() jmod {
	return func(m map[string]any) {
		c := sub(m, "client")
		delete(c, "userAgent")
		delete(c, "geographicalContext")
		delete(c, "ipAddress")
	}
}

// The admin-action history and the known-device session are engine state:
// a restart between the learning and the repeat keeps the repeat routine
// and the known-device session info.
func TestRoutineStateSurvivesRestart(t *testing.T) {
	admin := "ana.admin@example.com"
	home := jIP("73.10.20.5", 7922)
	newHome := jIP("66.188.3.130", 20115)
	for _, tc := range []struct {
		id          string
		before, aft []event.Event
	}{
		{"admin_role_granted", append(homeHistory(t, admin),
			jev(t, "user.account.privilege.grant", admin, rt0.Add(-24*time.Hour), home, jTarget("User", "00uv", "vic@example.com", "Vic", "privilegeGranted", "Read-only Administrator"))),
			evs(jev(t, "user.account.privilege.grant", admin, rt0, home, jTarget("User", "00uw", "wes@example.com", "Wes", "privilegeGranted", "Help Desk Administrator")))},
		{"admin_activity_untrusted_ip", append(homeHistory(t, admin), knownDeviceSignIn(t, admin, rt0, "s-new-home", newHome)),
			evs(jev(t, "user.session.access_admin_app", admin, rt0.Add(time.Minute), jSess("s-new-home"), newHome))},
	} {
		t.Run(tc.id, func(t *testing.T) {
			e1, err := NewEngine(ruleOnly(tc.id, DetectorConfig{}), WithReorderWindow(0))
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.before {
				e1.Process(&tc.before[i])
			}
			st, err := e1.SaveState()
			if err != nil {
				t.Fatal(err)
			}
			e2, err := NewEngine(ruleOnly(tc.id, DetectorConfig{}), WithReorderWindow(0))
			if err != nil {
				t.Fatal(err)
			}
			if err := e2.LoadState(st); err != nil {
				t.Fatal(err)
			}
			var got []Alert
			for i := range tc.aft {
				got = append(got, e2.Process(&tc.aft[i])...)
			}
			got = Final(append(got, e2.Flush()...))
			if len(got) != 1 || got[0].Severity != SeverityInfo {
				for _, a := range got {
					t.Logf("%s %s", a.Severity, a.Summary)
				}
				t.Fatalf("%d alerts after the restart, want one info", len(got))
			}
		})
	}
}
