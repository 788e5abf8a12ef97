package detect

import (
	"strings"
	"testing"
	"time"
)

func persistenceRuleCases(t testing.TB) map[string][]ruleCase {
	admin := "ana.admin@example.com"
	office := jTrusted()
	vps := jIP("159.203.17.4", 14061)
	home := jIP("73.10.20.5", 7922)
	tok := jTarget("Token", "00Tabc", "unknown", "backup-export")
	return map[string][]ruleCase{
		"api_token_created": {
			{name: "ANYWHERE token", want: 1, sev: SeverityHigh, events: evs(jev(t, "system.api_token.create", admin, rt0, office, tok, jDbg("tokenNetworkCondition", "ANYWHERE")))},
			{name: "zone-restricted token by a new admin in its learning period, from the office, is info", want: 1, sev: SeverityInfo, events: evs(jev(t, "system.api_token.create", admin, rt0, office, tok, jDbg("tokenNetworkCondition", "ZONE")))},
			{name: "an established admin's first zone-restricted token is medium, its repeat from home info", want: 2, check: sevsAre(SeverityMedium, SeverityInfo), events: append(homeHistory(t, admin),
				jev(t, "system.api_token.create", admin, rt0.Add(-24*time.Hour), home, jTarget("Token", "00T1", "unknown", "directory-sync"), jDbg("tokenNetworkCondition", "ZONE")),
				jev(t, "system.api_token.create", admin, rt0, home, jTarget("Token", "00T2", "unknown", "directory-sync-rotated"), jDbg("tokenNetworkCondition", "ZONE")))},
			{name: "the repeat from a VPS is medium", want: 2, check: sevsAre(SeverityMedium, SeverityMedium), events: append(homeHistory(t, admin),
				jev(t, "system.api_token.create", admin, rt0.Add(-24*time.Hour), home, jTarget("Token", "00T1", "unknown", "directory-sync"), jDbg("tokenNetworkCondition", "ZONE")),
				jev(t, "system.api_token.create", admin, rt0, vps, jTarget("Token", "00T2", "unknown", "directory-sync-rotated"), jDbg("tokenNetworkCondition", "ZONE")))},
			{name: "a repeated ANYWHERE token stays high", want: 2, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "system.api_token.create", admin, rt0.Add(-24*time.Hour), home, jTarget("Token", "00T1", "unknown", "directory-sync"), jDbg("tokenNetworkCondition", "ANYWHERE")),
				jev(t, "system.api_token.create", admin, rt0, home, jTarget("Token", "00T2", "unknown", "backup-export"), jDbg("tokenNetworkCondition", "ANYWHERE")))},
			{name: "a zone-restricted token used from a cloud project is not followed", want: 1, sev: SeverityInfo, events: evs(
				jev(t, "system.api_token.create", admin, rt0, office, tok, jDbg("tokenNetworkCondition", "ZONE")),
				jev(t, "group.user_membership.add", "svc-sync@example.com", rt0.Add(time.Hour), jIP("34.122.0.78", 396982), jToken("00Tabc"), jUser("x@example.com")))},
			{name: "followZoneTokens: true follows it", want: 2, cfg: DetectorConfig{Params: map[string]any{"followZoneTokens": true}}, check: sevsAre(SeverityInfo, SeverityHigh), events: evs(
				jev(t, "system.api_token.create", admin, rt0, office, tok, jDbg("tokenNetworkCondition", "ZONE")),
				jev(t, "group.user_membership.add", "svc-sync@example.com", rt0.Add(time.Hour), jIP("34.122.0.78", 396982), jToken("00Tabc"), jUser("x@example.com")))},
			// one incident: the creation's alert, taken over by the completed
			// sequence (created, then used elsewhere) at equal severity
			{name: "created in the office, used from a VPS", want: 1, check: func(t *testing.T, as []Alert) {
				if as[0].Evidence["pattern"] != "created_then_used_elsewhere" || as[0].IP != "159.203.17.4" || as[0].Severity != SeverityHigh ||
					as[0].Evidence["firstSummary"] == nil {
					t.Fatalf("%+v", as[0])
				}
			}, events: evs(
				jev(t, "system.api_token.create", admin, rt0, office, jIP("10.1.1.1", 64512), tok),
				jev(t, "user.lifecycle.deactivate", admin, rt0.Add(mins(30)), vps, jToken("00Tabc"), jUser("x@example.com")))},
			{name: "token use alone, and use from the same network", want: 1, events: evs(
				jev(t, "user.lifecycle.deactivate", admin, rt0, vps, jToken("00Told"), jUser("x@example.com")),
				jev(t, "system.api_token.create", admin, rt0.Add(time.Hour), jIP("159.203.17.9", 14061), tok),
				jev(t, "group.user_membership.add", admin, rt0.Add(2*time.Hour), vps, jToken("00Tabc"), jUser("x@example.com")))},
			{name: "revocation and failed creation", want: 0, events: evs(
				jev(t, "system.api_token.revoke", admin, rt0, tok),
				jev(t, "system.api_token.create", admin, rt0, tok, jFail("E0000006")))},
		},
		"api_token_revoked": {
			{name: "revoked", want: 1, events: evs(jev(t, "system.api_token.revoke", admin, rt0, tok))},
			{name: "created", want: 0, events: evs(jev(t, "system.api_token.create", admin, rt0, tok))},
		},
		"api_token_new_source": {
			{name: "token used from a new ASN after learning", want: 1, events: evs(
				jev(t, "group.user_membership.add", "svc@example.com", rt0, jIP("34.1.2.3", 396982), jToken("00Tsvc")),
				jev(t, "group.user_membership.add", "svc@example.com", rt0.Add(8*24*time.Hour), jIP("34.1.2.3", 396982), jToken("00Tsvc")),
				jev(t, "user.lifecycle.deactivate", "svc@example.com", rt0.Add(9*24*time.Hour), vps, jToken("00Tsvc")))},
			{name: "new network during learning, trusted network", want: 0, events: evs(
				jev(t, "group.user_membership.add", "svc@example.com", rt0, jIP("34.1.2.3", 396982), jToken("00Tsvc")),
				jev(t, "group.user_membership.add", "svc@example.com", rt0.Add(24*time.Hour), vps, jToken("00Tsvc")),
				jev(t, "group.user_membership.add", "svc@example.com", rt0.Add(9*24*time.Hour), jIP("10.9.9.9", 64999), office, jToken("00Tsvc")))},
		},
		"idp_lifecycle": {
			{name: "create and activate: one alert per IdP", want: 1, events: evs(
				jev(t, "system.idp.lifecycle.create", admin, rt0, office, jTarget("IdentityProvider", "0oaidp", "unknown", "Partner SAML IdP", "idpType", "SAML2")),
				jev(t, "system.idp.lifecycle.activate", admin, rt0.Add(time.Minute), office, jTarget("IdentityProvider", "0oaidp", "unknown", "Partner SAML IdP", "idpType", "SAML2")))},
			{name: "IdP sign-in is not a lifecycle change", want: 0, events: evs(jev(t, "user.authentication.auth_via_IDP", admin, rt0))},
			{name: "an established admin's repeat update of an IdP from home is info", want: 2, check: sevsAre(SeverityHigh, SeverityInfo), events: append(homeHistory(t, admin),
				jev(t, "system.idp.lifecycle.update", admin, rt0.Add(-24*time.Hour), home, jTarget("IdentityProvider", "0oawf", "unknown", "Azure AD (Workforce)", "idpType", "SAML2")),
				jev(t, "system.idp.lifecycle.update", admin, rt0, home, jTarget("IdentityProvider", "0oawf", "unknown", "Azure AD (Workforce)", "idpType", "SAML2")))},
			{name: "the repeat update from a VPS is high", want: 2, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "system.idp.lifecycle.update", admin, rt0.Add(-24*time.Hour), home, jTarget("IdentityProvider", "0oawf", "unknown", "Azure AD (Workforce)", "idpType", "SAML2")),
				jev(t, "system.idp.lifecycle.update", admin, rt0, vps, jTarget("IdentityProvider", "0oawf", "unknown", "Azure AD (Workforce)", "idpType", "SAML2")))},
			{name: "a repeated IdP creation stays high", want: 2, check: sevsAre(SeverityHigh, SeverityHigh), events: append(homeHistory(t, admin),
				jev(t, "system.idp.lifecycle.create", admin, rt0.Add(-24*time.Hour), home, jTarget("IdentityProvider", "0oa1", "unknown", "Partner A", "idpType", "SAML2")),
				jev(t, "system.idp.lifecycle.create", admin, rt0, home, jTarget("IdentityProvider", "0oa2", "unknown", "Partner B", "idpType", "SAML2")))},
		},
		"idp_signin_new": {
			{name: "second IdP after learning", want: 1, events: evs(
				jev(t, "user.authentication.auth_via_IDP", admin, rt0, jTarget("IdentityProvider", "0oa1", "unknown", "Corp AzureAD")),
				jev(t, "user.authentication.auth_via_IDP", admin, rt0.Add(10*24*time.Hour), jTarget("IdentityProvider", "0oa2", "unknown", "Evil IdP")))},
			{name: "same IdP every day", want: 0, events: evs(
				jev(t, "user.authentication.auth_via_IDP", admin, rt0, jTarget("IdentityProvider", "0oa1", "unknown", "Corp AzureAD")),
				jev(t, "user.authentication.auth_via_IDP", admin, rt0.Add(10*24*time.Hour), jTarget("IdentityProvider", "0oa1", "unknown", "Corp AzureAD")))},
		},
		"app_lifecycle": {
			{name: "one admin creating, updating and deleting apps: one incident, medium for the delete, both apps as targets", want: 1, check: func(t *testing.T, as []Alert) {
				a := as[0]
				if a.Severity != SeverityMedium || a.Count != 3 || strings.Join(a.Targets, ",") != "FTP Bridge,Payroll" || a.Evidence["targetsTotal"] != 2 {
					t.Fatalf("%s count %d targets %v %v", a.Severity, a.Count, a.Targets, a.Evidence)
				}
			}, events: evs(
				jev(t, "application.lifecycle.create", admin, rt0, jTarget("AppInstance", "0oa1", "FTP Bridge", "FTP Bridge")),
				jev(t, "application.lifecycle.update", admin, rt0.Add(time.Minute), jTarget("AppInstance", "0oa1", "FTP Bridge", "FTP Bridge")),
				jev(t, "application.lifecycle.delete", admin, rt0.Add(time.Minute), jTarget("AppInstance", "0oa2", "Payroll", "Payroll")))},
			{name: "user assignment and automation are not lifecycle", want: 0, events: evs(
				jev(t, "application.user_membership.add", admin, rt0, jTarget("AppInstance", "0oa1", "FTP", "FTP")),
				jev(t, "application.lifecycle.update", "Workday", rt0, jActorType("PublicClientApp"), jJob(), jTarget("AppInstance", "0oa1", "FTP", "FTP")))},
		},
		"org2org_app": {
			{name: "Org2Org created", want: 1, events: evs(jev(t, "application.lifecycle.create", admin, rt0, jTarget("AppInstance", "0oa9", "Okta Org2Org", "Okta Org2Org", "appName", "okta_org2org")))},
			{name: "another app", want: 0, events: evs(jev(t, "application.lifecycle.create", admin, rt0, jTarget("AppInstance", "0oa9", "Slack", "Slack")))},
		},
		"scim_password_push": {
			{name: "password push enabled", want: 1, events: evs(jev(t, "application.lifecycle.update", admin, rt0, jOutcome("SUCCESS", "Pushing user passwords"), jTarget("AppInstance", "0oa9", "SCIM app", "SCIM app")))},
			{name: "plain update", want: 0, events: evs(jev(t, "application.lifecycle.update", admin, rt0, jTarget("AppInstance", "0oa9", "SCIM app", "SCIM app")))},
		},
		"ad_agent_created": {
			{name: "agent created", want: 1, events: evs(jev(t, "system.agent.ad.create", admin, rt0))},
			{name: "user import by the agent", want: 0, events: evs(jev(t, "system.agent.ad.import_user", admin, rt0))},
		},
	}
}

func TestRulesPersistence(t *testing.T) {
	for id, cs := range persistenceRuleCases(t) {
		testRule(t, id, cs)
	}
}
