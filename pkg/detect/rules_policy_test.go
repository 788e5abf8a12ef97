package detect

import (
	"strings"
	"testing"
	"time"
)

func policyRuleCases(t testing.TB) map[string][]ruleCase {
	sec := "sam.secadmin@example.com"
	rule := func(from, to string) jmod {
		return func(m map[string]any) {
			jTarget("PolicyRule", "0pr1", "00p1", "Default Rule")(m)
			jChange(from, to)(m)
		}
	}
	return map[string][]ruleCase{
		"policy_weakened": {
			{name: "2FA to 1FA and longer sessions", want: 1, check: func(t *testing.T, as []Alert) {
				w, _ := as[0].Evidence["weakened"].([]string)
				if len(w) != 3 || !strings.Contains(strings.Join(w, ";"), "factorMode: 2FA → 1FA") {
					t.Fatalf("weakened %v", as[0].Evidence)
				}
			}, events: evs(jev(t, "policy.rule.update", sec, rt0, rule(
				`{"maxSessionIdleMinutes":60,"maxSessionLifetimeMinutes":480,"factorMode":"2FA"}`,
				`{"maxSessionIdleMinutes":1440,"maxSessionLifetimeMinutes":10080,"factorMode":"1FA"}`)))},
			{name: "MFA policy deactivated", want: 1, events: evs(jev(t, "policy.lifecycle.deactivate", sec, rt0, jTarget("PolicyEntity", "00p9", "unknown", "Require MFA", "policyType", "ACCESS_POLICY")))},
			{name: "rule deleted, phishing resistance dropped", want: 2, events: evs(
				jev(t, "policy.rule.delete", sec, rt0, jTarget("PolicyRule", "0pr2", "00p1", "Admins")),
				jev(t, "policy.rule.update", sec, rt0.Add(time.Minute), rule(`{"constraints":{"possession":{"phishingResistant":"REQUIRED"}}}`, `{"constraints":{"possession":{"phishingResistant":"OPTIONAL"}}}`)))},
			{name: "tightening, sign-on evaluation, failed change", want: 0, events: evs(
				jev(t, "policy.rule.update", sec, rt0, rule(
					`{"maxSessionIdleMinutes":120,"maxSessionLifetimeMinutes":720,"factorMode":"2FA"}`,
					`{"maxSessionIdleMinutes":60,"maxSessionLifetimeMinutes":480,"factorMode":"2FA"}`)),
				jev(t, "policy.evaluate_sign_on", sec, rt0, jOutcome("ALLOW", "")),
				jev(t, "policy.lifecycle.delete", sec, rt0, jFail("denied"), jTarget("PolicyEntity", "00p9", "unknown", "Require MFA")))},
		},
		"policy_modified": {
			{name: "update without changeDetails", want: 1, events: evs(jev(t, "policy.rule.update", sec, rt0, jTarget("PolicyRule", "0pr1", "00p1", "Default Rule")))},
			{name: "unranked setting changed", want: 1, events: evs(jev(t, "policy.rule.update", sec, rt0, rule(`{"name":"a"}`, `{"name":"b"}`)))},
			{name: "tightening only, and weakening (policy_weakened's)", want: 0, events: evs(
				jev(t, "policy.rule.update", sec, rt0, rule(`{"factorMode":"1FA"}`, `{"factorMode":"2FA"}`)),
				jev(t, "policy.rule.update", sec, rt0, rule(`{"factorMode":"2FA"}`, `{"factorMode":"1FA"}`)))},
		},
		"app_signon_policy_changed": {
			{name: "app sign-on rule deleted", want: 1, sev: SeverityHigh, events: evs(jev(t, "application.policy.sign_on.rule.delete", sec, rt0, jTarget("AppInstance", "0oa1", "Salesforce", "Salesforce")))},
			{name: "app sign-on evaluation is not a change", want: 0, events: evs(jev(t, "policy.evaluate_sign_on", sec, rt0, jTarget("AppInstance", "0oa1", "Salesforce", "Salesforce")))},
		},
		"network_zone_changed": {
			{name: "zone deleted", want: 1, sev: SeverityHigh, events: evs(jev(t, "zone.delete", sec, rt0, jTarget("Zone", "nzo1", "unknown", "BlockedIPs")))},
			{name: "zone updated", want: 1, sev: SeverityMedium, events: evs(jev(t, "zone.update", sec, rt0, jTarget("Zone", "nzo1", "unknown", "Offices")))},
			{name: "unrelated admin work", want: 0, events: evs(jev(t, "group.user_membership.add", sec, rt0, jUser("x@example.com")))},
		},
		"mfa_factor_disabled_global": {
			{name: "authenticator deactivated", want: 1, events: evs(jev(t, "system.mfa.factor.deactivate", sec, rt0, jTarget("Factor", "okta_verify", "unknown", "Okta Verify")))},
			{name: "a user's factor deactivated (not global)", want: 0, events: evs(jev(t, "user.mfa.factor.deactivate", sec, rt0, jUser("x@example.com")))},
		},
	}
}

func TestRulesPolicy(t *testing.T) {
	for id, cs := range policyRuleCases(t) {
		testRule(t, id, cs)
	}
}

func tamperingRuleCases(t testing.TB) map[string][]ruleCase {
	admin := "ana.admin@example.com"
	return map[string][]ruleCase{
		"log_stream_tampering": {
			{name: "log stream deactivated", want: 1, sev: SeverityCritical, events: evs(jev(t, "system.log_stream.lifecycle.deactivate", admin, rt0, jTarget("LogStream", "0Ox1", "Splunk Cloud", "Splunk Cloud")))},
			{name: "event hook deleted", want: 1, sev: SeverityCritical, events: evs(jev(t, "event_hook.deleted", admin, rt0, jTarget("EventHook", "who1", "unknown", "SOAR hook")))},
			{name: "log stream created", want: 1, sev: SeverityMedium, events: evs(jev(t, "system.log_stream.lifecycle.create", admin, rt0, jTarget("LogStream", "0Ox2", "New", "New")))},
			{name: "event hook delivery and log reads", want: 0, events: evs(jev(t, "event_hook.delivery", admin, rt0), jev(t, "system.log.read", admin, rt0))},
		},
		"security_control_tampering": {
			{name: "protected actions changed", want: 1, events: evs(jev(t, "security.protected_action.settings.update", admin, rt0))},
			{name: "ThreatInsight action changed", want: 1, events: evs(jev(t, "security.threat.configuration.update", admin, rt0, jTarget("ThreatInsightConfiguration", "ti", "unknown", "ThreatInsight"), jChange(`{"action":"block"}`, `{"action":"none"}`)))},
			{name: "threat detected is not a configuration change", want: 0, events: evs(jev(t, "security.threat.detected", "unknown", rt0))},
		},
		"super_admin_password_reset": {
			{name: "protected super admin reset", want: 1, events: evs(jev(t, "security.protected_action.attempt", admin, rt0, jTarget("ProtectedAction", "pa1", "unknown", "Reset passwords for super admins")))},
			{name: "another protected action", want: 0, events: evs(jev(t, "security.protected_action.attempt", admin, rt0, jTarget("ProtectedAction", "pa2", "unknown", "Delete applications")))},
		},
	}
}

func TestRulesTampering(t *testing.T) {
	for id, cs := range tamperingRuleCases(t) {
		testRule(t, id, cs)
	}
}
