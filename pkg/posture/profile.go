package posture

import (
	"fmt"
	"sort"
	"strings"
)

// Params are every threshold the checks use. Zero-valued limits that would
// make a check meaningless are documented per field.
type Params struct {
	SessionIdleMaxMinutes          int `json:"sessionIdleMaxMinutes"`          // okta.session.idle_timeout
	SessionLifetimeMaxMinutes      int `json:"sessionLifetimeMaxMinutes"`      // okta.session.max_lifetime
	AdminConsoleIdleMaxMinutes     int `json:"adminConsoleIdleMaxMinutes"`     // okta.admin_console.idle_timeout
	AdminConsoleLifetimeMaxMinutes int `json:"adminConsoleLifetimeMaxMinutes"` // okta.admin_console.max_lifetime

	PasswordMinLength     int `json:"passwordMinLength"`
	PasswordMinUpper      int `json:"passwordMinUpper"`
	PasswordMinLower      int `json:"passwordMinLower"`
	PasswordMinNumber     int `json:"passwordMinNumber"`
	PasswordMinSymbol     int `json:"passwordMinSymbol"`
	PasswordMinAgeMinutes int `json:"passwordMinAgeMinutes"`
	// PasswordMaxAgeDays is the longest allowed expiry; 0 makes
	// okta.password.max_age not_applicable (NIST 800-63B: no forced rotation).
	PasswordMaxAgeDays       int `json:"passwordMaxAgeDays"`
	PasswordHistory          int `json:"passwordHistory"`
	LockoutMaxAttempts       int `json:"lockoutMaxAttempts"`
	UserInactivityMaxDays    int `json:"userInactivityMaxDays"`     // okta.users.inactivity_automation
	DormantUserDays          int `json:"dormantUserDays"`           // okta.users.dormant
	DormantAdminDays         int `json:"dormantAdminDays"`          // okta.admins.dormant
	AdminMinFactors          int `json:"adminMinFactors"`           // okta.admins.mfa
	AdminPasswordMaxAgeDays  int `json:"adminPasswordMaxAgeDays"`   // okta.admins.stale_password
	SuperAdminMax            int `json:"superAdminMax"`             // okta.admins.super_admin_count
	SuperAdminMaxPercent     int `json:"superAdminMaxPercent"`      // okta.admins.super_admin_count
	PrivilegedAdminMax       int `json:"privilegedAdminMax"`        // okta.admins.privileged_count
	TokenWindowMaxDays       int `json:"tokenWindowMaxDays"`        // okta.api_tokens.hygiene
	TokenMaxAgeDays          int `json:"tokenMaxAgeDays"`           // okta.api_tokens.hygiene
	SupportAccessMaxHours    int `json:"supportAccessMaxHours"`     // okta.org.support_access
	LogIngestionMaxLagMinute int `json:"logIngestionMaxLagMinutes"` // okta.logging.log_offload
	InactiveAppDays          int `json:"inactiveAppDays"`           // okta.apps.inactive_review
	MFACoverageMinPercent    int `json:"mfaCoverageMinPercent"`     // okta.users.mfa_coverage
}

// Profile is a named set of thresholds. DoD marks the DoD-only checks
// (smart card, FIPS, DoD CA, consent banner) as applicable.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	DoD         bool   `json:"dod"`
	Params      Params `json:"params"`
}

// DefaultProfile is the profile used when none is configured.
const DefaultProfile = "baseline"

func baselineParams() Params {
	return Params{
		SessionIdleMaxMinutes:          15,
		SessionLifetimeMaxMinutes:      120,
		AdminConsoleIdleMaxMinutes:     15,
		AdminConsoleLifetimeMaxMinutes: 720,
		PasswordMinLength:              12,
		PasswordMinUpper:               1,
		PasswordMinLower:               1,
		PasswordMinNumber:              1,
		PasswordMinSymbol:              1,
		PasswordMinAgeMinutes:          60,
		PasswordMaxAgeDays:             90,
		PasswordHistory:                24,
		LockoutMaxAttempts:             10,
		UserInactivityMaxDays:          35,
		DormantUserDays:                90,
		DormantAdminDays:               90,
		AdminMinFactors:                1,
		AdminPasswordMaxAgeDays:        180,
		SuperAdminMax:                  5,
		SuperAdminMaxPercent:           50,
		PrivilegedAdminMax:             25,
		TokenWindowMaxDays:             30,
		TokenMaxAgeDays:                365,
		SupportAccessMaxHours:          8,
		LogIngestionMaxLagMinute:       15,
		InactiveAppDays:                90,
		MFACoverageMinPercent:          100,
	}
}

// Profiles returns the built-in profiles: baseline (HealthInsight / Secure
// Score values) and stig (DISA Okta IDaaS STIG V1R2 values, DoD checks on).
func Profiles() []Profile {
	b := baselineParams()
	s := b
	s.SessionLifetimeMaxMinutes = 1080
	s.PasswordMinLength = 15
	s.PasswordMinAgeMinutes = 1440
	s.PasswordMaxAgeDays = 60
	s.PasswordHistory = 5
	s.LockoutMaxAttempts = 3
	s.DormantUserDays = 35
	s.DormantAdminDays = 35
	return []Profile{
		{Name: "baseline", Description: "Okta HealthInsight and Microsoft Secure Score recommendations (default)", Params: b},
		{Name: "stig", Description: "DISA Okta IDaaS STIG V1R2 values; DoD-only checks applicable", DoD: true, Params: s},
	}
}

// ProfileByName returns a built-in profile; "" means the default.
func ProfileByName(name string) (Profile, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" {
		n = DefaultProfile
	}
	var names []string
	for _, p := range Profiles() {
		if p.Name == n {
			return p, nil
		}
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return Profile{}, fmt.Errorf("posture: unknown profile %q (known: %s)", name, strings.Join(names, ", "))
}
