package orgsim

import "time"

// The real-org profiles: orgs and principals that see only part of what
// the posture checks read, as new users meet them.

// classic is a Classic Engine org: no authentication (ACCESS_POLICY)
// policies (the type answers 400), no first-party app settings (404), no
// Authenticators or device assurance API (E0000015), apps without an
// authentication policy, and a Classic MFA enrollment policy (factors).
// Its sign-on policy requires a factor, so it is as strong as "strong".
func classic(now time.Time) *State {
	st := strong(now)
	st.Pipeline = "v1"
	var pols []*Policy
	for _, p := range st.Policies {
		if p.Type != "ACCESS_POLICY" {
			pols = append(pols, p)
		}
	}
	st.Policies = pols
	for _, a := range st.Apps {
		a.AccessPolicyID = ""
	}
	st.AdminConsole = nil
	st.Authenticators = nil
	st.DeviceAssurances = nil
	enroll := st.Policy("MFA_ENROLL", "Default Policy")
	enroll.Settings = &PolicySettings{Type: "FACTORS", Factors: map[string]EnrollSetting{
		"okta_otp": {Enroll: Enroll{Self: "REQUIRED"}}, "okta_push": {Enroll: Enroll{Self: "OPTIONAL"}},
		"fido_webauthn": {Enroll: Enroll{Self: "OPTIONAL"}}, "okta_sms": {Enroll: Enroll{Self: "NOT_ALLOWED"}},
		"okta_call": {Enroll: Enroll{Self: "NOT_ALLOWED"}}, "okta_question": {Enroll: Enroll{Self: "NOT_ALLOWED"}}}}
	st.UnsupportedPolicyTypes = []string{"ACCESS_POLICY"}
	st.DisabledFeatures = []string{"/api/v1/authenticators", "/api/v1/device-assurances"}
	return st
}

// noLifecycle is an Identity Engine org without lifecycle automation (the
// SKU): USER_LIFECYCLE policies answer 403 E0000015.
func noLifecycle(now time.Time) *State {
	st := strong(now)
	var pols []*Policy
	for _, p := range st.Policies {
		if p.Type != "USER_LIFECYCLE" {
			pols = append(pols, p)
		}
	}
	st.Policies = pols
	st.DisabledPolicyTypes = []string{"USER_LIFECYCLE"}
	return st
}

// readonlyAdmin is the strong org read with an API token whose admin
// role cannot read users, roles, API tokens or log streams (403 E0000006).
func readonlyAdmin(now time.Time) *State {
	st := strong(now)
	st.ForbiddenScopes = []string{"okta.users.read", "okta.roles.read", "okta.apiTokens.read", "okta.logStreams.read"}
	return st
}

// OAuthLogsPoliciesScopes are the only scopes the "oauth-logs-policies"
// profile's service app is granted.
var OAuthLogsPoliciesScopes = []string{"okta.logs.read", "okta.policies.read"}

// oauthLogsPolicies is the strong org read by an OAuth service app granted
// only okta.logs.read and okta.policies.read: every other management read
// answers 403 insufficient_scope.
func oauthLogsPolicies(now time.Time) *State {
	st := strong(now)
	for _, sc := range managementReadScopes {
		if !contains(OAuthLogsPoliciesScopes, sc) {
			st.DeniedScopes = append(st.DeniedScopes, sc)
		}
	}
	return st
}

// managementReadScopes are the read scopes RequiredScope names.
var managementReadScopes = []string{"okta.roles.read", "okta.users.read", "okta.groups.read", "okta.policies.read",
	"okta.authenticators.read", "okta.networkZones.read", "okta.apps.read", "okta.apiTokens.read", "okta.idps.read",
	"okta.logStreams.read", "okta.eventHooks.read", "okta.threatInsights.read", "okta.behaviors.read",
	"okta.deviceAssurance.read", "okta.templates.read", "okta.brands.read", "okta.trustedOrigins.read", "okta.orgs.read"}
