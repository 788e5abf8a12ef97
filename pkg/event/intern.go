package event

// internTable holds strings that repeat in almost every event (keys of the
// free-form maps, enum values, common event types). Decoding returns the
// shared copy instead of allocating a new string. The table is built once
// at package init and only read afterwards, so it is safe for concurrent use.
var internTable = func() map[string]string {
	words := []string{
		// enum values
		"DEBUG", "INFO", "WARN", "ERROR",
		"SUCCESS", "FAILURE", "SKIPPED", "ALLOW", "DENY", "CHALLENGE", "UNKNOWN",
		"User", "PublicClientApp", "SystemPrincipal", "AppInstance", "AppUser", "UserGroup",
		"Policy", "PolicyRule", "Rule", "Token", "Session", "Factor",
		"WEB", "JOB", "V4", "V6", "Computer", "Mobile", "Unknown", "null",
		"POSITIVE", "NEGATIVE", "BAD_REQUEST", "LOW", "MEDIUM", "HIGH", "true", "false", "0",
		"FIREFOX", "CHROME", "SAFARI", "EDGE", "UNKNOWN", "Mac OS X", "Windows 10", "Windows", "Linux", "iOS", "Android",
		"OKTA_AUTHENTICATION_PROVIDER", "ACTIVE_DIRECTORY", "FEDERATION", "SOCIAL",
		"OKTA_CREDENTIAL_PROVIDER", "PASSWORD", "OTP", "SMS", "EMAIL", "ASSERTION", "IWA", "JWT", "OAUTH2",
		"INVALID_CREDENTIALS", "VERIFICATION_ERROR", "LOCKED_OUT", "system@okta.com", "Okta System",
		// debugData / detail keys
		"requestId", "requestUri", "url", "threatSuspected", "authnRequestId", "deviceFingerprint", "dtHash",
		"behaviors", "risk", "logOnlySecurityData", "tunnels", "factor", "grantType", "grantedScopes",
		"requestedScopes", "clientAuthType", "clientSecret", "responseTime", "promptingPolicyTypes",
		"oktaUserAgentExtended", "originalPrincipal", "signOnMode", "initiationType", "redirectUri",
		"requestApiTokenId", "id", "type", "alternateId", "displayName", "detailEntry",
		"anonymous", "operator", "level", "reasons",
		"New Geo-Location", "New Device", "New IP", "New State", "New Country", "Velocity", "New City",
		"Velocity Behavior",
		// common event types
		"user.session.start", "user.session.end", "user.authentication.sso", "user.authentication.verify",
		"user.authentication.auth_via_mfa", "user.authentication.auth_via_IDP", "user.authentication.authenticate",
		"policy.evaluate_sign_on", "user.account.lock", "system.push.send_factor_verify_push",
		"user.mfa.okta_verify.deny_push", "app.oauth2.signon", "user.session.access_admin_app",
		"user.account.update_password", "user.account.reset_password", "user.lifecycle.create",
		"user.lifecycle.deactivate", "group.user_membership.add", "group.user_membership.remove",
		"application.user_membership.add", "security.threat.detected", "user.mfa.factor.activate",
		"user.mfa.factor.deactivate", "user.mfa.factor.reset_all", "system.api_token.create",
		"core.user_auth.login_success", "core.user_auth.login_failed", "core.user_auth.logout_success",
		"core.user.factor.attempt_success", "core.user.factor.attempt_fail", "app.auth.sso",
		"United States", "Germany", "France", "United Kingdom", "Canada", "India", "Japan", "Australia",
		"Netherlands", "Ireland", "Brazil", "Spain", "Italy",
	}
	m := make(map[string]string, len(words))
	for _, w := range words {
		m[w] = w
	}
	return m
}()

// internIndex is internTable as a small hash table with a cheap hash, so
// that the common miss costs a few nanoseconds rather than a map lookup.
var internIndex = func() (t [internSlots][]string) {
	for w := range internTable {
		h := internHash([]byte(w))
		t[h] = append(t[h], w)
	}
	return t
}()

const internSlots = 1024

func internHash(b []byte) uint32 {
	n := len(b)
	return (uint32(n)*2654435761 ^ uint32(b[0])*40503 ^ uint32(b[n-1])*9973 ^ uint32(b[n/2])*31) % internSlots
}

// intern returns b as a string, sharing a common copy when one exists.
func intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) <= 40 {
		for _, s := range internIndex[internHash(b)] {
			if s == string(b) {
				return s
			}
		}
	}
	return string(b)
}
