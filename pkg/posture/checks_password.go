package posture

import (
	"fmt"
	"strings"
)

// passwordPolicyCheck gives one finding per ACTIVE PASSWORD policy.
func passwordPolicyCheck(e env, expected string, test func(ps *PasswordSettings, p Policy) (any, Status)) outcome {
	var o outcome
	for _, p := range e.s.ActivePolicies(PolicyPassword) {
		if p.Settings == nil || p.Settings.Password == nil {
			o.findings = append(o.findings, errFinding(policyRes(p), "settings.password not returned", expected))
			continue
		}
		obs, st := test(p.Settings.Password, p)
		o.findings = append(o.findings, Finding{Resource: policyRes(p), Status: st, Observed: obs, Expected: expected, Evidence: evidence(p.Raw)})
	}
	if len(o.findings) == 0 {
		return orgFinding(false, "no ACTIVE password policy", expected, nil)
	}
	return o
}

func passFail(ok bool) Status {
	if ok {
		return Pass
	}
	return Fail
}

// atLeast builds a "field ≥ threshold" password check.
func atLeast(id, title string, sev Severity, field string, refs References, remediation string,
	param func(Params) int, get func(*PasswordSettings) int) Check {
	return Check{
		ID: id, Title: title, Category: CatPassword, Severity: sev, Needs: []string{ResPolicyPassword},
		Remediation: remediation, References: refs,
		Expected: func(p Profile) string { return fmt.Sprintf("%s ≥ %d", field, param(p.Params)) },
		eval: func(e env) outcome {
			min := param(e.p)
			return passwordPolicyCheck(e, fmt.Sprintf("%s ≥ %d", field, min), func(ps *PasswordSettings, _ Policy) (any, Status) {
				v := get(ps)
				return v, passFail(v >= min)
			})
		},
	}
}

func passwordChecks() []Check {
	ss := "Enhance password requirements"
	pwRem := func(what string) string {
		return "Security > Authenticators > Password: in every password policy " + what + "."
	}
	return []Check{
		atLeast("okta.password.min_length", "Minimum length", Medium, "complexity.minLength",
			References{"stig": "V-273195", "healthInsight": "Password length", "secureScore": ss, "howToHarden": "1.4"},
			pwRem("set the minimum length to the threshold or more"),
			func(p Params) int { return p.PasswordMinLength }, func(ps *PasswordSettings) int { return ps.Complexity.MinLength }),
		atLeast("okta.password.require_upper", "Uppercase", Medium, "complexity.minUpperCase",
			References{"stig": "V-273196", "secureScore": ss}, pwRem("require an upper-case letter"),
			func(p Params) int { return p.PasswordMinUpper }, func(ps *PasswordSettings) int { return ps.Complexity.MinUpperCase }),
		atLeast("okta.password.require_lower", "Lowercase", Medium, "complexity.minLowerCase",
			References{"stig": "V-273197", "secureScore": ss}, pwRem("require a lower-case letter"),
			func(p Params) int { return p.PasswordMinLower }, func(ps *PasswordSettings) int { return ps.Complexity.MinLowerCase }),
		atLeast("okta.password.require_number", "Digit", Medium, "complexity.minNumber",
			References{"stig": "V-273198", "secureScore": ss}, pwRem("require a number"),
			func(p Params) int { return p.PasswordMinNumber }, func(ps *PasswordSettings) int { return ps.Complexity.MinNumber }),
		atLeast("okta.password.require_symbol", "Symbol", Medium, "complexity.minSymbol",
			References{"stig": "V-273199", "secureScore": ss}, pwRem("require a symbol"),
			func(p Params) int { return p.PasswordMinSymbol }, func(ps *PasswordSettings) int { return ps.Complexity.MinSymbol }),
		atLeast("okta.password.min_age", "Minimum age", Low, "age.minAgeMinutes",
			References{"stig": "V-273200", "healthInsight": "Minimum password age"}, pwRem("set 'Minimum password age' to the threshold or more"),
			func(p Params) int { return p.PasswordMinAgeMinutes }, func(ps *PasswordSettings) int { return ps.Age.MinAgeMinutes }),
		{
			ID: "okta.password.max_age", Title: "Maximum age", Category: CatPassword, Severity: Low, Needs: []string{ResPolicyPassword},
			NAWhen:      "the profile sets no maximum age (passwordMaxAgeDays 0, NIST 800-63B)",
			Remediation: pwRem("set 'Password expires after' between 1 day and the threshold"),
			References:  References{"stig": "V-273201", "secureScore": ss},
			Expected: func(p Profile) string {
				if p.Params.PasswordMaxAgeDays == 0 {
					return "not applicable (no forced rotation, NIST 800-63B)"
				}
				return fmt.Sprintf("1 ≤ age.maxAgeDays ≤ %d", p.Params.PasswordMaxAgeDays)
			},
			eval: func(e env) outcome {
				if e.p.PasswordMaxAgeDays == 0 {
					return naOutcome("profile sets no maximum password age (NIST 800-63B)", "n/a")
				}
				exp := fmt.Sprintf("1 ≤ age.maxAgeDays ≤ %d", e.p.PasswordMaxAgeDays)
				return passwordPolicyCheck(e, exp, func(ps *PasswordSettings, _ Policy) (any, Status) {
					v := ps.Age.MaxAgeDays
					return v, passFail(v >= 1 && v <= e.p.PasswordMaxAgeDays)
				})
			},
		},
		atLeast("okta.password.history", "History", Medium, "age.historyCount",
			References{"stig": "V-273209", "healthInsight": "Password history (24)"}, pwRem("enforce a password history of the threshold or more"),
			func(p Params) int { return p.PasswordHistory }, func(ps *PasswordSettings) int { return ps.Age.HistoryCount }),
		{
			ID: "okta.password.common_check", Title: "Common-password check", Category: CatPassword, Severity: Medium, Needs: []string{ResPolicyPassword},
			Remediation: pwRem("enable 'Restrict use of common passwords'"),
			References:  References{"stig": "V-273208", "healthInsight": "Common password check"},
			Expected:    fixed("complexity.dictionary.common.exclude = true"),
			eval: func(e env) outcome {
				return passwordPolicyCheck(e, "complexity.dictionary.common.exclude = true", func(ps *PasswordSettings, _ Policy) (any, Status) {
					v := ps.Complexity.Dictionary.Common.Exclude
					return v, passFail(v)
				})
			},
		},
		{
			ID: "okta.password.lockout", Title: "Account lockout", Category: CatPassword, Severity: Medium, Needs: []string{ResPolicyPassword},
			Remediation: pwRem("enable 'Lock out user after N unsuccessful attempts' with N at most the threshold"),
			References:  References{"stig": "V-273189", "healthInsight": "Account lockout", "howToHarden": "1.5"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("1 ≤ lockout.maxAttempts ≤ %d", p.Params.LockoutMaxAttempts)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("1 ≤ lockout.maxAttempts ≤ %d", e.p.LockoutMaxAttempts)
				return passwordPolicyCheck(e, exp, func(ps *PasswordSettings, _ Policy) (any, Status) {
					v := ps.Lockout.MaxAttempts
					return map[string]int{"maxAttempts": v, "autoUnlockMinutes": ps.Lockout.AutoUnlockMinutes}, passFail(v >= 1 && v <= e.p.LockoutMaxAttempts)
				})
			},
		},
		{
			ID: "okta.password.recovery_hardened", Title: "Weak self-service recovery off", Category: CatPassword, Severity: Medium, Needs: []string{ResPolicyPassword, ResRulesPassword},
			Remediation: pwRem("turn off security-question, SMS and voice call recovery (use email or Okta Verify)"),
			References:  References{"howToHarden": "1.10"},
			Expected:    fixed("recovery_question, okta_sms, okta_call recovery INACTIVE"),
			eval: func(e env) outcome {
				return passwordPolicyCheck(e, "recovery_question, okta_sms, okta_call INACTIVE", func(_ *PasswordSettings, p Policy) (any, Status) {
					var on []string
					if p.Settings.Recovery != nil {
						for _, k := range []string{"recovery_question", "okta_sms", "okta_call"} {
							if f, ok := p.Settings.Recovery.Factors[k]; ok && active(f.Status) {
								on = append(on, k)
							}
						}
					}
					if len(on) == 0 {
						return "none active", Pass
					}
					return strings.Join(on, ", ") + " active", Fail
				})
			},
		},
	}
}
