package posture_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

type checkCase struct {
	org, profile string // base org and evaluation profile (default strong/baseline)
	pass         func(*orgsim.State)
	fail         func(*orgsim.State)
	postPass     func(*posture.Snapshot) // pipeline-provided data
	postFail     func(*posture.Snapshot)
	wantPass     posture.Status // default pass
	wantFail     posture.Status // default fail
}

func signOnDefault(s *orgsim.State) *orgsim.Policy { return s.Policy("OKTA_SIGN_ON", "Default Policy") }
func pwDefault(s *orgsim.State) *orgsim.PasswordSettings {
	return s.Policy("PASSWORD", "Default Policy").Settings.Password
}
func rule(p *orgsim.Policy, name string) *orgsim.PolicyRule {
	for _, r := range p.Rules {
		if r.Name == name {
			return r
		}
	}
	panic("no rule " + name + " in " + p.Name)
}
func adminRule(s *orgsim.State) *orgsim.PolicyRule {
	return rule(s.Policy("ACCESS_POLICY", "Okta Admin Console"), "Admins from corporate network")
}
func enroll(s *orgsim.State, key, self string) {
	p := s.Policy("MFA_ENROLL", "Default Policy")
	for i := range p.Settings.Authenticators {
		if p.Settings.Authenticators[i].Key == key {
			p.Settings.Authenticators[i].Enroll.Self = self
			return
		}
	}
	p.Settings.Authenticators = append(p.Settings.Authenticators, orgsim.AuthenticatorEnrollSetting{Key: key, Enroll: orgsim.Enroll{Self: self}})
}
func ago(d time.Duration) *time.Time { t := time.Now().Add(-d); return &t }

const day = 24 * time.Hour

func notify(tmpl string) checkCase {
	return checkCase{fail: func(s *orgsim.State) { s.Brands[0].EmailRecipients[tmpl] = "ADMINS_ONLY" }}
}

// checkCases holds, for every check id, the mutation that makes the
// otherwise compliant org fail it (and any pass-side setup).
var checkCases = map[string]checkCase{
	"okta.session.idle_timeout": {fail: func(s *orgsim.State) {
		rule(signOnDefault(s), "Hardened sessions").Actions.Signon.Session.MaxSessionIdleMinutes = 60
	}},
	"okta.session.max_lifetime": {fail: func(s *orgsim.State) {
		rule(signOnDefault(s), "Default Rule").Actions.Signon.Session.MaxSessionLifetimeMinutes = 0 // unlimited
	}},
	"okta.session.persistent_cookie_off": {fail: func(s *orgsim.State) {
		rule(signOnDefault(s), "Hardened sessions").Actions.Signon.Session.UsePersistentCookie = true
	}},
	"okta.session.custom_rule_first": {fail: func(s *orgsim.State) {
		rule(signOnDefault(s), "Hardened sessions").Status = "INACTIVE"
		rule(signOnDefault(s), "Deny high risk").Status = "INACTIVE"
	}},
	"okta.session.network_zone_restricted": {fail: func(s *orgsim.State) {
		rule(signOnDefault(s), "Deny high risk").Conditions.Network = &orgsim.NetworkCondition{Connection: "ANYWHERE"}
	}},
	"okta.session.mfa_at_signon": {
		pass: func(s *orgsim.State) { s.Pipeline = "v1" },
		fail: func(s *orgsim.State) {
			s.Pipeline = "v1"
			rule(signOnDefault(s), "Default Rule").Actions.Signon.RequireFactor = false
		}},
	"okta.admin_console.idle_timeout": {fail: func(s *orgsim.State) { s.AdminConsole.SessionIdleTimeoutMinutes = 30 }},
	"okta.admin_console.max_lifetime": {fail: func(s *orgsim.State) { s.AdminConsole.SessionMaxLifetimeMinutes = 1440 }},
	"okta.admin_console.mfa":          {fail: func(s *orgsim.State) { adminRule(s).Actions.AppSignOn.VerificationMethod.FactorMode = "1FA" }},
	"okta.admin_console.phishing_resistant": {fail: func(s *orgsim.State) {
		adminRule(s).Actions.AppSignOn.VerificationMethod.Constraints[0].Possession.PhishingResistant = ""
	}},
	"okta.dashboard.mfa": {fail: func(s *orgsim.State) {
		rule(s.Policy("ACCESS_POLICY", "Okta Dashboard"), "Catch-all Rule").Actions.AppSignOn.VerificationMethod.FactorMode = "1FA"
	}},
	"okta.dashboard.phishing_resistant": {fail: func(s *orgsim.State) {
		rule(s.Policy("ACCESS_POLICY", "Okta Dashboard"), "Off-network").Actions.AppSignOn.VerificationMethod.Constraints = nil
	}},
	"okta.apps.auth_policy_mfa": {fail: func(s *orgsim.State) {
		rule(s.Policy("ACCESS_POLICY", "Default Policy"), "Catch-all Rule").Actions.AppSignOn.VerificationMethod.FactorMode = "1FA"
	}},
	"okta.apps.auth_policy_network_zone": {fail: func(s *orgsim.State) {
		rule(s.Policy("ACCESS_POLICY", "Default Policy"), "Off-network").Conditions.Network = nil
	}},
	"okta.apps.risk_based_mfa": {fail: func(s *orgsim.State) {
		rule(s.Policy("ACCESS_POLICY", "Default Policy"), "Deny high risk").Conditions.RiskScore = nil
		rule(signOnDefault(s), "Deny high risk").Conditions.RiskScore = &orgsim.RiskScoreCondition{Level: "ANY"}
	}},
	"okta.apps.device_assurance": {fail: func(s *orgsim.State) { adminRule(s).Conditions.Device = nil }},
	"okta.authn.phishing_resistant_available": {fail: func(s *orgsim.State) {
		s.Authenticator("okta_verify").Status = "INACTIVE"
		s.Authenticator("webauthn").Status = "INACTIVE"
	}},
	"okta.authn.weak_factors_disabled": {fail: func(s *orgsim.State) {
		s.Authenticator("phone_number").Status = "ACTIVE"
		enroll(s, "phone_number", "OPTIONAL")
	}},
	"okta.authn.okta_verify_active": {fail: func(s *orgsim.State) { enroll(s, "okta_verify", "NOT_ALLOWED") }},
	"okta.authn.okta_verify_fips": {org: "stig", profile: "stig", fail: func(s *orgsim.State) {
		s.Authenticator("okta_verify").Settings.Compliance.Fips = "OPTIONAL"
	}},
	"okta.authn.smart_card_active": {org: "stig", profile: "stig", fail: func(s *orgsim.State) {
		s.Authenticator("smart_card_idp").Status = "INACTIVE"
	}},
	"okta.idp.smart_card_dod_ca": {org: "stig", profile: "stig", fail: func(s *orgsim.State) {
		for _, i := range s.IdPs {
			if i.Type == "X509" {
				i.Protocol.Credentials.Trust.Issuer = "CN=Example Corp Issuing CA, O=Example Corp"
			}
		}
	}},
	"okta.mfa_enroll.required_factor": {fail: func(s *orgsim.State) { enroll(s, "okta_verify", "OPTIONAL") }},
	"okta.users.mfa_coverage": {fail: func(s *orgsim.State) {
		for _, u := range s.Users {
			u.Factors = nil
		}
	}},
	"okta.password.min_length":     {fail: func(s *orgsim.State) { pwDefault(s).Complexity.MinLength = 8 }},
	"okta.password.require_upper":  {fail: func(s *orgsim.State) { pwDefault(s).Complexity.MinUpperCase = 0 }},
	"okta.password.require_lower":  {fail: func(s *orgsim.State) { pwDefault(s).Complexity.MinLowerCase = 0 }},
	"okta.password.require_number": {fail: func(s *orgsim.State) { pwDefault(s).Complexity.MinNumber = 0 }},
	"okta.password.require_symbol": {fail: func(s *orgsim.State) { pwDefault(s).Complexity.MinSymbol = 0 }},
	"okta.password.min_age":        {fail: func(s *orgsim.State) { pwDefault(s).Age.MinAgeMinutes = 0 }},
	"okta.password.max_age":        {fail: func(s *orgsim.State) { pwDefault(s).Age.MaxAgeDays = 0 }},
	"okta.password.history":        {fail: func(s *orgsim.State) { pwDefault(s).Age.HistoryCount = 4 }},
	"okta.password.common_check":   {fail: func(s *orgsim.State) { pwDefault(s).Complexity.Dictionary.Common.Exclude = false }},
	"okta.password.lockout":        {fail: func(s *orgsim.State) { pwDefault(s).Lockout.MaxAttempts = 0 }},
	"okta.password.recovery_hardened": {fail: func(s *orgsim.State) {
		s.Policy("PASSWORD", "Default Policy").Settings.Recovery.Factors["okta_sms"] = orgsim.StatusOnly{Status: "ACTIVE"}
	}},
	"okta.users.inactivity_automation": {fail: func(s *orgsim.State) {
		s.Policy("USER_LIFECYCLE", "Suspend inactive users").Conditions.People.Users.Inactivity.Number = 90
	}},
	"okta.users.dormant":  {fail: func(s *orgsim.State) { s.User("user3@example.com").LastLogin = ago(200 * day) }},
	"okta.admins.dormant": {fail: func(s *orgsim.State) { s.User("bob.admin@example.com").LastLogin = ago(120 * day) }},
	"okta.admins.mfa":     {fail: func(s *orgsim.State) { s.User("bob.admin@example.com").Factors = nil }},
	"okta.admins.stale_password": {fail: func(s *orgsim.State) {
		s.User("carol.helpdesk@example.com").PasswordChanged = ago(400 * day)
	}},
	"okta.admins.super_admin_count": {fail: func(s *orgsim.State) {
		for i := 1; i <= 5; i++ {
			u := s.User(fmt.Sprintf("user%d@example.com", i))
			u.Roles = []orgsim.Role{{ID: "irSA", Type: "SUPER_ADMIN", Label: "Super Administrator", Status: "ACTIVE", AssignmentType: "GROUP"}}
		}
	}},
	"okta.admins.privileged_count": {fail: func(s *orgsim.State) {
		for i := 0; i < 25; i++ {
			u := &orgsim.User{ID: fmt.Sprintf("00uHelp%09d", i), Status: "ACTIVE", Created: time.Now().Add(-30 * day),
				LastLogin: ago(day), PasswordChanged: ago(10 * day),
				Roles:   []orgsim.Role{{ID: "irHD", Type: "HELP_DESK_ADMIN", Status: "ACTIVE", AssignmentType: "GROUP"}},
				Factors: []orgsim.Factor{{ID: "f", FactorType: "push", Provider: "OKTA", Status: "ACTIVE"}}}
			u.Profile.Login = fmt.Sprintf("help%d@example.com", i)
			s.Users = append(s.Users, u)
		}
	}},
	"okta.api_tokens.network_restricted": {fail: func(s *orgsim.State) {
		s.APITokens[0].Network = &orgsim.NetworkCondition{Connection: "ANYWHERE"}
	}},
	"okta.api_tokens.not_super_admin":  {fail: func(s *orgsim.State) { s.APITokens[0].UserID = "00uAlice00000001" }},
	"okta.api_tokens.hygiene":          {fail: func(s *orgsim.State) { s.APITokens[0].Created = time.Now().Add(-400 * day) }},
	"okta.network.threatinsight_block": {fail: func(s *orgsim.State) { s.ThreatInsight.Action = "none" }},
	"okta.network.anonymizer_block":    {fail: func(s *orgsim.State) { s.Zone("DefaultEnhancedDynamicZone").Status = "INACTIVE" }},
	"okta.network.ip_blocklist":        {fail: func(s *orgsim.State) { s.Zone("BlockedIpZone").Gateways = nil }},
	"okta.network.admin_console_zone":  {fail: func(s *orgsim.State) { adminRule(s).Conditions.Network = nil }},
	"okta.logging.log_offload": {
		pass: func(s *orgsim.State) { s.LogStreams = nil },
		postPass: func(sn *posture.Snapshot) {
			sn.Ingestion = &posture.IngestionStatus{LastPollSuccess: time.Now().Add(-time.Minute), Lag: 2 * time.Minute}
		},
		fail: func(s *orgsim.State) { s.LogStreams[0].Status = "INACTIVE" },
		postFail: func(sn *posture.Snapshot) {
			sn.Ingestion = &posture.IngestionStatus{LastPollSuccess: time.Now().Add(-2 * time.Hour), Lag: 2 * time.Hour}
		}},
	"okta.detection.behavior_rules": {fail: func(s *orgsim.State) {
		for _, b := range s.Behaviors {
			b.Status = "INACTIVE"
		}
	}},
	"okta.notify.new_signon":             notify("NewSignOnNotification"),
	"okta.notify.password_changed":       notify("PasswordChanged"),
	"okta.notify.authenticator_enrolled": notify("AuthenticatorEnrolled"),
	"okta.notify.authenticator_reset":    notify("AuthenticatorReset"),
	"okta.notify.report_suspicious": {
		postPass: func(sn *posture.Snapshot) {
			sn.LogSignals = &posture.LogSignals{ReportSuspiciousEvents: 2, Window: 90 * day}
		},
		wantFail: posture.Manual, // no read API: without log evidence it stays manual
	},
	"okta.apps.federated_sso": {fail: func(s *orgsim.State) {
		s.Apps = append(s.Apps, &orgsim.App{ID: "0oaSwaApp0000001", Name: "legacy_swa", Label: "Legacy payroll", Status: "ACTIVE", SignOnMode: "BROWSER_PLUGIN"})
	}},
	"okta.apps.oidc_risky_grants": {fail: func(s *orgsim.State) {
		s.App("oidc_client").Settings.OauthClient.GrantTypes = []string{"authorization_code", "implicit"}
	}},
	"okta.apps.inactive_review": {
		postPass: func(sn *posture.Snapshot) {
			for i := range sn.Apps {
				sn.Apps[i].LastSSO = time.Now().Add(-3 * day)
			}
		},
		postFail: func(sn *posture.Snapshot) {
			for i := range sn.Apps {
				if sn.Apps[i].Name == "salesforce" {
					sn.Apps[i].LastSSO = time.Now().Add(-3 * day)
				}
			}
		}},
	"okta.trusted_origins.strict": {fail: func(s *orgsim.State) {
		s.TrustedOrigins = append(s.TrustedOrigins, &orgsim.TrustedOrigin{ID: "tosWild", Name: "Wildcard", Origin: "https://*.example.com", Status: "ACTIVE"})
	}},
	"okta.org.support_access": {
		pass: func(s *orgsim.State) {
			s.OktaSupport = orgsim.OktaSupport{Support: "ENABLED", Expiration: ptr(time.Now().Add(4 * time.Hour))}
		},
		fail: func(s *orgsim.State) {
			s.OktaSupport = orgsim.OktaSupport{Support: "ENABLED", Expiration: ptr(time.Now().Add(72 * time.Hour))}
		}},
	"okta.signin.dod_banner": {org: "stig", profile: "stig", fail: func(s *orgsim.State) { s.Brands[0].SignInPageContent = "" }},
}

func ptr[T any](v T) *T { return &v }

// TestEveryCheckPassAndFailOnSimulator runs, for each of the 62 checks, a
// compliant and a non-compliant simulated org through HTTP, the client's
// snapshot fetch and the evaluator.
func TestEveryCheckPassAndFailOnSimulator(t *testing.T) {
	for _, id := range posture.CheckIDs() {
		if _, ok := checkCases[id]; !ok {
			t.Errorf("no pass/fail case for check %s", id)
		}
	}
	for _, id := range posture.CheckIDs() {
		id := id
		tc, ok := checkCases[id]
		if !ok {
			continue
		}
		t.Run(id, func(t *testing.T) {
			t.Parallel() // each run has its own server and client; the client's pacing dominates
			org, profile := tc.org, tc.profile
			if org == "" {
				org = "strong"
			}
			if profile == "" {
				profile = "baseline"
			}
			wantPass, wantFail := tc.wantPass, tc.wantFail
			if wantPass == "" {
				wantPass = posture.Pass
			}
			if wantFail == "" {
				wantFail = posture.Fail
			}
			run := func(mut func(*orgsim.State), post func(*posture.Snapshot), want posture.Status, side string) {
				snap, err := fetchOrg(t, newOrg(t, org, mut))
				if err != nil {
					t.Fatalf("%s: fetch: %v", side, err)
				}
				if len(snap.Errors) > 0 {
					t.Fatalf("%s: fetch errors: %+v", side, snap.Errors)
				}
				if post != nil {
					post(&snap)
				}
				c := mustCheck(t, evaluate(t, profile, snap), id)
				if c.Status != want {
					t.Fatalf("%s org: status %s, want %s; findings %+v", side, c.Status, want, c.Findings)
				}
				if want == posture.Fail && c.Failing() == 0 {
					t.Fatalf("%s org: failing check without a failing finding: %+v", side, c.Findings)
				}
			}
			run(tc.pass, tc.postPass, wantPass, "passing")
			run(tc.fail, tc.postFail, wantFail, "failing")
		})
	}
}

// Checks whose input is absent or out of scope report not_applicable.
func TestNotApplicablePaths(t *testing.T) {
	cases := []struct {
		id      string
		profile string
		mut     func(*orgsim.State)
	}{
		{"okta.session.mfa_at_signon", "baseline", nil}, // Identity Engine
		{"okta.admin_console.idle_timeout", "baseline", func(s *orgsim.State) { s.AdminConsole = nil }},
		{"okta.admin_console.max_lifetime", "baseline", func(s *orgsim.State) { s.AdminConsole = nil }},
		{"okta.admin_console.mfa", "baseline", func(s *orgsim.State) { s.App("saasure").AccessPolicyID = "" }},
		{"okta.admin_console.phishing_resistant", "baseline", func(s *orgsim.State) { s.App("saasure").AccessPolicyID = "" }},
		{"okta.network.admin_console_zone", "baseline", func(s *orgsim.State) { s.App("saasure").AccessPolicyID = "" }},
		{"okta.dashboard.mfa", "baseline", func(s *orgsim.State) { s.App("okta_enduser").AccessPolicyID = "" }},
		{"okta.password.max_age", "nist", nil},
		{"okta.api_tokens.hygiene", "baseline", func(s *orgsim.State) { s.APITokens = nil }},
		{"okta.api_tokens.network_restricted", "baseline", func(s *orgsim.State) { s.APITokens = nil }},
		{"okta.apps.oidc_risky_grants", "baseline", func(s *orgsim.State) { s.App("oidc_client").Status = "INACTIVE" }},
		{"okta.users.inactivity_automation", "baseline", func(s *orgsim.State) {
			for _, u := range s.Users {
				u.Credentials = &orgsim.Credentials{}
				u.Credentials.Provider = &struct {
					Type string `json:"type"`
					Name string `json:"name"`
				}{Type: "ACTIVE_DIRECTORY", Name: "corp.example.com"}
			}
		}},
		{"okta.authn.okta_verify_fips", "baseline", nil},
		{"okta.authn.smart_card_active", "baseline", nil},
		{"okta.idp.smart_card_dod_ca", "baseline", nil},
		{"okta.signin.dod_banner", "baseline", nil},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			snap, err := fetchOrg(t, newOrg(t, "strong", tc.mut))
			if err != nil {
				t.Fatal(err)
			}
			var p posture.Profile
			if tc.profile == "nist" {
				p, _ = posture.ProfileByName("baseline")
				p.Name, p.Params.PasswordMaxAgeDays = "nist", 0
			} else {
				p, _ = posture.ProfileByName(tc.profile)
			}
			c := mustCheck(t, posture.Evaluate(snap, p), tc.id)
			if c.Status != posture.NotApplicable {
				t.Fatalf("status %s, want not_applicable: %+v", c.Status, c.Findings)
			}
		})
	}
}

// Partial credit: ThreatInsight in audit mode, and MFA coverage below 100 %.
func TestPartialStatuses(t *testing.T) {
	snap, err := fetchOrg(t, newOrg(t, "strong", func(s *orgsim.State) {
		s.ThreatInsight.Action = "audit"
		s.User("user1@example.com").Factors = nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := evaluate(t, "baseline", snap)
	ti := mustCheck(t, r, "okta.network.threatinsight_block")
	cov := mustCheck(t, r, "okta.users.mfa_coverage")
	if ti.Status != posture.Partial || cov.Status != posture.Partial {
		t.Fatalf("threatinsight %s, coverage %s", ti.Status, cov.Status)
	}
	if !strings.Contains(cov.Findings[0].Observed.(string), "90.0 % (9 of 10)") || cov.Failing() != 1 ||
		!strings.Contains(cov.Findings[1].Resource, "user1@example.com") {
		t.Fatalf("coverage findings %+v", cov.Findings)
	}
	if r.Score >= 100 || r.Score <= 90 {
		t.Fatalf("score %v: partial credit should cost a little", r.Score)
	}
}
