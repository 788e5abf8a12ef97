package posture

import (
	"fmt"
	"regexp"
	"strings"
)

func authenticatorByKey(s *Snapshot, key string) (Authenticator, bool) {
	for _, a := range s.Authenticators {
		if a.Key == key {
			return a, true
		}
	}
	return Authenticator{}, false
}

// enrollSelf returns the enroll.self value of a factor/authenticator in an
// MFA_ENROLL policy; keys are tried in order (OIE key first, then Classic
// factor names). "" means the policy does not mention it.
func enrollSelf(p Policy, keys ...string) string {
	if p.Settings == nil {
		return ""
	}
	for _, k := range keys {
		for _, a := range p.Settings.Authenticators {
			if a.Key == k {
				return strings.ToUpper(a.Enroll.Self)
			}
		}
		if f, ok := p.Settings.Factors[k]; ok {
			return strings.ToUpper(f.Enroll.Self)
		}
	}
	return ""
}

var dodIssuer = regexp.MustCompile(`(?i)(OU=DoD\b|CN=DoD (Root|Interoperability|ID|EMAIL|SW)|OU=ECA\b|CN=ECA Root|O=U\.S\. Government)`)

func authenticatorChecks() []Check {
	return []Check{
		{
			ID: "okta.authn.phishing_resistant_available", Title: "A phishing-resistant authenticator is active", Category: CatAuthenticator, Severity: Medium,
			Needs:       []string{ResAuthenticators},
			Remediation: "Security > Authenticators: activate FIDO2 (WebAuthn), Okta Verify (FastPass) or Smart Card (PIV/CAC).",
			References:  References{"howToHarden": "1.1"},
			Expected:    fixed("≥ 1 ACTIVE of webauthn, smart_card_idp, okta_verify"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE of webauthn, smart_card_idp, okta_verify"
				var act []string
				for _, a := range e.s.Authenticators {
					if contains([]string{"webauthn", "smart_card_idp", "okta_verify"}, a.Key) && active(a.Status) {
						act = append(act, a.Key)
					}
				}
				return orgFinding(len(act) > 0, act, exp, nil)
			},
		},
		{
			ID: "okta.authn.weak_factors_disabled", Title: "SMS/voice/security question not enrollable", Category: CatAuthenticator, Severity: Medium,
			Needs: []string{ResPolicyMFAEnroll}, Inputs: []string{ResAuthenticators}, NAWhen: "no weak authenticator exists and there is no enrollment policy",
			Remediation: "Deactivate the Phone and Security Question authenticators, or set them to 'Disabled' in every authenticator enrollment policy.",
			References:  References{"healthInsight": "Disable SMS/voice/security question (High)", "howToHarden": "1.10"},
			Expected:    fixed("authenticator INACTIVE, or NOT_ALLOWED in every ACTIVE enrollment policy"),
			eval: func(e env) outcome {
				const exp = "INACTIVE, or NOT_ALLOWED in every ACTIVE enrollment policy"
				weak := []struct {
					key     string
					classic []string
				}{
					{"phone_number", []string{"okta_sms", "okta_call"}},
					{"security_question", []string{"okta_question"}},
				}
				// Without the authenticators (unreadable), an enrollment
				// policy that forbids the factor still decides it; one that
				// allows it does not (the authenticator may be INACTIVE).
				authErr := e.s.Err(ResAuthenticators)
				var o outcome
				for _, w := range weak {
					a, found := authenticatorByKey(e.s, w.key)
					if found && !active(a.Status) {
						o.findings = append(o.findings, finding("authenticator "+w.key, true, a.Status, exp, a.Raw))
						continue
					}
					for _, p := range e.s.ActivePolicies(PolicyMFAEnroll) {
						self := enrollSelf(p, append([]string{w.key}, w.classic...)...)
						ok := self == "" || self == "NOT_ALLOWED"
						obs := self
						if obs == "" {
							obs = "not configured"
						}
						f := finding(policyRes(p)+": "+w.key, ok, obs, exp, p.Raw)
						if !ok && authErr != nil {
							f = errFinding(f.Resource, obs+"; authenticator status unreadable: "+authErr.String(), exp)
						}
						o.findings = append(o.findings, f)
					}
				}
				if len(o.findings) == 0 {
					return naOutcome("no weak authenticator and no enrollment policy", exp)
				}
				return o
			},
		},
		{
			ID: "okta.authn.okta_verify_active", Title: "Okta Verify enabled", Category: CatAuthenticator, Severity: Low,
			Needs: []string{ResAuthenticators}, Optional: []string{ResPolicyMFAEnroll},
			Remediation: "Security > Authenticators: activate Okta Verify and allow enrollment (Optional or Required) in the enrollment policies.",
			References:  References{"healthInsight": "Enable Okta Verify (High)"},
			Expected:    fixed("okta_verify ACTIVE and not NOT_ALLOWED in any ACTIVE enrollment policy"),
			eval: func(e env) outcome {
				const exp = "ACTIVE and enrollable"
				a, found := authenticatorByKey(e.s, "okta_verify")
				if !found {
					return orgFinding(false, "okta_verify authenticator absent", exp, nil)
				}
				o := outcome{findings: []Finding{finding("authenticator okta_verify", active(a.Status), a.Status, exp, a.Raw)}}
				for _, p := range e.s.ActivePolicies(PolicyMFAEnroll) {
					self := enrollSelf(p, "okta_verify", "okta_push", "okta_otp")
					o.findings = append(o.findings, finding(policyRes(p)+": okta_verify", self != "NOT_ALLOWED", orDefault(self, "not configured"), "not NOT_ALLOWED", p.Raw))
				}
				return o
			},
		},
		{
			ID: "okta.authn.okta_verify_fips", Title: "Okta Verify FIPS-only", Category: CatAuthenticator, Severity: Medium,
			Needs: []string{ResAuthenticators}, DoDOnly: true,
			Remediation: "Security > Authenticators > Okta Verify: set 'FIPS compliance' to require FIPS-compliant devices.",
			References:  References{"stig": "V-273205", "howToHarden": "1.8"},
			Expected:    fixed("okta_verify settings.compliance.fips = REQUIRED (DoD profile)"),
			eval: func(e env) outcome {
				const exp = "settings.compliance.fips = REQUIRED"
				a, found := authenticatorByKey(e.s, "okta_verify")
				if !found {
					return orgFinding(false, "okta_verify authenticator absent", exp, nil)
				}
				fips := ""
				if a.Settings != nil && a.Settings.Compliance != nil {
					fips = a.Settings.Compliance.Fips
				}
				return outcome{findings: []Finding{finding("authenticator okta_verify", eqFold(fips, "REQUIRED"), orDefault(fips, "not set"), exp, a.Raw)}}
			},
		},
		{
			ID: "okta.authn.smart_card_active", Title: "PIV/CAC accepted", Category: CatAuthenticator, Severity: Medium,
			Needs: []string{ResAuthenticators}, DoDOnly: true,
			Remediation: "Security > Authenticators: add and activate the Smart Card (PIV/CAC) authenticator.",
			References:  References{"stig": "V-273204", "howToHarden": "1.7"},
			Expected:    fixed("smart_card_idp ACTIVE (DoD profile)"),
			eval: func(e env) outcome {
				a, found := authenticatorByKey(e.s, "smart_card_idp")
				if !found {
					return orgFinding(false, "smart_card_idp authenticator absent", "ACTIVE", nil)
				}
				return outcome{findings: []Finding{finding("authenticator smart_card_idp", active(a.Status), a.Status, "ACTIVE", a.Raw)}}
			},
		},
		{
			ID: "okta.idp.smart_card_dod_ca", Title: "Smart Card IdP trusts DoD CA", Category: CatAuthenticator, Severity: Medium,
			Needs: []string{ResIdPs}, DoDOnly: true,
			Remediation: "Security > Identity Providers > Smart Card: upload the DoD Root/Intermediate (or ECA) certificate chain and activate the IdP.",
			References:  References{"stig": "V-273207"},
			Expected:    fixed("ACTIVE X509 IdP whose trust issuer is a DoD/ECA CA (DoD profile)"),
			eval: func(e env) outcome {
				const exp = "ACTIVE X509 IdP trusting a DoD/ECA CA"
				var o outcome
				for _, idp := range e.s.IdPs {
					if !eqFold(idp.Type, "X509") {
						continue
					}
					issuer := ""
					if idp.Protocol != nil && idp.Protocol.Credentials != nil && idp.Protocol.Credentials.Trust != nil {
						issuer = idp.Protocol.Credentials.Trust.Issuer
					}
					ok := active(idp.Status) && dodIssuer.MatchString(issuer)
					o.findings = append(o.findings, finding(fmt.Sprintf("idp %q [%s]", idp.Name, idp.ID), ok, map[string]string{"status": idp.Status, "issuer": issuer}, exp, idp.Raw))
				}
				if len(o.findings) == 0 {
					return orgFinding(false, "no X509 (smart card) identity provider", exp, nil)
				}
				// One trusted, active smart-card IdP suffices.
				for _, f := range o.findings {
					if f.Status == Pass {
						o.status, o.credit = Pass, 1
					}
				}
				return o
			},
		},
		{
			ID: "okta.mfa_enroll.required_factor", Title: "Every enrollment policy requires a factor", Category: CatAuthenticator, Severity: Medium,
			Needs:       []string{ResPolicyMFAEnroll},
			Remediation: "Security > Authenticators > Enrollment: in every enrollment policy set at least one non-password authenticator to Required.",
			References:  References{"healthInsight": "Require MFA enrollment (Low)"},
			Expected:    fixed("≥ 1 non-password factor REQUIRED in each ACTIVE MFA_ENROLL policy"),
			eval: func(e env) outcome {
				const exp = "≥ 1 non-password factor REQUIRED"
				var o outcome
				for _, p := range e.s.ActivePolicies(PolicyMFAEnroll) {
					if p.Settings == nil {
						o.findings = append(o.findings, errFinding(policyRes(p), "policy settings not returned", exp))
						continue
					}
					var req []string
					for _, a := range p.Settings.Authenticators {
						if a.Key != "okta_password" && eqFold(a.Enroll.Self, "REQUIRED") {
							req = append(req, a.Key)
						}
					}
					for k, f := range p.Settings.Factors {
						if k != "okta_password" && eqFold(f.Enroll.Self, "REQUIRED") {
							req = append(req, k)
						}
					}
					o.findings = append(o.findings, finding(policyRes(p), len(req) > 0, req, exp, p.Raw))
				}
				if len(o.findings) == 0 {
					return orgFinding(false, "no ACTIVE enrollment policy", exp, nil)
				}
				return o
			},
		},
		{
			ID: "okta.users.mfa_coverage", Title: "Active users have MFA enrolled", Category: CatAuthenticator, Severity: High,
			Needs: []string{ResUsers, ResUserFactors}, NAWhen: "the org has no ACTIVE users",
			Remediation: "Require MFA enrollment for everyone (enrollment policy with a Required authenticator) and follow up with the users listed.",
			References:  References{"secureScore": "Enable multi-factor authentication (MFA) (partial credit)"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("≥ %d %% of ACTIVE users with an ACTIVE non-password factor", p.Params.MFACoverageMinPercent)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("≥ %d %% of ACTIVE users with MFA", e.p.MFACoverageMinPercent)
				var o outcome
				total, with := 0, 0
				for _, u := range e.s.Users {
					if !active(u.Status) || !u.FactorsRead {
						continue
					}
					total++
					if n := activeFactors(u); n > 0 {
						with++
						continue
					}
					o.findings = append(o.findings, finding(userRes("user", u), false, "no ACTIVE factor", "≥ 1 ACTIVE non-password factor", nil))
				}
				if total == 0 {
					return naOutcome("no ACTIVE users", exp)
				}
				pct := 100 * float64(with) / float64(total)
				obs := fmt.Sprintf("%.1f %% (%d of %d)", pct, with, total)
				ok := pct >= float64(e.p.MFACoverageMinPercent)
				sum := Finding{Resource: "org", Status: Fail, Observed: obs, Expected: exp}
				switch {
				case ok:
					sum.Status, o.status, o.credit = Pass, Pass, 1
				case with > 0:
					sum.Status, o.status, o.credit = Partial, Partial, pct/100
				default:
					o.status = Fail
				}
				o.findings = append([]Finding{sum}, o.findings...)
				return o
			},
		},
	}
}

func activeFactors(u User) int {
	n := 0
	for _, f := range u.Factors {
		if active(f.Status) && !eqFold(f.FactorType, "password") {
			n++
		}
	}
	return n
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
