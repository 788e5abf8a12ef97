package posture

import "fmt"

// signonAllowRules yields every ACTIVE ALLOW rule of every ACTIVE global
// session policy.
func signonAllowRules(s *Snapshot, fn func(p Policy, r PolicyRule, a *SignonAction)) {
	for _, p := range s.ActivePolicies(PolicySignOn) {
		for _, r := range p.ActiveRules() {
			if r.Actions == nil || r.Actions.Signon == nil {
				continue
			}
			a := r.Actions.Signon
			if a.Access != "" && !eqFold(a.Access, "ALLOW") {
				continue
			}
			fn(p, r, a)
		}
	}
}

func sessionRuleCheck(e env, expected string, test func(a *SignonAction) (any, bool)) outcome {
	var o outcome
	signonAllowRules(e.s, func(p Policy, r PolicyRule, a *SignonAction) {
		obs, ok := test(a)
		o.findings = append(o.findings, finding(ruleRes(p, r), ok, obs, expected, r.Raw))
	})
	if len(o.findings) == 0 {
		return orgFinding(false, "no ACTIVE ALLOW rule in any ACTIVE global session policy", expected, nil)
	}
	return o
}

func sessionChecks() []Check {
	return []Check{
		{
			ID: "okta.session.idle_timeout", Title: "Global session idle timeout", Category: CatSession, Severity: Medium,
			Needs:       []string{ResPolicySignOn, ResRulesSignOn},
			Remediation: "Security > Global Session Policy: in every rule set 'Maximum Okta global session idle time' to the threshold or less.",
			References:  References{"stig": "V-273186", "secureScore": "Enable session timeout for web users", "howToHarden": "4.1"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("0 < maxSessionIdleMinutes ≤ %d", p.Params.SessionIdleMaxMinutes)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("0 < maxSessionIdleMinutes ≤ %d", e.p.SessionIdleMaxMinutes)
				return sessionRuleCheck(e, exp, func(a *SignonAction) (any, bool) {
					if a.Session == nil {
						return "no session settings", false
					}
					v := a.Session.MaxSessionIdleMinutes
					return v, v > 0 && v <= e.p.SessionIdleMaxMinutes
				})
			},
		},
		{
			ID: "okta.session.max_lifetime", Title: "Global session max lifetime", Category: CatSession, Severity: Medium,
			Needs:       []string{ResPolicySignOn, ResRulesSignOn},
			Remediation: "Security > Global Session Policy: in every rule set 'Maximum Okta global session lifetime' (never unlimited) to the threshold or less.",
			References:  References{"stig": "V-273203", "healthInsight": "Session lifetime (≤ 2 h)", "secureScore": "Enable session timeout for web users", "howToHarden": "4.1"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("0 < maxSessionLifetimeMinutes ≤ %d", p.Params.SessionLifetimeMaxMinutes)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("0 < maxSessionLifetimeMinutes ≤ %d", e.p.SessionLifetimeMaxMinutes)
				return sessionRuleCheck(e, exp, func(a *SignonAction) (any, bool) {
					if a.Session == nil {
						return "no session settings", false
					}
					v := a.Session.MaxSessionLifetimeMinutes
					return v, v > 0 && v <= e.p.SessionLifetimeMaxMinutes
				})
			},
		},
		{
			ID: "okta.session.persistent_cookie_off", Title: "No persistent global session cookie", Category: CatSession, Severity: Medium,
			Needs:       []string{ResPolicySignOn, ResRulesSignOn},
			Remediation: "Security > Global Session Policy: in every rule set 'Okta global session cookies persist across browser sessions' to Disabled.",
			References:  References{"stig": "V-273206", "howToHarden": "4.2"},
			Expected:    fixed("usePersistentCookie = false"),
			eval: func(e env) outcome {
				return sessionRuleCheck(e, "usePersistentCookie = false", func(a *SignonAction) (any, bool) {
					if a.Session == nil {
						return false, true
					}
					return a.Session.UsePersistentCookie, !a.Session.UsePersistentCookie
				})
			},
		},
		{
			ID: "okta.session.custom_rule_first", Title: "Default policy evaluated by a custom rule", Category: CatSession, Severity: Low,
			Needs: []string{ResPolicySignOn, ResRulesSignOn}, NAWhen: "no Default global session policy exists",
			Remediation: "Add a custom rule to the Default global session policy at priority 1 carrying the hardened session settings; the built-in Default Rule cannot be edited to all values.",
			References:  References{"stig": "precondition of V-273186/V-273203/V-273206"},
			Expected:    fixed("priority-1 ACTIVE rule of the Default Policy is not the built-in Default Rule"),
			eval: func(e env) outcome {
				const exp = "priority-1 ACTIVE rule of the Default Policy is not the built-in Default Rule"
				for _, p := range e.s.Policies[PolicySignOn] {
					if !p.IsDefault() {
						continue
					}
					rules := p.ActiveRules()
					if len(rules) == 0 {
						return outcome{findings: []Finding{finding(policyRes(p), false, "no ACTIVE rule", exp, p.Raw)}}
					}
					r := rules[0]
					builtin := r.System || r.Name == "Default Rule"
					return outcome{findings: []Finding{finding(policyRes(p), !builtin, fmt.Sprintf("priority %d rule %q (system=%v)", r.Priority, r.Name, r.System), exp, r.Raw)}}
				}
				return naOutcome("no Default global session policy found", exp)
			},
		},
		{
			ID: "okta.session.network_zone_restricted", Title: "Global session limited by IP zone", Category: CatSession, Severity: Medium,
			Needs: []string{ResPolicySignOn, ResRulesSignOn}, AnySuffices: true,
			Remediation: "Add a global session policy rule whose 'IF user's IP is' condition uses network zones (include trusted zones, or exclude untrusted ones) and denies or steps up outside them.",
			References:  References{"stig": "V-279691", "howToHarden": "2.1"},
			Expected:    fixed("≥ 1 ACTIVE rule with connection ZONE and a non-empty include/exclude"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE rule with connection ZONE and a non-empty include/exclude"
				var zoned []string
				for _, p := range e.s.ActivePolicies(PolicySignOn) {
					for _, r := range p.ActiveRules() {
						if r.Conditions != nil && r.Conditions.Network.Zoned() {
							zoned = append(zoned, ruleRes(p, r))
						}
					}
				}
				return orgFinding(len(zoned) > 0, fmt.Sprintf("%d zone-limited rule(s)", len(zoned)), exp, map[string]any{"rules": zoned})
			},
		},
		{
			ID: "okta.session.mfa_at_signon", Title: "MFA required at Okta sign-on", Category: CatSession, Severity: High,
			Needs: []string{ResPolicySignOn, ResRulesSignOn}, Engine: EngineClassic, NAWhen: "the engine is unknown and the org has ACCESS_POLICY policies (Identity Engine)",
			Remediation: "Classic Engine: in every ALLOW rule of every sign-on policy require a secondary factor (Prompt for factor). Identity Engine: enforce MFA in authentication policies (see okta.apps.auth_policy_mfa).",
			References:  References{"secureScore": "Enable multi-factor authentication (MFA)", "healthInsight": "MFA requirements / authentication frequency"},
			Expected:    fixed("Classic: requireFactor = true on every ACTIVE ALLOW rule; OIE: not applicable"),
			eval: func(e env) outcome {
				if e.s.IsOIE() {
					return naOutcome("Identity Engine org: MFA is enforced by authentication policies", "Classic: requireFactor = true on every ALLOW rule")
				}
				return sessionRuleCheck(e, "requireFactor = true", func(a *SignonAction) (any, bool) {
					return map[string]any{"requireFactor": a.RequireFactor, "factorPromptMode": a.FactorPromptMode, "factorLifetime": a.FactorLifetime}, a.RequireFactor
				})
			},
		},
	}
}
