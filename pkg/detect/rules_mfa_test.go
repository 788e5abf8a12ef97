package detect

import (
	"sort"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/event"
	"testing"
	"time"
)

func mfaRuleCases(t testing.TB) map[string][]ruleCase {
	hd, sec, u2 := "hd.desk@example.com", "sam.secadmin@example.com", "una.user@example.com"
	office := jTrusted()
	vps := jIP("159.203.17.4", 14061)
	uHome := jIP("98.1.2.3", 7018)
	return map[string][]ruleCase{
		"mfa_factor_reset_by_other": {
			{name: "help desk resets a user's factors", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Actor != hd || as[0].Evidence["targetUser"] != u2 {
					t.Fatalf("%s %v", as[0].Actor, as[0].Evidence)
				}
			}, events: evs(jev(t, "user.mfa.factor.reset_all", hd, rt0, office, jUser(u2)))},
			{name: "deactivate by admin", want: 1, events: evs(jev(t, "user.mfa.factor.deactivate", hd, rt0, jUser(u2)))},
			{name: "routine reset, the user back from their home network: info only", want: 2, check: sevsAre(SeverityInfo, SeverityInfo),
				events: resetStory(t, hd, u2, true, jev(t, "user.session.start", u2, rt0.Add(30*time.Minute), uHome), jev(t, "user.mfa.factor.activate", u2, rt0.Add(32*time.Minute), uHome, jUser(u2)))},
			{name: "routine reset, the user then signs in from a VPS: high", want: 2, check: func(t *testing.T, as []Alert) {
				sevsAre(SeverityInfo, SeverityHigh)(t, as)
				if as[1].Actor != hd || !as[1].Time.Equal(rt0) || as[1].Evidence["followUpIP"] != "159.203.17.4" {
					t.Fatalf("%s %s %v", as[1].Actor, as[1].Time, as[1].Evidence)
				}
			}, events: resetStory(t, hd, u2, true, jev(t, "user.session.start", u2, rt0.Add(30*time.Minute), vps))},
			{name: "routine reset, no sign-in by the user within quiet: medium, timed at the reset", want: 2, check: func(t *testing.T, as []Alert) {
				sevsAre(SeverityInfo, SeverityMedium)(t, as)
				if !as[1].Time.Equal(rt0) || as[1].Evidence["unconfirmedFor"] == nil {
					t.Fatalf("%s %v", as[1].Time, as[1].Evidence)
				}
			}, events: resetStory(t, hd, u2, true)},
			{name: "just below quiet: the user signs in from home after 3h59m: info", want: 2, check: sevsAre(SeverityInfo, SeverityInfo),
				events: resetStory(t, hd, u2, true, jev(t, "user.session.start", u2, rt0.Add(4*time.Hour-time.Minute), uHome))},
			{name: "just above quiet: the first sign-in after 4h01m: medium", want: 2, check: sevsAre(SeverityInfo, SeverityMedium),
				events: resetStory(t, hd, u2, true, jev(t, "user.session.start", u2, rt0.Add(4*time.Hour+time.Minute), uHome))},
			{name: "offboarding: the user is deactivated after the reset, nobody is expected back: info", want: 2, check: sevsAre(SeverityInfo, SeverityInfo),
				events: resetStory(t, hd, u2, true, jev(t, "user.lifecycle.deactivate", hd, rt0.Add(10*time.Minute), jIP("73.10.20.5", 7922), jUser(u2)))},
			{name: "a resetter who never reset before alerts at once", want: 1, check: sevsAre(SeverityMedium),
				events: resetStory(t, hd, u2, false, jev(t, "user.session.start", u2, rt0.Add(30*time.Minute), uHome))},
			{name: "a reset of a user who administers is high", want: 1, check: sevsAre(SeverityHigh),
				events: resetStory(t, hd, u2, false, jev(t, "group.user_membership.add", u2, rt0.Add(-72*time.Hour), uHome, jUser("x@example.com")),
					jev(t, "user.session.start", u2, rt0.Add(30*time.Minute), uHome))},
			{name: "routine: false alerts on every reset", want: 2, cfg: DetectorConfig{Params: map[string]any{"routine": false}}, check: sevsAre(SeverityMedium, SeverityMedium),
				events: resetStory(t, hd, u2, true, jev(t, "user.session.start", u2, rt0.Add(30*time.Minute), uHome))},
			{name: "self-service reset, Okta itself, failure", want: 0, events: evs(
				jev(t, "user.mfa.factor.reset_all", u2, rt0, jUser(u2)),
				jev(t, "user.mfa.factor.deactivate", "system@okta.com", rt0, jActorType("SystemPrincipal"), jUser(u2)),
				jev(t, "user.mfa.factor.reset_all", hd, rt0, jFail("denied"), jUser(u2)))},
		},
		"mfa_last_factor_removed": {
			{name: "own session deactivates Okta Verify then TOTP, nothing enrolled", want: 1, sev: SeverityHigh, check: func(t *testing.T, as []Alert) {
				if as[0].Actor != u2 || as[0].IP != "159.203.17.4" || len(as[0].EventIDs) != 2 {
					t.Fatalf("%+v", as[0])
				}
			}, events: evs(
				jev(t, "user.mfa.factor.deactivate", u2, rt0, vps, jUser(u2), jTarget("AuthenticatorEnrollment", "opf1", "unknown", "Okta Verify")),
				jev(t, "user.mfa.factor.deactivate", u2, rt0.Add(mins(3)), vps, jUser(u2), jTarget("AuthenticatorEnrollment", "uft1", "unknown", "Google Authenticator")),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(40))))},
			{name: "own session resets all factors", want: 1, events: evs(jev(t, "user.mfa.factor.reset_all", u2, rt0, jUser(u2)))},
			{name: "benign: phone replaced (deactivate, activate minutes later)", want: 0, events: evs(
				jev(t, "user.mfa.factor.deactivate", u2, rt0, jUser(u2), jTarget("AuthenticatorEnrollment", "opf1", "unknown", "Okta Verify")),
				jev(t, "user.mfa.factor.activate", u2, rt0.Add(mins(4)), jUser(u2), jTarget("AuthenticatorEnrollment", "opf2", "unknown", "Okta Verify")),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(60))))},
			{name: "benign: two removals then re-enrolment within the quiet period", want: 0, events: evs(
				jev(t, "user.mfa.factor.deactivate", u2, rt0, jUser(u2)),
				jev(t, "user.mfa.factor.deactivate", u2, rt0.Add(mins(2)), jUser(u2)),
				jev(t, "user.mfa.factor.activate", u2, rt0.Add(mins(20)), jUser(u2)),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(60))))},
			{name: "benign: new factor enrolled first, old ones removed after", want: 0, events: evs(
				jev(t, "user.mfa.factor.activate", u2, rt0, jUser(u2)),
				jev(t, "user.mfa.factor.deactivate", u2, rt0.Add(mins(5)), jUser(u2)),
				jev(t, "user.mfa.factor.deactivate", u2, rt0.Add(mins(7)), jUser(u2)),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(60))))},
			{name: "just below: one removal; two removals 3 h apart; removal by the help desk", want: 0, events: evs(
				jev(t, "user.mfa.factor.deactivate", u2, rt0, jUser(u2)),
				jev(t, "user.mfa.factor.deactivate", u2, rt0.Add(mins(181)), jUser(u2)),
				jev(t, "user.mfa.factor.deactivate", hd, rt0.Add(mins(300)), jUser("other@example.com")),
				jev(t, "user.mfa.factor.deactivate", hd, rt0.Add(mins(302)), jUser("other@example.com")),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(400))))},
		},
		"helpdesk_chain": {
			{name: "reset, enrol from a VPS, admin console", want: 1, sev: SeverityCritical, check: func(t *testing.T, as []Alert) {
				a := as[0]
				if a.Actor != sec || a.IP != "159.203.17.4" || len(a.EventIDs) != 3 || a.Evidence["resetBy"] != hd {
					t.Fatalf("%+v", a)
				}
			}, events: evs(
				jev(t, "user.account.reset_password", hd, rt0, office, jUser(sec)),
				jev(t, "user.mfa.factor.reset_all", hd, rt0.Add(time.Minute), office, jUser(sec)),
				jev(t, "user.session.start", sec, rt0.Add(mins(20)), vps),
				jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), vps, jUser(sec), jDevice("guoPIXEL")),
				jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(40)), vps))},
			{name: "enrolment from the office IP is not the chain", want: 0, events: evs(
				jev(t, "user.mfa.factor.reset_all", hd, rt0, office, jUser(sec)),
				jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), office, jUser(sec)),
				jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(40)), office))},
			{name: "admin access too late", want: 0, events: evs(
				jev(t, "user.mfa.factor.reset_all", hd, rt0, office, jUser(sec)),
				jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), vps, jUser(sec)),
				jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(22+61)), vps))},
			{name: "self-service reset", want: 0, events: evs(
				jev(t, "user.mfa.factor.reset_all", sec, rt0, jUser(sec)),
				jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(2)), vps, jUser(sec)),
				jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(5)), vps))},
		},
		"fastpass_phishing": {
			{name: "declined phishing", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["origin"] != "https://okta-sso-login.example.net" {
					t.Fatalf("%v", as[0].Evidence)
				}
			}, events: evs(jev(t, "user.authentication.auth_via_mfa", u2, rt0, jFail("FastPass declined phishing attempt"), jDbg("factor", "SIGNED_NONCE", "origin", "https://okta-sso-login.example.net")))},
			{name: "ordinary MFA failure", want: 0, events: evs(jev(t, "user.authentication.auth_via_mfa", u2, rt0, jFail("INVALID_CREDENTIALS")))},
		},
		"fastpass_suspicious_binary": {
			{name: "unknown binary over loopback", want: 1, events: evs(jev(t, "user.authentication.auth_via_mfa", u2, rt0, jDbg("factor", "SIGNED_NONCE"), func(m map[string]any) {
				sub(m, "authenticationContext")["authenticatorContext"] = map[string]any{"bindingMethod": "LOOPBACK", "validationStatus": "VALID", "binaryIdentifier": "/tmp/evil-proxy"}
			}))},
			{name: "Chrome over loopback, and no raw context", want: 0, events: evs(jev(t, "user.authentication.auth_via_mfa", u2, rt0, jDbg("factor", "SIGNED_NONCE"), func(m map[string]any) {
				sub(m, "authenticationContext")["authenticatorContext"] = map[string]any{"bindingMethod": "LOOPBACK", "validationStatus": "VALID", "binaryIdentifier": "Google Chrome Helper"}
			}), jev(t, "user.authentication.auth_via_mfa", u2, rt0, jDbg("factor", "SIGNED_NONCE")))},
		},
		"number_challenge_failed": {
			// one incident: the first wrong number's alert, raised to high by the second
			{name: "two wrong numbers", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Severity != SeverityHigh || len(as[0].EventIDs) != 2 {
					t.Fatalf("%s count %d %v", as[0].Severity, as[0].Count, as[0].EventIDs)
				}
			}, events: evs(
				jev(t, "user.authentication.auth_via_mfa", u2, rt0, jFail("INVALID_ANSWER"), jDbg("pushWithNumberChallengeResponseType", "OV_WITH_CHALLENGE_RESPONSE_INVALID")),
				jev(t, "user.authentication.auth_via_mfa", u2, rt0.Add(mins(5)), jFail("INVALID_ANSWER"), jDbg("pushWithNumberChallengeResponseType", "OV_WITH_CHALLENGE_RESPONSE_INVALID")))},
			{name: "correct number", want: 0, events: evs(jev(t, "user.authentication.auth_via_mfa", u2, rt0, jDbg("pushWithNumberChallengeResponseType", "OV_WITH_CHALLENGE_RESPONSE_VALID")))},
			// the rule names its event type: an event of another type is
			// skipped before its debug data is read (it fired on any type)
			{name: "the key on another event type", want: 0, events: evs(jev(t, "system.push.send_factor_verify_push", u2, rt0, jDbg("pushWithNumberChallengeResponseType", "OV_WITH_CHALLENGE_RESPONSE_INVALID")))},
		},
		"mfa_abandonment": {
			{name: "new device password, pushes never answered", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Actor != u2 || !as[0].Time.Equal(rt0.Add(mins(2+30))) {
					t.Fatalf("%s %s", as[0].Actor, as[0].Time)
				}
			}, events: evs(
				jev(t, "user.authentication.verify", u2, rt0, vps, jSess("s9"), jCred("PASSWORD"), jDbg("behaviors", "{New IP=POSITIVE, New Device=POSITIVE}")),
				jev(t, "system.push.send_factor_verify_push", u2, rt0.Add(time.Minute), vps, jSess("s9")),
				jev(t, "system.push.send_factor_verify_push", u2, rt0.Add(mins(2)), vps, jSess("s9")),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(40))))},
			{name: "pushes answered after 15 minutes", want: 0, events: evs(
				jev(t, "user.authentication.verify", u2, rt0, vps, jSess("s9"), jCred("PASSWORD"), jDbg("behaviors", "{New IP=POSITIVE, New Device=POSITIVE}")),
				jev(t, "system.push.send_factor_verify_push", u2, rt0.Add(time.Minute), vps, jSess("s9")),
				jev(t, "user.authentication.auth_via_mfa", u2, rt0.Add(mins(15)), vps, jSess("s9")),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(60))))},
			{name: "known device never completing is not alerted", want: 0, events: evs(
				jev(t, "user.authentication.verify", u2, rt0, jSess("s9"), jCred("PASSWORD"), jDbg("behaviors", "{New IP=NEGATIVE, New Device=NEGATIVE}")),
				jev(t, "system.push.send_factor_verify_push", u2, rt0.Add(time.Minute), jSess("s9")),
				jev(t, "user.session.start", "someone.else@example.com", rt0.Add(mins(60))))},
			{name: "Okta ABANDONED outcomes for many users from one IP", want: 1, events: func() []event.Event {
				var out []event.Event
				for i, u := range []string{"a", "b", "c", "d", "e"} {
					out = append(out, jev(t, "user.authentication.auth_via_mfa", u+"@example.com", rt0.Add(mins(i)), vps, jOutcome("ABANDONED", "")))
				}
				return out
			}()},
		},
		"mfa_bypass_attempt": {
			{name: "bypass", want: 1, events: evs(jev(t, "user.mfa.attempt_bypass", u2, rt0, jFail("bypass")))},
			{name: "normal MFA", want: 0, events: evs(jev(t, "user.authentication.auth_via_mfa", u2, rt0))},
		},
		"device_multiple_users": {
			{name: "one phone, two users", want: 1, check: func(t *testing.T, as []Alert) {
				if !strings.Contains(as[0].Summary, "2 users") {
					t.Fatal(as[0].Summary)
				}
			}, events: evs(
				jev(t, "user.mfa.factor.activate", u2, rt0, jDevice("guoSAME"), jUser(u2)),
				jev(t, "user.mfa.factor.activate", sec, rt0.Add(48*time.Hour), jDevice("guoSAME"), jUser(sec)))},
			{name: "UDDevice added to two users", want: 1, events: evs(
				jev(t, "device.user.add", u2, rt0, jTarget("UDDevice", "dev1", "unknown", "MacBook", "oktaDeviceId", "guoMAC")),
				jev(t, "device.user.add", sec, rt0.Add(time.Hour), jTarget("UDDevice", "dev1", "unknown", "MacBook", "oktaDeviceId", "guoMAC")))},
			{name: "same user twice, different devices", want: 0, events: evs(
				jev(t, "user.mfa.factor.activate", u2, rt0, jDevice("guoA"), jUser(u2)),
				jev(t, "user.mfa.factor.activate", u2, rt0.Add(time.Hour), jDevice("guoA"), jUser(u2)),
				jev(t, "user.mfa.factor.activate", sec, rt0.Add(time.Hour), jDevice("guoB"), jUser(sec)))},
		},
	}
}

func TestRulesMFA(t *testing.T) {
	for id, cs := range mfaRuleCases(t) {
		testRule(t, id, cs)
	}
}

// resetStory: the help desk (hd, at home 73.10.20.5) and the user (at home
// 98.1.2.3) have signed in daily for eight days; with pastReset the help
// desk reset another user's factors two days ago (that user signed in
// again); the help desk resets user's factors at rt0; then follow (sorted
// by time) and an unrelated sign-in six hours later that moves time on.
func resetStory(t testing.TB, hd, user string, pastReset bool, follow ...event.Event) []event.Event {
	out := homeHistory(t, hd)
	for d := 8; d >= 1; d-- {
		out = append(out, jev(t, "user.session.start", user, rt0.Add(-time.Duration(d)*24*time.Hour+time.Hour), jIP("98.1.2.3", 7018)))
	}
	if pastReset {
		out = append(out, jev(t, "user.mfa.factor.reset_all", hd, rt0.Add(-48*time.Hour), jIP("73.10.20.5", 7922), jUser("old@example.com")),
			jev(t, "user.session.start", "old@example.com", rt0.Add(-47*time.Hour), jIP("98.7.6.5", 7018)))
	}
	var later []event.Event
	for _, e := range follow {
		if e.Published.Before(rt0) {
			out = append(out, e)
		} else {
			later = append(later, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Published.Before(out[j].Published) })
	out = append(out, jev(t, "user.mfa.factor.reset_all", hd, rt0, jIP("73.10.20.5", 7922), jUser(user)))
	out = append(out, later...)
	return append(out, jev(t, "user.session.start", "zed@example.com", rt0.Add(6*time.Hour), jIP("73.10.20.9", 7922)))
}
