package posture_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

func statusSet(r posture.Report, want ...posture.Status) []string {
	var ids []string
	for _, c := range r.Checks {
		for _, w := range want {
			if c.Status == w {
				ids = append(ids, c.ID)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("%s\n got: %v\nwant: %v", what, got, want)
	}
}

func TestWeakOrgFailsExactlyMFASessionAndPasswordChecks(t *testing.T) {
	t.Parallel()
	snap, err := fetchOrg(t, newOrg(t, "weak", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	sameSet(t, "weak org failing checks", statusSet(r, posture.Fail, posture.Error, posture.Partial), []string{
		// Secure Score: enable MFA
		"okta.admin_console.mfa", "okta.admin_console.phishing_resistant", "okta.dashboard.mfa", "okta.dashboard.phishing_resistant", "okta.apps.auth_policy_mfa",
		// Secure Score: session timeout for web users
		"okta.session.idle_timeout", "okta.session.max_lifetime", "okta.session.persistent_cookie_off", "okta.admin_console.idle_timeout", "okta.admin_console.max_lifetime",
		// Secure Score: password requirements
		"okta.password.min_length", "okta.password.require_upper", "okta.password.require_lower", "okta.password.require_number", "okta.password.require_symbol",
		"okta.password.min_age", "okta.password.max_age", "okta.password.history", "okta.password.common_check", "okta.password.lockout",
	})
	if r.Score > 60 {
		t.Fatalf("weak org score %v is too high", r.Score)
	}
}

func TestStrongOrgPassesBaseline(t *testing.T) {
	t.Parallel()
	snap, err := fetchOrg(t, newOrg(t, "strong", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	if bad := statusSet(r, posture.Fail, posture.Error, posture.Partial); len(bad) > 0 {
		t.Fatalf("strong org fails %v", bad)
	}
	sameSet(t, "manual", statusSet(r, posture.Manual), []string{"okta.notify.report_suspicious", "okta.apps.inactive_review"})
	sameSet(t, "not applicable", statusSet(r, posture.NotApplicable), []string{"okta.session.mfa_at_signon",
		"okta.authn.okta_verify_fips", "okta.authn.smart_card_active", "okta.idp.smart_card_dod_ca", "okta.signin.dod_banner"})
	if r.Score != 100 || r.Profile != "baseline" {
		t.Fatalf("score %v profile %s", r.Score, r.Profile)
	}
	// Evidence is the raw Okta JSON of the resource.
	c := mustCheck(t, r, "okta.password.min_length")
	var ev map[string]any
	if err := json.Unmarshal(c.Findings[0].Evidence, &ev); err != nil || ev["_links"] == nil || ev["settings"] == nil {
		t.Fatalf("evidence %s", c.Findings[0].Evidence)
	}
}

func TestStigOrgAndStigProfile(t *testing.T) {
	t.Parallel()
	snap, err := fetchOrg(t, newOrg(t, "stig", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "stig", snap)
	if bad := statusSet(r, posture.Fail, posture.Error, posture.Partial); len(bad) > 0 {
		t.Fatalf("stig org fails the stig profile: %v", bad)
	}
	// The baseline-strong org misses the stricter STIG values and the DoD items.
	snap, err = fetchOrg(t, newOrg(t, "strong", nil))
	if err != nil {
		t.Fatal(err)
	}
	r = evaluate(t, "stig", snap)
	sameSet(t, "strong org under stig", statusSet(r, posture.Fail), []string{
		"okta.password.min_length", "okta.password.min_age", "okta.password.max_age", "okta.password.lockout",
		"okta.authn.okta_verify_fips", "okta.authn.smart_card_active", "okta.idp.smart_card_dod_ca", "okta.signin.dod_banner"})
}

func TestMixedOrgReportsWeakCustomPolicy(t *testing.T) {
	t.Parallel()
	snap, err := fetchOrg(t, newOrg(t, "mixed", nil))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	for _, id := range []string{"okta.password.min_length", "okta.password.lockout", "okta.session.idle_timeout", "okta.session.persistent_cookie_off"} {
		c := mustCheck(t, r, id)
		if c.Status != posture.Fail {
			t.Fatalf("%s = %s", id, c.Status)
		}
		var failRes, passRes []string
		for _, f := range c.Findings {
			if f.Status == posture.Fail {
				failRes = append(failRes, f.Resource)
			} else if f.Status == posture.Pass {
				passRes = append(passRes, f.Resource)
			}
		}
		if len(failRes) != 1 || !strings.Contains(failRes[0], `"Contractors"`) {
			t.Fatalf("%s failing findings %v", id, failRes)
		}
		if len(passRes) == 0 || !strings.Contains(strings.Join(passRes, "|"), `"Default Policy"`) {
			t.Fatalf("%s: default policy not evaluated as passing: %v", id, passRes)
		}
	}
	// The report's diff against the strong org names the new weak policy as a regression.
	snapStrong, err := fetchOrg(t, newOrg(t, "strong", nil))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, ch := range posture.Regressions(posture.Diff(evaluate(t, "baseline", snapStrong), r)) {
		if ch.Check == "okta.password.min_length" && strings.Contains(ch.Resource, "Contractors") && ch.To == posture.Fail {
			found = true
		}
	}
	if !found {
		t.Fatal("diff did not report the weak Contractors policy as a regression")
	}
}

func TestRevokedScopeGivesErrorNamingScope(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "strong", nil)
	org.DenyScope("okta.apiTokens.read")
	snap, err := fetchOrg(t, org)
	if err != nil {
		t.Fatal(err)
	}
	fe := snap.Err(posture.ResAPITokens)
	if fe == nil || fe.Scope != "okta.apiTokens.read" || fe.Status != 403 {
		t.Fatalf("fetch error %+v", fe)
	}
	r := evaluate(t, "baseline", snap)
	errIDs := statusSet(r, posture.Error)
	sameSet(t, "error checks", errIDs, []string{"okta.api_tokens.hygiene", "okta.api_tokens.network_restricted", "okta.api_tokens.not_super_admin"})
	for _, id := range errIDs {
		c := mustCheck(t, r, id)
		if obs, _ := c.Findings[0].Observed.(string); !strings.Contains(obs, "okta.apiTokens.read") {
			t.Fatalf("%s does not name the scope: %+v", id, c.Findings)
		}
	}
	// Only evaluated checks count: everything else passes, so 100.
	if r.Score != 100 {
		t.Fatalf("score %v: error checks must not count", r.Score)
	}
	s := r.Summary()
	if s.Error != 3 || s.Scored != s.Pass+s.Fail+s.Partial-countInfo(r) {
		t.Fatalf("summary %+v", s)
	}
}

func countInfo(r posture.Report) int {
	n := 0
	for _, c := range r.Checks {
		if c.Severity == posture.Info && (c.Status == posture.Pass || c.Status == posture.Fail || c.Status == posture.Partial) {
			n++
		}
	}
	return n
}

func TestServerErrorBecomesCheckErrorAndFetchContinues(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "strong", nil)
	org.FailPath("/api/v1/logStreams", http.StatusInternalServerError)
	snap, err := fetchOrg(t, org)
	if err != nil {
		t.Fatal(err)
	}
	if fe := snap.Err(posture.ResLogStreams); fe == nil || fe.Status != 500 || fe.Scope != "okta.logStreams.read" {
		t.Fatalf("fetch error %+v", fe)
	}
	r := evaluate(t, "baseline", snap)
	if c := mustCheck(t, r, "okta.logging.log_offload"); c.Status != posture.Error {
		t.Fatalf("log_offload = %s", c.Status)
	}
	if c := mustCheck(t, r, "okta.org.support_access"); c.Status != posture.Pass {
		t.Fatalf("later resources not read: support_access = %s", c.Status)
	}
	// Healthy own ingestion satisfies the check even without the streams list.
	snap.Ingestion = &posture.IngestionStatus{LastPollSuccess: time.Now(), Lag: time.Minute}
	if c := mustCheck(t, evaluate(t, "baseline", snap), "okta.logging.log_offload"); c.Status != posture.Pass {
		t.Fatalf("log_offload with ingestion = %s", c.Status)
	}
}

func TestUnauthorizedFailsTheSnapshotWithoutLeakingToken(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "strong", nil)
	org.FailPath("/", http.StatusUnauthorized)
	_, err := fetchOrg(t, org)
	if err == nil || !errors.Is(err, okta.ErrUnauthorized) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "00test-token-not-a-secret") {
		t.Fatal("token in error")
	}
}

func rsaPEM(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// Through the simulator server (auth, OAuth scopes, rate-limit headers)
// and the real client: a service app lacking okta.apiTokens.read and
// okta.templates.read; the org pages every list two items at a time.
func TestThroughSimulatorServerWithOAuthAndPagination(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "strong", func(s *orgsim.State) { s.PageSize = 2 })
	var granted []string
	for _, sc := range posture.ResourceScopes {
		if sc != "okta.apiTokens.read" && sc != "okta.templates.read" {
			granted = append(granted, sc)
		}
	}
	snap, err := fetchOAuth(t, org, dedupe(granted))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 10 || len(snap.Zones) != 4 || len(snap.Apps) != 4 || len(snap.Admins) != 4 {
		t.Fatalf("pagination lost items: users %d zones %d apps %d admins %d", len(snap.Users), len(snap.Zones), len(snap.Apps), len(snap.Admins))
	}
	if org.Hits("/api/v1/users") < 5 {
		t.Fatalf("users not paged: %d requests", org.Hits("/api/v1/users"))
	}
	r := evaluate(t, "baseline", snap)
	want := []string{"okta.api_tokens.hygiene", "okta.api_tokens.network_restricted", "okta.api_tokens.not_super_admin",
		"okta.notify.new_signon", "okta.notify.password_changed", "okta.notify.authenticator_enrolled", "okta.notify.authenticator_reset"}
	sameSet(t, "error checks", statusSet(r, posture.Error), want)
	for _, id := range want {
		obs, _ := mustCheck(t, r, id).Findings[0].Observed.(string)
		if !strings.Contains(obs, "okta.apiTokens.read") && !strings.Contains(obs, "okta.templates.read") {
			t.Fatalf("%s: scope not named: %s", id, obs)
		}
	}
	if bad := statusSet(r, posture.Fail, posture.Partial); len(bad) > 0 {
		t.Fatalf("failing: %v", bad)
	}
	if r.Score != 100 {
		t.Fatalf("score %v", r.Score)
	}
	if org.Hits("/api/v1/api-tokens") != 0 {
		t.Fatal("a request without the scope reached the org")
	}
}

func dedupe(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// Without okta.users.read every check that needs user records errors and
// names that scope; checks not needing users still evaluate.
func TestRevokedUsersScope(t *testing.T) {
	t.Parallel()
	org := newOrg(t, "strong", nil)
	org.DenyScope("okta.users.read")
	snap, err := fetchOrg(t, org)
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	want := []string{"okta.users.mfa_coverage", "okta.users.dormant",
		"okta.admins.dormant", "okta.admins.mfa", "okta.admins.stale_password", "okta.admins.super_admin_count",
		"okta.admins.privileged_count", "okta.api_tokens.not_super_admin", "okta.api_tokens.hygiene"}
	sameSet(t, "error checks", statusSet(r, posture.Error), want)
	for _, id := range want {
		c := mustCheck(t, r, id)
		var named bool
		for _, f := range c.Findings {
			if obs, _ := f.Observed.(string); strings.Contains(obs, "okta.users.read") {
				named = true
			}
		}
		if !named {
			t.Errorf("%s does not name okta.users.read: %+v", id, c.Findings)
		}
	}
	if c := mustCheck(t, r, "okta.password.min_length"); c.Status != posture.Pass {
		t.Fatalf("unrelated check = %s", c.Status)
	}
	// The users are read only to exempt an all-AD org: the automation
	// itself decides the check.
	if c := mustCheck(t, r, "okta.users.inactivity_automation"); c.Status != posture.Pass {
		t.Fatalf("inactivity_automation = %s %+v", c.Status, c.Findings)
	}
}
