package posture

import (
	"encoding/json"
	"fmt"
	"strings"
)

func eqFold(a, b string) bool { return strings.EqualFold(a, b) }

// firstPartyNA documents when a first-party app check does not apply.
const firstPartyNA = "the app is not in the org, has no authentication policy, or its policy has no ACTIVE ALLOW rule"

// firstPartyPolicyNames are the names Okta gives the authentication
// policies of its first-party apps; they identify the policy when the app
// list cannot be read (okta.apps.read missing).
var firstPartyPolicyNames = map[string]string{"saasure": "Okta Admin Console", "okta_enduser": "Okta Dashboard"}

// appPolicy resolves a first-party app's authentication policy. na
// non-empty means not applicable; errMsg non-empty means the policy could
// not be found in the snapshot. Without the app list it falls back to the
// policy Okta names after the app (via says so).
func appPolicy(s *Snapshot, appName string) (app App, pol Policy, na, errMsg, via string) {
	if s.Err(ResApps) != nil {
		name := firstPartyPolicyNames[appName]
		for _, p := range s.Policies[PolicyAccess] {
			if p.Name == name {
				return app, p, "", "", fmt.Sprintf("identified by its name %q (the app list is unreadable)", name)
			}
		}
		return app, pol, "", fmt.Sprintf("the app list is unreadable (%s) and no authentication policy is named %q", s.Err(ResApps), name), ""
	}
	app, found := s.AppByName(appName)
	if !found {
		return app, pol, fmt.Sprintf("app %q not present", appName), "", ""
	}
	id := app.AccessPolicyID()
	if id == "" {
		return app, pol, fmt.Sprintf("app %q has no authentication policy (Classic Engine)", appName), "", ""
	}
	pol, found = s.PolicyByID(id)
	if !found {
		return app, pol, "", fmt.Sprintf("authentication policy %s of app %q not in the snapshot", id, appName), ""
	}
	return app, pol, "", "", ""
}

func appSignOn(r PolicyRule) *AppSignOnAction {
	if r.Actions == nil {
		return nil
	}
	return r.Actions.AppSignOn
}

func isAllow(a *AppSignOnAction) bool { return a != nil && eqFold(a.Access, "ALLOW") }

// chainDepth counts the steps of an AUTH_METHOD_CHAIN chain.
func chainDepth(raw json.RawMessage) int {
	var c struct {
		Next []json.RawMessage `json:"next"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return 1
	}
	max := 0
	for _, n := range c.Next {
		if d := chainDepth(n); d > max {
			max = d
		}
	}
	return 1 + max
}

// twoFactor reports whether a verification method demands two factors.
func twoFactor(vm *VerificationMethod) (string, bool) {
	if vm == nil {
		return "no verificationMethod", false
	}
	if eqFold(vm.Type, "AUTH_METHOD_CHAIN") {
		min := 0
		for i, c := range vm.Chains {
			if d := chainDepth(c); i == 0 || d < min {
				min = d
			}
		}
		return fmt.Sprintf("AUTH_METHOD_CHAIN, shortest chain %d step(s)", min), min >= 2
	}
	if vm.FactorMode == "" {
		return vm.Type + " without factorMode", false
	}
	return "factorMode " + vm.FactorMode, eqFold(vm.FactorMode, "2FA")
}

func phishingResistant(vm *VerificationMethod) (string, bool) {
	if vm == nil {
		return "no verificationMethod", false
	}
	for _, c := range vm.Constraints {
		if c.Possession != nil && eqFold(c.Possession.PhishingResistant, "REQUIRED") {
			return "possession.phishingResistant REQUIRED", true
		}
	}
	return "phishing resistance not required", false
}

// firstPartyRuleCheck evaluates every ACTIVE ALLOW rule of a first-party
// app's authentication policy.
func firstPartyRuleCheck(e env, appName, expected string, test func(r PolicyRule, a *AppSignOnAction) (any, bool)) outcome {
	_, pol, na, errMsg, via := appPolicy(e.s, appName)
	if na != "" {
		return naOutcome(na, expected)
	}
	if errMsg != "" {
		return outcome{findings: []Finding{errFinding("app "+appName, errMsg, expected)}}
	}
	if fe := e.s.ItemErr(ResRulesAccess, pol.ID); fe != nil {
		return outcome{findings: []Finding{errFinding(policyRes(pol), fe.String(), expected)}}
	}
	var o outcome
	for _, r := range pol.ActiveRules() {
		a := appSignOn(r)
		if !isAllow(a) {
			continue
		}
		obs, ok := test(r, a)
		if via != "" {
			obs = fmt.Sprintf("%v; policy %s", obs, via)
		}
		o.findings = append(o.findings, finding(ruleRes(pol, r), ok, obs, expected, r.Raw))
	}
	if len(o.findings) == 0 {
		return naOutcome("policy "+pol.Name+" has no ACTIVE ALLOW rule (all access denied)", expected)
	}
	return o
}

func appPolicyChecks() []Check {
	mfaTest := func(r PolicyRule, a *AppSignOnAction) (any, bool) { return twoFactor(a.VerificationMethod) }
	prTest := func(r PolicyRule, a *AppSignOnAction) (any, bool) { return phishingResistant(a.VerificationMethod) }
	return []Check{
		{
			ID: "okta.admin_console.idle_timeout", Title: "Admin Console idle timeout", Category: CatAppPolicies, Severity: Medium,
			Needs: []string{ResAdminConsole}, Engine: EngineOIE,
			Remediation: "Applications > Okta Admin Console > Sign On: set 'Maximum app session idle time' to the threshold or less.",
			References:  References{"stig": "V-273187", "howToHarden": "4.3"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("0 < sessionIdleTimeoutMinutes ≤ %d", p.Params.AdminConsoleIdleMaxMinutes)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("0 < sessionIdleTimeoutMinutes ≤ %d", e.p.AdminConsoleIdleMaxMinutes)
				a := e.s.AdminConsoleSettings
				if a == nil {
					return naOutcome("Admin Console settings not available (Classic Engine org)", exp)
				}
				v := a.SessionIdleTimeoutMinutes
				return outcome{findings: []Finding{finding("app saasure (Okta Admin Console)", v > 0 && v <= e.p.AdminConsoleIdleMaxMinutes, v, exp, a.Raw)}}
			},
		},
		{
			ID: "okta.admin_console.max_lifetime", Title: "Admin Console max session lifetime", Category: CatAppPolicies, Severity: Low,
			Needs: []string{ResAdminConsole}, Engine: EngineOIE,
			Remediation: "Applications > Okta Admin Console > Sign On: set 'Maximum app session lifetime' to the threshold or less.",
			References:  References{"howToHarden": "4.3"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("0 < sessionMaxLifetimeMinutes ≤ %d", p.Params.AdminConsoleLifetimeMaxMinutes)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("0 < sessionMaxLifetimeMinutes ≤ %d", e.p.AdminConsoleLifetimeMaxMinutes)
				a := e.s.AdminConsoleSettings
				if a == nil {
					return naOutcome("Admin Console settings not available (Classic Engine org)", exp)
				}
				v := a.SessionMaxLifetimeMinutes
				return outcome{findings: []Finding{finding("app saasure (Okta Admin Console)", v > 0 && v <= e.p.AdminConsoleLifetimeMaxMinutes, v, exp, a.Raw)}}
			},
		},
		{
			ID: "okta.admin_console.mfa", Title: "Admin Console requires 2 factors", Category: CatAppPolicies, Severity: Critical,
			Needs: []string{ResPolicyAccess, ResRulesAccess}, Inputs: []string{ResApps}, Engine: EngineOIE, OwnItemErrors: true, NAWhen: firstPartyNA,
			Remediation: "Security > Authentication Policies > Okta Admin Console: make every ALLOW rule require 'Possession factor + another factor' (2FA).",
			References:  References{"stig": "V-273193 (CAT I)", "healthInsight": "MFA for admins (Critical)", "secureScore": "Enable multi-factor authentication (MFA)", "howToHarden": "1.1"},
			Expected:    fixed("every ACTIVE ALLOW rule: factorMode 2FA (or an AUTH_METHOD_CHAIN of ≥ 2 steps)"),
			eval: func(e env) outcome {
				return firstPartyRuleCheck(e, "saasure", "factorMode 2FA", mfaTest)
			},
		},
		{
			ID: "okta.admin_console.phishing_resistant", Title: "Admin Console phishing-resistant", Category: CatAppPolicies, Severity: High,
			Needs: []string{ResPolicyAccess, ResRulesAccess}, Inputs: []string{ResApps}, Engine: EngineOIE, OwnItemErrors: true, NAWhen: firstPartyNA,
			Remediation: "Security > Authentication Policies > Okta Admin Console: in every ALLOW rule require a phishing-resistant possession factor (FastPass, WebAuthn/FIDO2, PIV).",
			References:  References{"stig": "V-273191", "howToHarden": "1.1"},
			Expected:    fixed("every ACTIVE ALLOW rule: possession.phishingResistant REQUIRED"),
			eval: func(e env) outcome {
				return firstPartyRuleCheck(e, "saasure", "possession.phishingResistant REQUIRED", prTest)
			},
		},
		{
			ID: "okta.dashboard.mfa", Title: "Dashboard requires 2 factors", Category: CatAppPolicies, Severity: High,
			Needs: []string{ResPolicyAccess, ResRulesAccess}, Inputs: []string{ResApps}, Engine: EngineOIE, OwnItemErrors: true, NAWhen: firstPartyNA,
			Remediation: "Security > Authentication Policies > Okta Dashboard: make every ALLOW rule require two factors.",
			References:  References{"stig": "V-273194 (CAT I)", "secureScore": "Enable multi-factor authentication (MFA)"},
			Expected:    fixed("every ACTIVE ALLOW rule: factorMode 2FA"),
			eval: func(e env) outcome {
				return firstPartyRuleCheck(e, "okta_enduser", "factorMode 2FA", mfaTest)
			},
		},
		{
			ID: "okta.dashboard.phishing_resistant", Title: "Dashboard phishing-resistant", Category: CatAppPolicies, Severity: Medium,
			Needs: []string{ResPolicyAccess, ResRulesAccess}, Inputs: []string{ResApps}, Engine: EngineOIE, OwnItemErrors: true, NAWhen: firstPartyNA,
			Remediation: "Security > Authentication Policies > Okta Dashboard: require a phishing-resistant possession factor in every ALLOW rule.",
			References:  References{"stig": "V-273190"},
			Expected:    fixed("every ACTIVE ALLOW rule: possession.phishingResistant REQUIRED"),
			eval: func(e env) outcome {
				return firstPartyRuleCheck(e, "okta_enduser", "possession.phishingResistant REQUIRED", prTest)
			},
		},
		{
			ID: "okta.apps.auth_policy_mfa", Title: "No app policy allows single-factor access", Category: CatAppPolicies, Severity: High,
			Needs: []string{ResPolicyAccess, ResRulesAccess}, Engine: EngineOIE, NAWhen: "no ACTIVE authentication policy has an ALLOW rule",
			Remediation: "Security > Authentication Policies: change every ALLOW rule with 'Any 1 factor type' to two factors, or limit it to a network zone or to devices passing a device assurance policy (including the catch-all rule of the default policy).",
			References:  References{"secureScore": "Enable multi-factor authentication (MFA)", "howToHarden": "1.9"},
			Expected:    fixed("no ACTIVE ALLOW rule with factorMode 1FA unless limited by a network zone or device assurance"),
			eval: func(e env) outcome {
				const exp = "not 1FA, or limited by a network zone / device assurance"
				var o outcome
				for _, p := range e.s.ActivePolicies(PolicyAccess) {
					for _, r := range p.ActiveRules() {
						a := appSignOn(r)
						if !isAllow(a) {
							continue
						}
						obs, twoFA := twoFactor(a.VerificationMethod)
						limited := r.Conditions != nil && (r.Conditions.Network.Zoned() ||
							(r.Conditions.Device != nil && r.Conditions.Device.Assurance != nil && len(r.Conditions.Device.Assurance.Include) > 0))
						if !twoFA && limited {
							obs += " (limited by zone/device assurance)"
						}
						o.findings = append(o.findings, finding(ruleRes(p, r), twoFA || limited, obs, exp, r.Raw))
					}
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE authentication policy with an ALLOW rule (Classic Engine org?)", exp)
				}
				return o
			},
		},
		{
			ID: "okta.apps.auth_policy_network_zone", Title: "Each app policy uses network zones", Category: CatAppPolicies, Severity: Medium,
			Needs: []string{ResApps, ResPolicyAccess, ResRulesAccess}, Engine: EngineOIE, NAWhen: "no ACTIVE app has an authentication policy",
			Remediation: "Give each app's authentication policy at least one rule with a network zone condition (e.g. deny or step up outside corporate zones).",
			References:  References{"stig": "V-279693"},
			Expected:    fixed("≥ 1 ACTIVE rule with a ZONE condition in each ACTIVE app's policy"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE rule with a ZONE condition"
				var o outcome
				for _, a := range e.s.Apps {
					if !active(a.Status) || a.AccessPolicyID() == "" {
						continue
					}
					p, ok := e.s.PolicyByID(a.AccessPolicyID())
					if !ok {
						o.findings = append(o.findings, errFinding(appRes(a), "policy "+a.AccessPolicyID()+" not in the snapshot", exp))
						continue
					}
					n := 0
					for _, r := range p.ActiveRules() {
						if r.Conditions != nil && r.Conditions.Network.Zoned() {
							n++
						}
					}
					o.findings = append(o.findings, finding(appRes(a), n > 0, fmt.Sprintf("policy %q: %d zoned rule(s)", p.Name, n), exp, map[string]string{"policyId": p.ID}))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE app with an authentication policy", exp)
				}
				return o
			},
		},
		{
			ID: "okta.apps.risk_based_mfa", Title: "Step-up on medium/high risk", Category: CatAppPolicies, Severity: Medium,
			Needs: []string{ResPolicySignOn, ResRulesSignOn}, Optional: []string{ResPolicyAccess, ResRulesAccess}, AnySuffices: true,
			Remediation: "Add a rule (authentication policy or global session policy) conditioned on risk MEDIUM or HIGH that denies access or requires two factors.",
			References:  References{"healthInsight": "Risk scoring / MFA requirements"},
			Expected:    fixed("≥ 1 ACTIVE rule on risk MEDIUM/HIGH that denies or requires 2 factors"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE rule on risk MEDIUM/HIGH that denies or requires 2 factors"
				var hits []string
				riskOK := func(r PolicyRule) bool {
					return r.Conditions != nil && r.Conditions.RiskScore != nil &&
						(eqFold(r.Conditions.RiskScore.Level, "MEDIUM") || eqFold(r.Conditions.RiskScore.Level, "HIGH"))
				}
				for _, p := range e.s.ActivePolicies(PolicyAccess) {
					for _, r := range p.ActiveRules() {
						a := appSignOn(r)
						if !riskOK(r) || a == nil {
							continue
						}
						_, twoFA := twoFactor(a.VerificationMethod)
						if eqFold(a.Access, "DENY") || twoFA {
							hits = append(hits, ruleRes(p, r))
						}
					}
				}
				for _, p := range e.s.ActivePolicies(PolicySignOn) {
					for _, r := range p.ActiveRules() {
						if !riskOK(r) || r.Actions == nil || r.Actions.Signon == nil {
							continue
						}
						if eqFold(r.Actions.Signon.Access, "DENY") || r.Actions.Signon.RequireFactor {
							hits = append(hits, ruleRes(p, r))
						}
					}
				}
				return orgFinding(len(hits) > 0, fmt.Sprintf("%d risk-based rule(s)", len(hits)), exp, map[string]any{"rules": hits})
			},
		},
		{
			ID: "okta.apps.device_assurance", Title: "Device assurance in use", Category: CatAppPolicies, Severity: Low,
			Needs: []string{ResDeviceAssurances, ResPolicyAccess, ResRulesAccess}, Engine: EngineOIE, AnySuffices: true,
			Remediation: "Security > Device Assurance Policies: create a policy per platform and reference it from authentication policy rules, starting with the Okta Admin Console.",
			References:  References{"howToHarden": "1.12"},
			Expected:    fixed("≥ 1 device assurance policy referenced by an ACTIVE rule"),
			eval: func(e env) outcome {
				const exp = "≥ 1 device assurance policy referenced by an ACTIVE rule"
				known := map[string]string{}
				for _, d := range e.s.DeviceAssurances {
					known[d.ID] = d.Name
				}
				var refs []string
				adminConsole := false
				_, acPol, _, _, _ := appPolicy(e.s, "saasure")
				for _, p := range e.s.ActivePolicies(PolicyAccess) {
					for _, r := range p.ActiveRules() {
						if r.Conditions == nil || r.Conditions.Device == nil || r.Conditions.Device.Assurance == nil {
							continue
						}
						for _, id := range r.Conditions.Device.Assurance.Include {
							if _, ok := known[id]; ok {
								refs = append(refs, ruleRes(p, r)+" → "+known[id])
								if p.ID == acPol.ID {
									adminConsole = true
								}
							}
						}
					}
				}
				obs := fmt.Sprintf("%d device assurance policies, %d rule reference(s)", len(known), len(refs))
				if adminConsole {
					obs += ", Admin Console covered"
				}
				return orgFinding(len(refs) > 0, obs, exp, map[string]any{"references": refs, "adminConsole": adminConsole})
			},
		},
	}
}
