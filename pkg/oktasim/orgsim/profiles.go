package orgsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Stable ids of the simulated org's resources (tests refer to them).
const (
	ZoneCorporate     = "nzoCorporate0001"
	ZoneBlocklist     = "nzoBlocklist0001"
	ZoneEnhanced      = "nzoEnhancedDyn01"
	ZoneExempt        = "nzoDefaultExempt"
	PolicyAdminAccess = "rstAdminConsole1"
	PolicyDashAccess  = "rstDashboard0001"
	PolicyAppDefault  = "rstDefaultAppPol"
	DeviceAssuranceID = "daeMacOSManaged1"
)

func ptrTime(t time.Time) *time.Time { return &t }

func zoned(connection string, include, exclude []string) *NetworkCondition {
	return &NetworkCondition{Connection: connection, Include: include, Exclude: exclude}
}

// SignonRule builds an OKTA_SIGN_ON rule.
func SignonRule(id, name string, prio int, idle, lifetime int, persistent bool) *PolicyRule {
	return &PolicyRule{ID: id, Name: name, Type: "SIGN_ON", Status: "ACTIVE", Priority: prio,
		Conditions: &RuleConditions{Network: &NetworkCondition{Connection: "ANYWHERE"}},
		Actions: &RuleActions{Signon: &SignonAction{Access: "ALLOW", RequireFactor: true, FactorPromptMode: "ALWAYS",
			Session: &SessionSettings{MaxSessionIdleMinutes: idle, MaxSessionLifetimeMinutes: lifetime, UsePersistentCookie: persistent}}}}
}

// AccessRule builds an ACCESS_POLICY rule; factorMode "1FA" or "2FA";
// phishingResistant adds possession.phishingResistant REQUIRED.
func AccessRule(id, name string, prio int, access, factorMode string, phishingResistant bool) *PolicyRule {
	vm := &VerificationMethod{Type: "ASSURANCE", FactorMode: factorMode, ReauthenticateIn: "PT2H"}
	if factorMode == "2FA" {
		c := AuthConstraint{Possession: &FactorConstraint{}}
		if phishingResistant {
			c.Possession.PhishingResistant = "REQUIRED"
		}
		vm.Constraints = []AuthConstraint{c}
	}
	r := &PolicyRule{ID: id, Name: name, Type: "ACCESS_POLICY", Status: "ACTIVE", Priority: prio,
		Conditions: &RuleConditions{},
		Actions:    &RuleActions{AppSignOn: &AppSignOnAction{Access: access}}}
	if access == "ALLOW" {
		r.Actions.AppSignOn.VerificationMethod = vm
	}
	return r
}

func passwordPolicy(id, name string, prio int, system bool, minLen, minAge, maxAge, history, lockout int) *Policy {
	ps := &PasswordSettings{}
	ps.Complexity = PasswordComplexity{MinLength: minLen, MinLowerCase: 1, MinUpperCase: 1, MinNumber: 1, MinSymbol: 1}
	ps.Complexity.Dictionary.Common.Exclude = true
	ps.Age = PasswordAge{MaxAgeDays: maxAge, ExpireWarnDays: 7, MinAgeMinutes: minAge, HistoryCount: history}
	ps.Lockout = PasswordLockout{MaxAttempts: lockout, AutoUnlockMinutes: 30}
	return &Policy{ID: id, Name: name, Type: "PASSWORD", Status: "ACTIVE", Priority: prio, System: system,
		Description: "Password policy",
		Conditions:  &PolicyConditions{People: &PeopleCondition{Groups: &IncludeExclude{Include: []string{"00gEveryone00001"}}}},
		Settings: &PolicySettings{Type: "PASSWORD", Password: ps, Recovery: &RecoverySettings{Factors: map[string]StatusOnly{
			"okta_email": {Status: "ACTIVE"}, "recovery_question": {Status: "INACTIVE"}, "okta_sms": {Status: "INACTIVE"}, "okta_call": {Status: "INACTIVE"}}}},
		Rules: []*PolicyRule{{ID: "0pr" + id[3:], Name: "Default Rule", Type: "PASSWORD", Status: "ACTIVE", Priority: 1, System: true,
			Actions: &RuleActions{PasswordChange: &AccessAction{Access: "ALLOW"}, SelfServicePasswordReset: &AccessAction{Access: "ALLOW"}, SelfServiceUnlock: &AccessAction{Access: "ALLOW"}}}}}
}

func enrollPolicy(id, name string, prio int, system bool, selfs map[string]string) *Policy {
	p := &Policy{ID: id, Name: name, Type: "MFA_ENROLL", Status: "ACTIVE", Priority: prio, System: system,
		Settings: &PolicySettings{Type: "AUTHENTICATORS"}}
	for _, k := range []string{"okta_password", "okta_email", "okta_verify", "webauthn", "phone_number", "security_question", "smart_card_idp"} {
		if v, ok := selfs[k]; ok {
			p.Settings.Authenticators = append(p.Settings.Authenticators, AuthenticatorEnrollSetting{Key: k, Enroll: Enroll{Self: v}})
		}
	}
	return p
}

func factors(ts ...string) []Factor {
	var out []Factor
	for i, t := range ts {
		provider := "OKTA"
		if t == "webauthn" {
			provider = "FIDO"
		}
		out = append(out, Factor{ID: fmt.Sprintf("fac%02d%s", i, t), FactorType: t, Provider: provider, Status: "ACTIVE"})
	}
	return out
}

func user(id, login string, now time.Time, lastLoginAgo, pwAgo time.Duration, roles []Role, fs []Factor) *User {
	u := &User{ID: id, Status: "ACTIVE", Created: now.AddDate(-2, 0, 0), Activated: ptrTime(now.AddDate(-2, 0, 0)),
		LastLogin: ptrTime(now.Add(-lastLoginAgo)), PasswordChanged: ptrTime(now.Add(-pwAgo)), Roles: roles, Factors: fs}
	u.Profile.Login, u.Profile.Email = login, login
	return u
}

func role(typ, assignment string) Role {
	return Role{ID: "ir" + typ, Type: typ, Label: typ, Status: "ACTIVE", AssignmentType: assignment}
}

const day = 24 * time.Hour

// DoDBanner is the Standard Mandatory DoD Notice and Consent Banner text.
const DoDBanner = `You are accessing a U.S. Government (USG) Information System (IS) that is provided for USG-authorized use only. By using this IS (which includes any device attached to this IS), you consent to the following conditions: ...`

// strong builds an org that passes the baseline profile.
func strong(now time.Time) *State {
	st := &State{OrgName: "oktaguard-sim", Pipeline: "idx", PageSize: 200}

	// Global session policies.
	defSignOn := &Policy{ID: "00pSignOnDefault", Name: "Default Policy", Type: "OKTA_SIGN_ON", Status: "ACTIVE", Priority: 1, System: true,
		Description: "The default policy applies in all situations if no other policy applies."}
	corp := SignonRule("0prSignOnCorp001", "Hardened sessions", 1, 15, 120, false)
	risky := &PolicyRule{ID: "0prSignOnRisk001", Name: "Deny high risk", Type: "SIGN_ON", Status: "ACTIVE", Priority: 2,
		Conditions: &RuleConditions{Network: zoned("ZONE", nil, []string{ZoneCorporate}), RiskScore: &RiskScoreCondition{Level: "HIGH"},
			Risk: &RiskCondition{Behaviors: []string{"New Country"}}},
		Actions: &RuleActions{Signon: &SignonAction{Access: "DENY"}}}
	defRule := SignonRule("0prSignOnDefRule", "Default Rule", 3, 15, 120, false)
	defRule.System = true
	defSignOn.Rules = []*PolicyRule{corp, risky, defRule}

	// Authentication (app sign-on) policies.
	adminPol := &Policy{ID: PolicyAdminAccess, Name: "Okta Admin Console", Type: "ACCESS_POLICY", Status: "ACTIVE", Priority: 1}
	ar := AccessRule("rulAdminCorp0001", "Admins from corporate network", 1, "ALLOW", "2FA", true)
	ar.Conditions.Network = zoned("ZONE", []string{ZoneCorporate}, nil)
	ar.Conditions.Device = &DeviceCondition{Registered: true, Managed: true, Assurance: &IncludeExclude{Include: []string{DeviceAssuranceID}}}
	acCatch := AccessRule("rulAdminCatchAll", "Catch-all Rule", 99, "DENY", "", false)
	acCatch.System = true
	adminPol.Rules = []*PolicyRule{ar, acCatch}

	dashPol := &Policy{ID: PolicyDashAccess, Name: "Okta Dashboard", Type: "ACCESS_POLICY", Status: "ACTIVE", Priority: 2}
	dr := AccessRule("rulDashOffNet001", "Off-network", 1, "ALLOW", "2FA", true)
	dr.Conditions.Network = zoned("ZONE", nil, []string{ZoneCorporate})
	dCatch := AccessRule("rulDashCatchAll1", "Catch-all Rule", 99, "ALLOW", "2FA", true)
	dCatch.System = true
	dashPol.Rules = []*PolicyRule{dr, dCatch}

	appPol := &Policy{ID: PolicyAppDefault, Name: "Default Policy", Type: "ACCESS_POLICY", Status: "ACTIVE", Priority: 3, System: true}
	rk := AccessRule("rulAppHighRisk01", "Deny high risk", 1, "DENY", "", false)
	rk.Conditions.RiskScore = &RiskScoreCondition{Level: "HIGH"}
	off := AccessRule("rulAppOffNet0001", "Off-network", 2, "ALLOW", "2FA", false)
	off.Conditions.Network = zoned("ZONE", nil, []string{ZoneCorporate})
	aCatch := AccessRule("rulAppCatchAll01", "Catch-all Rule", 99, "ALLOW", "2FA", false)
	aCatch.System = true
	appPol.Rules = []*PolicyRule{rk, off, aCatch}

	pw := passwordPolicy("00pPasswordDef01", "Default Policy", 1, true, 14, 60, 90, 24, 10)
	enroll := enrollPolicy("00pEnrollDefault", "Default Policy", 1, true, map[string]string{
		"okta_password": "REQUIRED", "okta_email": "OPTIONAL", "okta_verify": "REQUIRED", "webauthn": "OPTIONAL",
		"phone_number": "NOT_ALLOWED", "security_question": "NOT_ALLOWED"})
	lifecycle := &Policy{ID: "00pLifecycle0001", Name: "Suspend inactive users", Type: "USER_LIFECYCLE", Status: "ACTIVE", Priority: 1,
		Conditions: &PolicyConditions{People: &PeopleCondition{Users: &UserCondition{Inactivity: &InactivityCondition{Number: 30, Unit: "DAYS"}}}},
		Rules: []*PolicyRule{{ID: "0prLifecycle0001", Name: "Suspend", Status: "ACTIVE", Priority: 1,
			Actions: &RuleActions{Lifecycle: &LifecycleAction{Action: "SUSPENDED"}}}}}
	st.Policies = []*Policy{defSignOn, adminPol, dashPol, appPol, pw, enroll, lifecycle}

	st.Authenticators = []*Authenticator{
		{ID: "autPassword00001", Key: "okta_password", Name: "Password", Type: "password", Status: "ACTIVE"},
		{ID: "autEmail00000001", Key: "okta_email", Name: "Email", Type: "email", Status: "ACTIVE"},
		{ID: "autOktaVerify001", Key: "okta_verify", Name: "Okta Verify", Type: "app", Status: "ACTIVE", Settings: &AuthenticatorSettings{}},
		{ID: "autWebAuthn00001", Key: "webauthn", Name: "Security Key or Biometric", Type: "security_key", Status: "ACTIVE"},
		{ID: "autPhone00000001", Key: "phone_number", Name: "Phone", Type: "phone", Status: "INACTIVE"},
		{ID: "autSecQuestion01", Key: "security_question", Name: "Security Question", Type: "security_question", Status: "INACTIVE"},
	}

	st.Zones = []*NetworkZone{
		{ID: ZoneCorporate, Name: "Corporate egress", Type: "IP", Status: "ACTIVE", Usage: "POLICY",
			Gateways: []ZoneAddress{{Type: "CIDR", Value: "203.0.113.0/24"}}},
		{ID: ZoneBlocklist, Name: "BlockedIpZone", Type: "IP", Status: "ACTIVE", Usage: "BLOCKLIST", System: true,
			Gateways: []ZoneAddress{{Type: "CIDR", Value: "198.51.100.0/24"}}},
		{ID: ZoneEnhanced, Name: "DefaultEnhancedDynamicZone", Type: "DYNAMIC_V2", Status: "ACTIVE", Usage: "BLOCKLIST", System: true,
			IPServiceCategories: &IncludeExclude{Include: []string{"ALL_ANONYMIZERS"}}},
		{ID: ZoneExempt, Name: "DefaultExemptIpZone", Type: "IP", Status: "ACTIVE", Usage: "POLICY", System: true},
	}

	oidc := &App{ID: "0oaPortalOidc001", Name: "oidc_client", Label: "Internal portal", Status: "ACTIVE", SignOnMode: "OPENID_CONNECT",
		Settings: &AppSettings{}, AccessPolicyID: PolicyAppDefault}
	oidc.Settings.OauthClient = &OAuthClient{GrantTypes: []string{"authorization_code", "refresh_token"}}
	st.Apps = []*App{
		{ID: "0oaAdminConsole1", Name: "saasure", Label: "Okta Admin Console", Status: "ACTIVE", SignOnMode: "OPENID_CONNECT", AccessPolicyID: PolicyAdminAccess},
		{ID: "0oaDashboard0001", Name: "okta_enduser", Label: "Okta Dashboard", Status: "ACTIVE", SignOnMode: "OPENID_CONNECT", AccessPolicyID: PolicyDashAccess},
		{ID: "0oaSalesforce001", Name: "salesforce", Label: "Salesforce", Status: "ACTIVE", SignOnMode: "SAML_2_0", AccessPolicyID: PolicyAppDefault},
		oidc,
	}
	st.AdminConsole = &AdminConsoleSettings{SessionIdleTimeoutMinutes: 15, SessionMaxLifetimeMinutes: 720}

	st.Users = []*User{
		user("00uAlice00000001", "alice.admin@example.com", now, 2*day, 30*day, []Role{role("SUPER_ADMIN", "USER")}, factors("push", "webauthn")),
		user("00uBob0000000001", "bob.admin@example.com", now, 1*day, 60*day, []Role{role("ORG_ADMIN", "USER")}, factors("push")),
		user("00uCarol00000001", "carol.helpdesk@example.com", now, 3*day, 90*day, []Role{role("HELP_DESK_ADMIN", "GROUP")}, factors("push", "email")),
		user("00uSvcApi0000001", "svc-okta-reader@example.com", now, 1*day, 20*day, []Role{role("READ_ONLY_ADMIN", "USER")}, factors("token:software:totp")),
	}
	for i := 1; i <= 6; i++ {
		st.Users = append(st.Users, user(fmt.Sprintf("00uUser%09d", i), fmt.Sprintf("user%d@example.com", i), now, time.Duration(i)*day, 40*day, nil, factors("push")))
	}
	st.APITokens = []*APIToken{{ID: "00TSiemToken0001", Name: "SIEM integration", UserID: "00uSvcApi0000001", ClientName: "Okta API",
		Created: now.Add(-30 * day), LastUpdated: now.Add(-30 * day), TokenWindow: "P30D",
		Network: zoned("ZONE", []string{ZoneCorporate}, nil)}}
	st.IdPs = []*IdP{{ID: "0oaGoogleIdp0001", Name: "Google", Type: "GOOGLE", Status: "ACTIVE", Protocol: &IdPProtocol{Type: "OIDC"}}}
	st.LogStreams = []*LogStream{{ID: "0oxEventBridge01", Name: "SIEM EventBridge", Type: "aws_eventbridge", Status: "ACTIVE"}}
	hook := &EventHook{ID: "whoSiemHook00001", Name: "SIEM hook", Status: "ACTIVE"}
	hook.Events.Type, hook.Events.Items = "EVENT_TYPE", []string{"user.account.privilege.grant"}
	st.EventHooks = []*EventHook{hook}
	st.ThreatInsight = ThreatInsight{Action: "block", ExcludeZones: []string{}}
	st.Behaviors = []*Behavior{
		{ID: "abhNewCountry001", Name: "New Country", Type: "ANOMALOUS_LOCATION", Status: "ACTIVE"},
		{ID: "abhNewIP00000001", Name: "New IP", Type: "ANOMALOUS_IP", Status: "ACTIVE"},
	}
	st.DeviceAssurances = []*DeviceAssurance{{ID: DeviceAssuranceID, Name: "macOS managed", Platform: "MACOS"}}
	st.Brands = []*Brand{{ID: "bndDefault000001", Name: "oktaguard-sim", EmailRecipients: map[string]string{
		"NewSignOnNotification": "ALL_USERS", "PasswordChanged": "ALL_USERS", "AuthenticatorEnrolled": "ALL_USERS", "AuthenticatorReset": "ALL_USERS"}}}
	st.TrustedOrigins = []*TrustedOrigin{
		{ID: "tosPortal0000001", Name: "Portal", Origin: "https://portal.example.com", Status: "ACTIVE", Scopes: []OriginScope{{Type: "CORS"}, {Type: "REDIRECT"}}},
		{ID: "tosLocalDev00001", Name: "Local dev", Origin: "http://localhost:3000", Status: "ACTIVE", Scopes: []OriginScope{{Type: "CORS"}}},
	}
	st.OktaSupport = OktaSupport{Support: "DISABLED"}
	return st
}

// stig tightens the strong org to the STIG values and adds the DoD items.
func stig(now time.Time) *State {
	st := strong(now)
	pw := st.Policy("PASSWORD", "Default Policy")
	pw.Settings.Password.Complexity.MinLength = 15
	pw.Settings.Password.Age = PasswordAge{MaxAgeDays: 60, ExpireWarnDays: 7, MinAgeMinutes: 1440, HistoryCount: 5}
	pw.Settings.Password.Lockout.MaxAttempts = 3
	ov := st.Authenticator("okta_verify")
	ov.Settings = &AuthenticatorSettings{Compliance: &Compliance{Fips: "REQUIRED"}}
	st.Authenticators = append(st.Authenticators, &Authenticator{ID: "autSmartCard0001", Key: "smart_card_idp", Name: "Smart Card Authenticator", Type: "cert", Status: "ACTIVE"})
	idp := &IdP{ID: "0oaSmartCardIdp1", Name: "DoD CAC", Type: "X509", Status: "ACTIVE", Protocol: &IdPProtocol{Type: "MTLS"}}
	idp.Protocol.Credentials = &IdPCredentials{Trust: &IdPTrust{Issuer: "CN=DoD Root CA 3, OU=PKI, OU=DoD, O=U.S. Government, C=US", Kid: "45f3b1a4-dod-root-ca-3"}}
	st.IdPs = append(st.IdPs, idp)
	st.Brands[0].SignInPageContent = `<!DOCTYPE html><html><body><div class="dod-banner">` + DoDBanner + `</div><div id="okta-login-container"></div></body></html>`
	return st
}

// weak fails the three Secure Score recommendations: MFA, web session
// timeout and password requirements. Everything else is as in strong.
func weak(now time.Time) *State {
	st := strong(now)
	for _, r := range st.Policy("OKTA_SIGN_ON", "Default Policy").Rules {
		if r.Actions.Signon.Session != nil {
			r.Actions.Signon.Session = &SessionSettings{MaxSessionIdleMinutes: 120, MaxSessionLifetimeMinutes: 0, UsePersistentCookie: true}
		}
	}
	st.AdminConsole = &AdminConsoleSettings{SessionIdleTimeoutMinutes: 120, SessionMaxLifetimeMinutes: 1440}
	for _, p := range st.PoliciesOfType("ACCESS_POLICY") {
		for _, r := range p.Rules {
			if a := r.Actions.AppSignOn; a != nil && a.Access == "ALLOW" {
				a.VerificationMethod = &VerificationMethod{Type: "ASSURANCE", FactorMode: "1FA", ReauthenticateIn: "PT12H"}
			}
		}
	}
	pw := st.Policy("PASSWORD", "Default Policy").Settings.Password
	pw.Complexity = PasswordComplexity{MinLength: 8}
	pw.Age = PasswordAge{}
	pw.Lockout = PasswordLockout{}
	return st
}

// mixed keeps the strong defaults but adds higher-priority custom policies
// for contractors that are weak: a password policy and a global session
// policy.
func mixed(now time.Time) *State {
	st := strong(now)
	weakPw := passwordPolicy("00pPwContractors", "Contractors", 1, false, 8, 0, 0, 0, 0)
	weakPw.Conditions.People.Groups.Include = []string{"00gContractors01"}
	st.Policy("PASSWORD", "Default Policy").Priority = 2
	weakSignOn := &Policy{ID: "00pSignOnContrac", Name: "Contractors", Type: "OKTA_SIGN_ON", Status: "ACTIVE", Priority: 1,
		Conditions: &PolicyConditions{People: &PeopleCondition{Groups: &IncludeExclude{Include: []string{"00gContractors01"}}}}}
	weakSignOn.Rules = []*PolicyRule{SignonRule("0prSignOnContrac", "Contractor sessions", 1, 240, 1440, true)}
	st.Policy("OKTA_SIGN_ON", "Default Policy").Priority = 2
	st.Policies = append([]*Policy{weakPw, weakSignOn}, st.Policies...)
	return st
}

func build(profile string, now time.Time) (*State, error) {
	switch profile {
	case "strong", "":
		return strong(now), nil
	case "stig":
		return stig(now), nil
	case "weak":
		return weak(now), nil
	case "mixed":
		return mixed(now), nil
	case "classic":
		return classic(now), nil
	case "no-lifecycle":
		return noLifecycle(now), nil
	case "readonly-admin":
		return readonlyAdmin(now), nil
	case "oauth-logs-policies":
		return oauthLogsPolicies(now), nil
	}
	return nil, fmt.Errorf("orgsim: unknown org profile %q (known: %s)", profile, strings.Join(Profiles(), ", "))
}

// Snapshot returns the state as JSON (for debugging and golden tests of
// the shapes).
func (o *Org) Snapshot() ([]byte, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return json.MarshalIndent(o.st, "", "  ")
}
