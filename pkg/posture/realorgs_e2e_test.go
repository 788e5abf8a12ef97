package posture_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

// fetchOAuth reads a snapshot through the simulator server (OAuth service
// app, scope enforcement, rate-limit headers) with the real client.
func fetchOAuth(t *testing.T, org *orgsim.Org, scopes []string) (posture.Snapshot, error) {
	t.Helper()
	key, keyPEM := rsaPEM(t)
	sim := oktasim.New(oktasim.Options{Token: "00ssws-not-used", Mgmt: org, DefaultLimit: 100000,
		OAuthClients: []oktasim.OAuthClient{{ClientID: "0oaPosture", PublicKey: &key.PublicKey, KeyID: "k1", Scopes: scopes}}})
	ts := httptest.NewServer(sim.Handler())
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := okta.NewClient(ctx, okta.Config{OrgURL: ts.URL, RateLimitShare: 1,
		OAuth: &okta.OAuthConfig{ClientID: "0oaPosture", PrivateKeyPEM: keyPEM, KeyID: "k1", Scopes: scopes}})
	if err != nil {
		t.Fatal(err)
	}
	return okta.FetchSnapshot(ctx, c)
}

// Checks every real-org profile decides alike: none reads what the real
// profiles lack.
var (
	dodNA    = []string{"okta.authn.okta_verify_fips", "okta.authn.smart_card_active", "okta.idp.smart_card_dod_ca", "okta.signin.dod_banner"}
	manual   = []string{"okta.apps.inactive_review", "okta.notify.report_suspicious"}
	policyOK = []string{
		"okta.session.idle_timeout", "okta.session.max_lifetime", "okta.session.persistent_cookie_off", "okta.session.custom_rule_first",
		"okta.session.network_zone_restricted", "okta.apps.risk_based_mfa", "okta.authn.weak_factors_disabled", "okta.mfa_enroll.required_factor",
		"okta.password.min_length", "okta.password.require_upper", "okta.password.require_lower", "okta.password.require_number",
		"okta.password.require_symbol", "okta.password.min_age", "okta.password.max_age", "okta.password.history",
		"okta.password.common_check", "okta.password.lockout", "okta.password.recovery_hardened"}
	oieOnly = []string{"okta.admin_console.idle_timeout", "okta.admin_console.max_lifetime", "okta.admin_console.mfa",
		"okta.admin_console.phishing_resistant", "okta.dashboard.mfa", "okta.dashboard.phishing_resistant", "okta.apps.auth_policy_mfa",
		"okta.apps.auth_policy_network_zone", "okta.apps.device_assurance", "okta.network.admin_console_zone"}
	usersAdmins = []string{"okta.users.mfa_coverage", "okta.users.dormant", "okta.admins.dormant", "okta.admins.mfa",
		"okta.admins.stale_password", "okta.admins.super_admin_count", "okta.admins.privileged_count"}
	tokens = []string{"okta.api_tokens.network_restricted", "okta.api_tokens.not_super_admin", "okta.api_tokens.hygiene"}
	others = []string{"okta.authn.phishing_resistant_available", "okta.authn.okta_verify_active", "okta.detection.behavior_rules",
		"okta.network.threatinsight_block", "okta.network.anonymizer_block", "okta.network.ip_blocklist",
		"okta.notify.new_signon", "okta.notify.password_changed", "okta.notify.authenticator_enrolled", "okta.notify.authenticator_reset",
		"okta.apps.federated_sso", "okta.apps.oidc_risky_grants", "okta.trusted_origins.strict", "okta.org.support_access",
		"okta.logging.log_offload", "okta.users.inactivity_automation"}
)

func cat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, x := range list {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

type statusSets struct{ pass, fail, err, na, manual []string }

func assertSets(t *testing.T, r posture.Report, want statusSets) {
	t.Helper()
	if n := len(want.pass) + len(want.fail) + len(want.err) + len(want.na) + len(want.manual); n != len(r.Checks) {
		t.Fatalf("expected sets cover %d checks, the report has %d", n, len(r.Checks))
	}
	sameSet(t, "pass", statusSet(r, posture.Pass), want.pass)
	sameSet(t, "fail", statusSet(r, posture.Fail, posture.Partial), want.fail)
	sameSet(t, "error", statusSet(r, posture.Error), want.err)
	sameSet(t, "not_applicable", statusSet(r, posture.NotApplicable), want.na)
	sameSet(t, "manual", statusSet(r, posture.Manual), want.manual)
}

// naReason asserts every not_applicable check says why.
func naReason(t *testing.T, r posture.Report, id, contains string) {
	t.Helper()
	c := mustCheck(t, r, id)
	if c.Status != posture.NotApplicable || len(c.Findings) == 0 || !strings.Contains(fmt.Sprint(c.Findings[0].Observed), contains) {
		t.Fatalf("%s: %s %+v, want not_applicable saying %q", id, c.Status, c.Findings, contains)
	}
}

// errNames asserts every error check names the input and the scope.
func errNames(t *testing.T, r posture.Report, id string, wants ...string) {
	t.Helper()
	c := mustCheck(t, r, id)
	var all []string
	for _, f := range c.Findings {
		all = append(all, fmt.Sprint(f.Observed))
	}
	for _, w := range wants {
		if !strings.Contains(strings.Join(all, " | "), w) {
			t.Fatalf("%s: findings %q do not name %q", id, all, w)
		}
	}
}

func TestClassicEngineOrg(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "classic", nil)
	snap, err := fetchOrg(t, org)
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	if r.Engine != posture.EngineClassic || !strings.Contains(r.EngineSource, "well-known") {
		t.Fatalf("engine %q (%s)", r.Engine, r.EngineSource)
	}
	assertSets(t, r, statusSets{
		pass:   cat(policyOK, usersAdmins, tokens, without(others, "okta.authn.phishing_resistant_available", "okta.authn.okta_verify_active"), []string{"okta.session.mfa_at_signon"}),
		na:     cat(dodNA, oieOnly, []string{"okta.authn.phishing_resistant_available", "okta.authn.okta_verify_active"}),
		manual: manual,
	})
	naReason(t, r, "okta.admin_console.mfa", "Classic Engine org")
	naReason(t, r, "okta.authn.okta_verify_active", "E0000015")
	// Identity Engine-only inputs known absent from the engine are not requested.
	for _, p := range []string{"/api/v1/first-party-app-settings/admin-console", "/api/v1/device-assurances"} {
		if org.Hits(p) != 0 {
			t.Errorf("%s requested on a Classic org", p)
		}
	}
	if org.Hits("/api/v1/policies") != len(posture.PolicyTypes)-1 {
		t.Errorf("policy lists requested %d times, want one per type but ACCESS_POLICY", org.Hits("/api/v1/policies"))
	}
	// Without the well-known document the engine is inferred from the
	// ACCESS_POLICY type the org refuses (400).
	org2 := newOrg(t, "classic", nil)
	org2.FailPath("/.well-known/", 404)
	snap, err = fetchOrg(t, org2)
	if err != nil {
		t.Fatal(err)
	}
	r2 := evaluate(t, "baseline", snap)
	if r2.Engine != posture.EngineClassic || !strings.Contains(r2.EngineSource, "inferred") {
		t.Fatalf("inferred engine %q (%s)", r2.Engine, r2.EngineSource)
	}
	sameSet(t, "inferred classic: same statuses", statusSet(r2, posture.NotApplicable), statusSet(r, posture.NotApplicable))
}

func TestIdentityEngineOrgWithoutLifecycleAutomation(t *testing.T) {
	t.Parallel()
	snap, err := fetchOrg(t, newOrg(t, "no-lifecycle", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	if r.Engine != posture.EngineOIE {
		t.Fatalf("engine %q", r.Engine)
	}
	assertSets(t, r, statusSets{
		pass:   cat(policyOK, oieOnly, usersAdmins, tokens, without(others, "okta.users.inactivity_automation")),
		na:     cat(dodNA, []string{"okta.session.mfa_at_signon", "okta.users.inactivity_automation"}),
		manual: manual,
	})
	naReason(t, r, "okta.users.inactivity_automation", "feature not enabled")
	naReason(t, r, "okta.session.mfa_at_signon", "Identity Engine org")
}

func TestReadOnlyAdminToken(t *testing.T) {
	t.Parallel()
	snap, err := fetchOrg(t, newOrg(t, "readonly-admin", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	errs := cat(usersAdmins, tokens, []string{"okta.logging.log_offload"})
	assertSets(t, r, statusSets{
		pass:   cat(policyOK, oieOnly, without(others, "okta.logging.log_offload")),
		err:    errs,
		na:     cat(dodNA, []string{"okta.session.mfa_at_signon"}),
		manual: manual,
	})
	errNames(t, r, "okta.users.dormant", "users", "okta.users.read", "admin role")
	errNames(t, r, "okta.admins.super_admin_count", "admins", "okta.roles.read")
	errNames(t, r, "okta.api_tokens.hygiene", "api_tokens", "okta.apiTokens.read")
	errNames(t, r, "okta.logging.log_offload", "log_streams", "okta.logStreams.read")
	// The plugin's own healthy ingestion decides the log offload check.
	snap.Ingestion = &posture.IngestionStatus{LastPollSuccess: time.Now(), Lag: time.Minute}
	if c := mustCheck(t, evaluate(t, "baseline", snap), "okta.logging.log_offload"); c.Status != posture.Pass {
		t.Fatalf("log_offload with ingestion = %s", c.Status)
	}
	gapScopes := map[string][]string{}
	for _, g := range r.Gaps {
		gapScopes[g.Scope] = g.Checks
	}
	if len(gapScopes) != 4 || !slices.Contains(gapScopes["okta.users.read"], "okta.users.dormant") ||
		!slices.Contains(gapScopes["okta.roles.read"], "okta.admins.mfa") || !slices.Contains(gapScopes["okta.logStreams.read"], "okta.logging.log_offload") ||
		!slices.Contains(gapScopes["okta.apiTokens.read"], "okta.api_tokens.hygiene") {
		t.Fatalf("gaps %+v", r.Gaps)
	}
}

func TestOAuthAppWithOnlyLogsAndPolicies(t *testing.T) {
	t.Parallel()
	snap, err := fetchOAuth(t, newOrg(t, "oauth-logs-policies", nil), orgsim.OAuthLogsPoliciesScopes)
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	firstParty := []string{"okta.admin_console.mfa", "okta.admin_console.phishing_resistant", "okta.dashboard.mfa",
		"okta.dashboard.phishing_resistant", "okta.apps.auth_policy_mfa", "okta.network.admin_console_zone"}
	assertSets(t, r, statusSets{
		pass:   cat(policyOK, firstParty, []string{"okta.users.inactivity_automation"}),
		err:    cat(without(oieOnly, firstParty...), usersAdmins, tokens, without(others, "okta.users.inactivity_automation"), []string{"okta.apps.inactive_review"}),
		na:     cat(dodNA, []string{"okta.session.mfa_at_signon"}),
		manual: []string{"okta.notify.report_suspicious"},
	})
	errNames(t, r, "okta.admin_console.idle_timeout", "admin_console", "okta.apps.read", "insufficient_scope")
	errNames(t, r, "okta.network.threatinsight_block", "threat_insight", "okta.threatInsights.read")
	c := mustCheck(t, r, "okta.admin_console.mfa")
	if !strings.Contains(fmt.Sprint(c.Findings[0].Observed), `identified by its name "Okta Admin Console"`) {
		t.Fatalf("admin console policy found how? %+v", c.Findings)
	}
}

// secureScore are the checks behind the three Secure Score recommendations
// Defender for Cloud Apps makes for Okta that the policies alone decide.
var secureScore = map[string][]string{
	"MFA":             {"okta.session.mfa_at_signon", "okta.apps.auth_policy_mfa", "okta.admin_console.mfa", "okta.dashboard.mfa"},
	"session timeout": {"okta.session.idle_timeout", "okta.session.max_lifetime"},
	"password":        {"okta.password.min_length", "okta.password.require_upper", "okta.password.require_lower", "okta.password.require_number", "okta.password.require_symbol", "okta.password.max_age"},
}

// Whenever the policies are readable, the Secure Score checks are decided:
// pass or fail, never error (not_applicable only for the other engine's
// MFA check), whatever else the principal may not read — on strong and
// weak orgs alike.
func TestSecureScoreChecksDecidedWheneverPoliciesReadable(t *testing.T) {
	t.Parallel()
	type tc struct {
		name, state string
		fetch       func(*orgsim.Org) (posture.Snapshot, error)
		wantFail    bool
	}
	sswsFetch := func(o *orgsim.Org) (posture.Snapshot, error) { return fetchOrg(t, o) }
	oauthFetch := func(o *orgsim.Org) (posture.Snapshot, error) {
		return fetchOAuth(t, o, orgsim.OAuthLogsPoliciesScopes)
	}
	cases := []tc{
		{"classic", "classic", sswsFetch, false},
		{"no-lifecycle", "no-lifecycle", sswsFetch, false},
		{"readonly-admin", "readonly-admin", sswsFetch, false},
		{"oauth-logs-policies", "oauth-logs-policies", oauthFetch, false},
		{"weak org, oauth-logs-policies", "weak", oauthFetch, true},
		{"weak org, readonly admin", "weak", sswsFetch, true},
	}
	for _, c := range cases {
		org := newOrg(t, c.state, nil)
		if c.state == "weak" {
			org.Mutate(func(s *orgsim.State) {
				s.ForbiddenScopes = []string{"okta.users.read", "okta.roles.read", "okta.apiTokens.read", "okta.logStreams.read"}
			})
		}
		snap, err := c.fetch(org)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r := evaluate(t, "baseline", snap)
		for rec, ids := range secureScore {
			decided := 0
			for _, id := range ids {
				ch := mustCheck(t, r, id)
				switch {
				case ch.Status == posture.Pass && !c.wantFail, ch.Status == posture.Fail && c.wantFail:
					decided++
				case ch.Status == posture.NotApplicable && rec == "MFA" && strings.Contains(fmt.Sprint(ch.Findings[0].Observed), "Engine org"):
				default:
					t.Errorf("%s: %s check %s = %s %v", c.name, rec, id, ch.Status, ch.Findings)
				}
			}
			if decided == 0 {
				t.Errorf("%s: no %s check decided", c.name, rec)
			}
		}
	}
}

// refusePolicyType answers /api/v1/policies?type=typ with 403 E0000006,
// as the org in issue 12 did for USER_LIFECYCLE.
func refusePolicyType(h http.Handler, typ string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/policies" && r.URL.Query().Get("type") == typ {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"oaeX","errorCauses":[]}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func fetchHandler(t *testing.T, h http.Handler) posture.Snapshot {
	t.Helper()
	snap, err := fetchFrom(t, h)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// Each policy type is its own input: one type refused fails only the
// check that reads it (issue 12: a 403 on USER_LIFECYCLE failed 48 checks).
func TestOnePolicyTypeRefusedFailsOnlyItsCheck(t *testing.T) {
	t.Parallel()
	snap := fetchHandler(t, refusePolicyType(newOrg(t, "strong", nil).Handler(), posture.PolicyUserLifecycle))
	r := evaluate(t, "baseline", snap)
	sameSet(t, "error", statusSet(r, posture.Error), []string{"okta.users.inactivity_automation"})
	errNames(t, r, "okta.users.inactivity_automation", "policies:USER_LIFECYCLE", "okta.policies.read")
	// Every input was read and timed on its own.
	seen := map[string]posture.InputStatus{}
	for _, in := range snap.Inputs {
		seen[in.Resource] = in
	}
	if in := seen[posture.ResPolicyLifecycle]; in.State != posture.InputError || in.Requests != 1 || in.Scope != "okta.policies.read" {
		t.Fatalf("USER_LIFECYCLE input %+v", in)
	}
	for _, res := range []string{posture.ResEngine, posture.ResPolicySignOn, posture.ResPolicyAccess, posture.ResPolicyPassword, posture.ResPolicyMFAEnroll,
		posture.ResAuthenticators, posture.ResZones, posture.ResApps, posture.ResAdminConsole, posture.ResAPITokens, posture.ResAdmins, posture.ResUsers,
		posture.ResIdPs, posture.ResLogStreams, posture.ResThreatInsight, posture.ResBehaviors, posture.ResDeviceAssurances, posture.ResBrands,
		posture.ResTrustedOrigins, posture.ResOktaSupport} {
		if in, ok := seen[res]; !ok || in.State != posture.InputOK || in.Requests < 1 || in.Millis <= 0 {
			t.Errorf("input %s: %+v", res, in)
		}
	}
	if len(seen) != 21 {
		t.Errorf("%d inputs recorded, want 21: %v", len(seen), seen)
	}
}

// A failed per-resource sub-read (the rules of one policy) errors only the
// checks that need it, and only where what was read cannot decide them.
func TestOnePolicysRulesUnreadable(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "strong", nil)
	org.FailPath("/api/v1/policies/00pSignOnDefault/rules", http.StatusInternalServerError)
	snap := fetchHandler(t, org.Handler())
	if fe := snap.ItemErr(posture.ResRulesSignOn, "00pSignOnDefault"); fe == nil || fe.Status != 500 {
		t.Fatalf("item error %+v", fe)
	}
	r := evaluate(t, "baseline", snap)
	sameSet(t, "error", statusSet(r, posture.Error), []string{"okta.session.idle_timeout", "okta.session.max_lifetime",
		"okta.session.persistent_cookie_off", "okta.session.custom_rule_first", "okta.session.network_zone_restricted"})
	errNames(t, r, "okta.session.idle_timeout", "policy_rules:OKTA_SIGN_ON 00pSignOnDefault", "HTTP 500")
	// The access policies' risk rule decides the step-up check on its own.
	if c := mustCheck(t, r, "okta.apps.risk_based_mfa"); c.Status != posture.Pass {
		t.Fatalf("risk_based_mfa = %s %+v", c.Status, c.Findings)
	}
	// A weak policy that was read still fails the check (decided).
	org = newOrg(t, "mixed", nil)
	org.FailPath("/api/v1/policies/00pSignOnDefault/rules", http.StatusInternalServerError)
	r = evaluate(t, "baseline", fetchHandler(t, org.Handler()))
	if c := mustCheck(t, r, "okta.session.idle_timeout"); c.Status != posture.Fail {
		t.Fatalf("mixed idle_timeout = %s %+v", c.Status, c.Findings)
	}
}
