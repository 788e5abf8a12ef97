package posture

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

func notifyCheck(id, title, template string, refs References) Check {
	return Check{
		ID: id, Title: title, Category: CatMonitoring, Severity: Low,
		Needs: []string{ResBrands, ResEmailSettings}, NAWhen: "the org has no brands",
		Remediation: "Customizations > Emails > " + template + " (every brand): send to all users (Security > General > Security notification emails).",
		References:  refs,
		Expected:    fixed("recipients = ALL_USERS for " + template + " in every brand"),
		eval: func(e env) outcome {
			exp := "recipients = ALL_USERS"
			var o outcome
			for _, b := range e.s.Brands {
				res := fmt.Sprintf("brand %q [%s]: %s", b.Name, b.ID, template)
				v, ok := b.EmailRecipients[template]
				if !ok {
					o.findings = append(o.findings, errFinding(res, "template settings not read", exp))
					continue
				}
				o.findings = append(o.findings, finding(res, eqFold(v, "ALL_USERS"), v, exp, nil))
			}
			if len(o.findings) == 0 {
				return naOutcome("no brands", exp)
			}
			return o
		},
	}
}

var dodBanner = regexp.MustCompile(`(?is)you are accessing a u\.?s\.? government.*(information system|IS)`)

func monitoringChecks() []Check {
	hi := func(task string) References {
		return References{"healthInsight": task + " (High)", "howToHarden": "1.11"}
	}
	return []Check{
		{
			ID: "okta.logging.log_offload", Title: "Audit records leave Okta", Category: CatMonitoring, Severity: High,
			Inputs:      []string{ResLogStreams, ResIngestion},
			Remediation: "Reports > Log Streaming: add an ACTIVE log stream (AWS EventBridge or Splunk Cloud), or keep this plugin's System Log ingestion healthy (it pulls the log into your SIEM store).",
			References:  References{"stig": "V-273202 (CAT I)", "howToHarden": "5.1"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("≥ 1 ACTIVE log stream, or ingestion lag < %d min", p.Params.LogIngestionMaxLagMinute)
			},
			eval: func(e env) outcome {
				maxLag := time.Duration(e.p.LogIngestionMaxLagMinute) * time.Minute
				exp := fmt.Sprintf("≥ 1 ACTIVE log stream, or ingestion lag < %s", maxLag)
				var streams []string
				for _, ls := range e.s.LogStreams {
					if active(ls.Status) {
						streams = append(streams, ls.Name+" ("+ls.Type+")")
					}
				}
				ing := e.s.Ingestion
				ingOK := ing != nil && !ing.LastPollSuccess.IsZero() && ing.Lag < maxLag && e.now.Sub(ing.LastPollSuccess) < maxLag
				if len(streams) > 0 || ingOK {
					obs := map[string]any{"activeStreams": streams}
					if ing != nil {
						obs["ingestionLag"] = ing.Lag.String()
						obs["lastPollSuccess"] = ing.LastPollSuccess
					}
					return orgFinding(true, obs, exp, nil)
				}
				if fe := e.s.Err(ResLogStreams); fe != nil {
					return outcome{findings: []Finding{errFinding("org", fe.String(), exp)}}
				}
				obs := map[string]any{"activeStreams": len(streams)}
				if ing != nil {
					obs["ingestionLag"] = ing.Lag.String()
					obs["lastPollSuccess"] = ing.LastPollSuccess
				} else {
					obs["ingestion"] = "not running"
				}
				return orgFinding(false, obs, exp, nil)
			},
		},
		{
			ID: "okta.detection.behavior_rules", Title: "Behavior detection used", Category: CatMonitoring, Severity: Low,
			Needs: []string{ResBehaviors}, Optional: []string{ResPolicySignOn, ResRulesSignOn, ResPolicyAccess, ResRulesAccess}, AnySuffices: true,
			Remediation: "Security > Behavior Detection: keep behaviors ACTIVE and reference them from a global session rule (or use risk-score conditions in authentication policies).",
			References:  References{"howToHarden": "5.4", "healthInsight": "MFA requirements"},
			Expected:    fixed("≥ 1 ACTIVE behavior referenced by an ACTIVE rule"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE behavior referenced by an ACTIVE rule"
				act := map[string]bool{}
				for _, b := range e.s.Behaviors {
					if active(b.Status) {
						act[b.ID], act[b.Name] = true, true
					}
				}
				var refs []string
				if len(act) > 0 {
					for _, p := range e.s.ActivePolicies(PolicySignOn) {
						for _, r := range p.ActiveRules() {
							if r.Conditions != nil && r.Conditions.Risk != nil {
								for _, b := range r.Conditions.Risk.Behaviors {
									if act[b] {
										refs = append(refs, ruleRes(p, r)+" → "+b)
									}
								}
							}
						}
					}
					for _, p := range e.s.ActivePolicies(PolicyAccess) {
						for _, r := range p.ActiveRules() {
							if r.Conditions != nil && r.Conditions.RiskScore != nil && !eqFold(r.Conditions.RiskScore.Level, "ANY") && r.Conditions.RiskScore.Level != "" {
								refs = append(refs, ruleRes(p, r)+" → riskScore "+r.Conditions.RiskScore.Level)
							}
						}
					}
				}
				return orgFinding(len(refs) > 0, fmt.Sprintf("%d ACTIVE behaviors, %d rule reference(s)", len(act)/2, len(refs)), exp, map[string]any{"references": refs})
			},
		},
		notifyCheck("okta.notify.new_signon", "New sign-on email", TemplateNewSignOn, hi("New sign-on notification")),
		notifyCheck("okta.notify.password_changed", "Password-changed email", TemplatePasswordChanged, hi("Password changed notification")),
		notifyCheck("okta.notify.authenticator_enrolled", "Enrollment email", TemplateAuthenticatorEnrolled, hi("Authenticator enrolled notification")),
		notifyCheck("okta.notify.authenticator_reset", "Reset email", TemplateAuthenticatorReset, hi("Authenticator reset notification")),
		{
			ID: "okta.notify.report_suspicious", Title: "Suspicious-activity reporting", Category: CatMonitoring, Severity: Low,
			Inputs:      []string{ResLogSignals},
			Remediation: "Security > General: enable 'Report suspicious activity via email'. Okta offers no read API for this toggle; attest it manually. A user.account.report_suspicious_activity_by_enduser event in the System Log proves it is on.",
			References:  References{"healthInsight": "Report suspicious activity (High)"},
			Expected:    fixed("manual attestation; pass when the System Log shows an end-user report"),
			eval: func(e env) outcome {
				const exp = "enabled (attest, or a user.account.report_suspicious_activity_by_enduser event)"
				if ls := e.s.LogSignals; ls != nil && ls.ReportSuspiciousEvents > 0 {
					return orgFinding(true, fmt.Sprintf("%d end-user report(s) in the last %s", ls.ReportSuspiciousEvents, ls.Window), exp, nil)
				}
				return outcome{findings: []Finding{{Resource: "org", Status: Manual, Observed: "no read API; no end-user report seen in the System Log", Expected: exp}}}
			},
		},
	}
}

var passwordSignOnModes = []string{"BROWSER_PLUGIN", "AUTO_LOGIN", "BASIC_AUTH", "SECURE_PASSWORD_STORE"}

func isFirstParty(a App) bool {
	switch a.Name {
	case "saasure", "okta_enduser", "okta_browser_plugin", "okta_flow_sso", "flow", "okta_iga", "okta_access_requests":
		return true
	}
	return false
}

func appOrgChecks() []Check {
	return []Check{
		{
			ID: "okta.apps.federated_sso", Title: "Prefer SAML/OIDC over password apps", Category: CatApps, Severity: Low,
			Needs: []string{ResApps}, NAWhen: "the org has no ACTIVE apps",
			Remediation: "Where the vendor supports it, switch the listed apps from password vaulting (SWA / basic auth) to SAML or OIDC.",
			References:  References{"healthInsight": "Use federated SSO (High)"},
			Expected:    fixed("no ACTIVE app with signOnMode BROWSER_PLUGIN/AUTO_LOGIN/BASIC_AUTH/SECURE_PASSWORD_STORE"),
			eval: func(e env) outcome {
				const exp = "federated sign-on (SAML/OIDC/WS-Fed)"
				var o outcome
				for _, a := range e.s.Apps {
					if !active(a.Status) || isFirstParty(a) {
						continue
					}
					o.findings = append(o.findings, finding(appRes(a), !contains(passwordSignOnModes, a.SignOnMode), a.SignOnMode, exp, nil))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE apps", exp)
				}
				return o
			},
		},
		{
			ID: "okta.apps.oidc_risky_grants", Title: "No implicit/ROPC grants", Category: CatApps, Severity: Medium,
			Needs: []string{ResApps}, NAWhen: "the org has no ACTIVE OIDC apps",
			Remediation: "Applications > (OIDC app) > General: untick Implicit and Resource Owner Password; use authorization code with PKCE.",
			References:  References{"howToHarden": "3.x"},
			Expected:    fixed("grant_types contain neither implicit nor password"),
			eval: func(e env) outcome {
				const exp = "no implicit, no password grant"
				var o outcome
				for _, a := range e.s.Apps {
					if !active(a.Status) || a.Settings == nil || a.Settings.OauthClient == nil {
						continue
					}
					g := a.Settings.OauthClient.GrantTypes
					o.findings = append(o.findings, finding(appRes(a), !contains(g, "implicit") && !contains(g, "password"), g, exp, nil))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE OIDC apps", exp)
				}
				return o
			},
		},
		{
			ID: "okta.apps.inactive_review", Title: "Unused apps", Category: CatApps, Severity: Info,
			Needs: []string{ResApps}, NAWhen: "the org has no ACTIVE apps",
			Inputs:      []string{ResLogSignals},
			Remediation: "Review the listed apps nobody signed in to within the window; deactivate those no longer used.",
			References:  References{"other": "okta-inspector"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("an SSO sign-in within %d days (informational)", p.Params.InactiveAppDays)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("an SSO sign-in within %d days", e.p.InactiveAppDays)
				var o outcome
				known := false
				for _, a := range e.s.Apps {
					if !a.LastSSO.IsZero() {
						known = true
					}
				}
				for _, a := range e.s.Apps {
					if !active(a.Status) || isFirstParty(a) {
						continue
					}
					if !known {
						o.findings = append(o.findings, Finding{Resource: appRes(a), Status: Manual, Observed: "no System Log usage data", Expected: exp})
						continue
					}
					d := daysSince(e.now, a.LastSSO)
					obs := "never used in the ingested log"
					if !a.LastSSO.IsZero() {
						obs = fmt.Sprintf("last SSO %d days ago", d)
					}
					o.findings = append(o.findings, finding(appRes(a), !a.LastSSO.IsZero() && d <= e.p.InactiveAppDays, obs, exp, nil))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE apps", exp)
				}
				return o
			},
		},
		{
			ID: "okta.trusted_origins.strict", Title: "Trusted origins tight", Category: CatApps, Severity: Low,
			Needs: []string{ResTrustedOrigins}, NAWhen: "the org has no ACTIVE trusted origins",
			Remediation: "Security > API > Trusted Origins: remove wildcard origins and plain-http origins (localhost excepted).",
			References:  References{"other": "okta-inspector"},
			Expected:    fixed("no wildcard; https only (http://localhost allowed)"),
			eval: func(e env) outcome {
				const exp = "no wildcard; https only"
				var o outcome
				for _, t := range e.s.TrustedOrigins {
					if !active(t.Status) {
						continue
					}
					ok := !strings.Contains(t.Origin, "*")
					if u, err := url.Parse(t.Origin); err != nil || u.Host == "" {
						ok = false
					} else if u.Scheme != "https" {
						h := u.Hostname()
						ok = ok && u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1")
					}
					o.findings = append(o.findings, finding(fmt.Sprintf("trusted origin %q [%s]", t.Name, t.ID), ok, t.Origin, exp, t.Raw))
				}
				if len(o.findings) == 0 {
					return naOutcome("no ACTIVE trusted origins", exp)
				}
				return o
			},
		},
		{
			ID: "okta.org.support_access", Title: "Okta Support access not left open", Category: CatApps, Severity: Low,
			Needs:       []string{ResOktaSupport},
			Remediation: "Settings > Account > Okta Support access: revoke access when the support case is done (grants last 8 hours by default).",
			References:  References{"other": "Panther okta_account_support_access"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("DISABLED, or expiring within %d h", p.Params.SupportAccessMaxHours)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("DISABLED, or expiring within %d h", e.p.SupportAccessMaxHours)
				s := e.s.OktaSupport
				if s == nil {
					return orgFinding(false, "support settings not returned", exp, nil)
				}
				ok := !eqFold(s.Support, "ENABLED") ||
					(s.Expiration != nil && s.Expiration.Sub(e.now) <= time.Duration(e.p.SupportAccessMaxHours)*time.Hour)
				return outcome{findings: []Finding{finding("org okta support", ok, map[string]any{"support": s.Support, "expiration": s.Expiration}, exp, s.Raw)}}
			},
		},
		{
			ID: "okta.signin.dod_banner", Title: "DoD consent banner", Category: CatApps, Severity: Medium,
			Needs: []string{ResBrands, ResSignInPage}, DoDOnly: true,
			Remediation: "Customizations > Brands > Sign-in page: add the Standard Mandatory DoD Notice and Consent Banner to every brand's sign-in page.",
			References:  References{"stig": "V-273192"},
			Expected:    fixed("sign-in page of every brand shows the DoD notice and consent banner (DoD profile)"),
			eval: func(e env) outcome {
				const exp = "DoD notice and consent banner present"
				var o outcome
				for _, b := range e.s.Brands {
					ok := dodBanner.MatchString(b.SignInPageContent)
					obs := "banner absent"
					if ok {
						obs = "banner present"
					}
					o.findings = append(o.findings, finding(fmt.Sprintf("brand %q [%s] sign-in page", b.Name, b.ID), ok, obs, exp, nil))
				}
				if len(o.findings) == 0 {
					return orgFinding(false, "no brands", exp, nil)
				}
				return o
			},
		},
	}
}
