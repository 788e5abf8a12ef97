package posture

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var isoDur = regexp.MustCompile(`^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// ParseISODuration parses an ISO-8601 duration such as P30D or PT720H
// (years count 365 days, months 30).
func ParseISODuration(s string) (time.Duration, error) {
	m := isoDur.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, fmt.Errorf("posture: invalid ISO-8601 duration %q", s)
	}
	mult := []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute}
	var d time.Duration
	for i, u := range mult {
		if m[i+1] != "" {
			n, _ := strconv.Atoi(m[i+1])
			d += time.Duration(n) * u
		}
	}
	if m[7] != "" {
		f, _ := strconv.ParseFloat(m[7], 64)
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}

func tokenRes(t APIToken) string { return fmt.Sprintf("api token %q [%s]", t.Name, t.ID) }

func apiTokenChecks() []Check {
	return []Check{
		{
			ID: "okta.api_tokens.network_restricted", Title: "Tokens limited to zones", Category: CatAPITokens, Severity: Medium,
			Needs: []string{ResAPITokens, ResZones}, NAWhen: "the org has no API tokens",
			Remediation: "Security > API > Tokens: edit each token's network restriction to allow only the ACTIVE zones it is used from.",
			References:  References{"stig": "V-279689"},
			Expected:    fixed("network.connection ZONE with ACTIVE existing zones in include"),
			eval: func(e env) outcome {
				const exp = "connection ZONE, include non-empty, zones exist and ACTIVE"
				var o outcome
				for _, t := range e.s.APITokens {
					n := t.Network
					if n == nil || !eqFold(n.Connection, "ZONE") || len(n.Include) == 0 {
						conn := "ANYWHERE"
						if n != nil && n.Connection != "" {
							conn = n.Connection
						}
						o.findings = append(o.findings, finding(tokenRes(t), false, "connection "+conn, exp, t.Raw))
						continue
					}
					var bad []string
					for _, id := range n.Include {
						z, ok := e.s.ZoneByID(id)
						if !ok {
							bad = append(bad, id+" (missing)")
						} else if !active(z.Status) {
							bad = append(bad, z.Name+" ("+z.Status+")")
						}
					}
					obs := fmt.Sprintf("ZONE include %v", n.Include)
					if len(bad) > 0 {
						obs += "; bad zones " + strings.Join(bad, ", ")
					}
					o.findings = append(o.findings, finding(tokenRes(t), len(bad) == 0, obs, exp, t.Raw))
				}
				if len(o.findings) == 0 {
					return naOutcome("no API tokens", exp)
				}
				return o
			},
		},
		{
			ID: "okta.api_tokens.not_super_admin", Title: "Token owner not Super Admin", Category: CatAPITokens, Severity: High,
			Needs: []string{ResAPITokens, ResAdmins}, NAWhen: "the org has no API tokens",
			Remediation: "Re-create the token under a dedicated service account holding only the role it needs (or move the integration to an OAuth service app with scoped grants).",
			References:  References{"stig": "V-279690", "mdi": "API token owned by Super Admin"},
			Expected:    fixed("owner holds no SUPER_ADMIN role (direct or via group)"),
			eval: func(e env) outcome {
				const exp = "owner holds no SUPER_ADMIN role"
				var o outcome
				for _, t := range e.s.APITokens {
					a, isAdmin := e.s.AdminByID(t.UserID)
					super := isAdmin && a.HasRole("SUPER_ADMIN")
					obs := "owner holds no admin role"
					if isAdmin {
						obs = fmt.Sprintf("owner roles %v", roleTypes(a))
					}
					o.findings = append(o.findings, finding(tokenRes(t), !super, obs, exp, t.Raw))
				}
				if len(o.findings) == 0 {
					return naOutcome("no API tokens", exp)
				}
				return o
			},
		},
		{
			ID: "okta.api_tokens.hygiene", Title: "Token lifetime and ownership", Category: CatAPITokens, Severity: Low,
			Needs: []string{ResAPITokens}, Optional: []string{ResUsers}, NAWhen: "the org has no API tokens",
			Remediation: "Revoke tokens whose owner is not ACTIVE, tokens older than the threshold, and tokens with an idle window above the threshold; re-issue under a dedicated service account.",
			References:  References{"stig": "V-279690 (dedicated account)", "howToHarden": "3.4"},
			Expected: func(p Profile) string {
				return fmt.Sprintf("owner ACTIVE; tokenWindow ≤ P%dD; age ≤ %d days", p.Params.TokenWindowMaxDays, p.Params.TokenMaxAgeDays)
			},
			eval: func(e env) outcome {
				exp := fmt.Sprintf("owner ACTIVE; tokenWindow ≤ P%dD; age ≤ %d days", e.p.TokenWindowMaxDays, e.p.TokenMaxAgeDays)
				var o outcome
				for _, t := range e.s.APITokens {
					var problems []string
					owner := "unknown"
					if t.Owner != nil {
						owner = t.Owner.Status
						if !active(t.Owner.Status) {
							problems = append(problems, "owner "+t.Owner.Status)
						}
					} else if fe := e.s.Err(ResUsers); fe != nil {
						o.findings = append(o.findings, errFinding(tokenRes(t), "owner not readable: "+fe.String(), exp))
						continue
					} else {
						problems = append(problems, "owner not found")
					}
					if t.TokenWindow != "" {
						if d, err := ParseISODuration(t.TokenWindow); err != nil {
							problems = append(problems, "unparseable tokenWindow "+t.TokenWindow)
						} else if d > time.Duration(e.p.TokenWindowMaxDays)*24*time.Hour {
							problems = append(problems, "tokenWindow "+t.TokenWindow)
						}
					}
					age := daysSince(e.now, t.Created)
					if age > e.p.TokenMaxAgeDays {
						problems = append(problems, fmt.Sprintf("age %d days", age))
					}
					obs := map[string]any{"owner": owner, "tokenWindow": t.TokenWindow, "ageDays": age}
					if len(problems) > 0 {
						obs["problems"] = problems
					}
					o.findings = append(o.findings, finding(tokenRes(t), len(problems) == 0, obs, exp, t.Raw))
				}
				if len(o.findings) == 0 {
					return naOutcome("no API tokens", exp)
				}
				return o
			},
		},
	}
}

var anonymizerCategories = []string{"ALL_ANONYMIZERS", "ANONYMIZER_TOR", "ALL_PROXIES_VPNS", "ALL_IP_SERVICES"}

func networkChecks() []Check {
	return []Check{
		{
			ID: "okta.network.threatinsight_block", Title: "ThreatInsight enforcing", Category: CatNetwork, Severity: High,
			Needs:       []string{ResThreatInsight},
			Remediation: "Security > General > Okta ThreatInsight: select 'Log and enforce security based on threat level'.",
			References:  References{"healthInsight": "Enable ThreatInsight (Critical)", "howToHarden": "5.2"},
			Expected:    fixed("action = block (audit is partial)"),
			eval: func(e env) outcome {
				const exp = "action = block"
				t := e.s.ThreatInsight
				if t == nil {
					return orgFinding(false, "no ThreatInsight configuration", exp, nil)
				}
				f := Finding{Resource: "threatInsight", Observed: map[string]any{"action": t.Action, "excludeZones": t.ExcludeZones}, Expected: exp, Evidence: evidence(t.Raw)}
				switch strings.ToLower(t.Action) {
				case "block":
					f.Status = Pass
				case "audit":
					f.Status = Partial
					return outcome{findings: []Finding{f}, status: Partial, credit: 0.5}
				default:
					f.Status = Fail
				}
				return outcome{findings: []Finding{f}}
			},
		},
		{
			ID: "okta.network.anonymizer_block", Title: "Anonymizers/Tor blocked", Category: CatNetwork, Severity: Medium,
			Needs:       []string{ResZones},
			Remediation: "Security > Networks: activate a blocklist enhanced dynamic zone (DefaultEnhancedDynamicZone) with 'All anonymizers' / Tor, or a dynamic blocklist zone with proxy type Tor or Any.",
			References:  References{"stig": "V-279692", "healthInsight": "Block Tor", "howToHarden": "2.3"},
			Expected:    fixed("≥ 1 ACTIVE BLOCKLIST zone covering anonymizers/Tor"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE BLOCKLIST zone covering anonymizers/Tor"
				var blocking []string
				var exempt []ZoneAddress
				for _, z := range e.s.Zones {
					if z.Name == "DefaultExemptIpZone" && active(z.Status) {
						exempt = append(exempt, z.Gateways...)
					}
					if !active(z.Status) || !eqFold(z.Usage, "BLOCKLIST") {
						continue
					}
					switch strings.ToUpper(z.Type) {
					case "DYNAMIC_V2":
						if z.IPServiceCategories != nil {
							for _, c := range z.IPServiceCategories.Include {
								if contains(anonymizerCategories, c) {
									blocking = append(blocking, z.Name)
									break
								}
							}
						}
					case "DYNAMIC":
						if eqFold(z.ProxyType, "Tor") || eqFold(z.ProxyType, "Any") {
							blocking = append(blocking, z.Name)
						}
					}
				}
				return orgFinding(len(blocking) > 0, map[string]any{"blockingZones": blocking}, exp, map[string]any{"exemptGateways": exempt})
			},
		},
		{
			ID: "okta.network.ip_blocklist", Title: "IP blocklist in use", Category: CatNetwork, Severity: Low,
			Needs:       []string{ResZones},
			Remediation: "Security > Networks: add an ACTIVE IP or location blocklist zone (known-bad ranges, embargoed countries).",
			References:  References{"healthInsight": "Use network blocklists (Moderate)", "howToHarden": "2.1"},
			Expected:    fixed("≥ 1 ACTIVE non-empty BLOCKLIST zone"),
			eval: func(e env) outcome {
				const exp = "≥ 1 ACTIVE non-empty BLOCKLIST zone"
				var lists []string
				for _, z := range e.s.Zones {
					if active(z.Status) && eqFold(z.Usage, "BLOCKLIST") && len(z.Gateways)+len(z.Locations)+len(z.ASNs) > 0 {
						lists = append(lists, z.Name)
					}
				}
				return orgFinding(len(lists) > 0, lists, exp, nil)
			},
		},
		{
			ID: "okta.network.admin_console_zone", Title: "Admin Console limited by IP", Category: CatNetwork, Severity: Medium,
			Needs: []string{ResPolicyAccess, ResRulesAccess}, Inputs: []string{ResApps}, Engine: EngineOIE, OwnItemErrors: true, NAWhen: firstPartyNA,
			Remediation: "Security > Authentication Policies > Okta Admin Console: add a network zone condition to every ALLOW rule (admin access only from corporate/VPN egress).",
			References:  References{"howToHarden": "2.2"},
			Expected:    fixed("connection ZONE on every ACTIVE ALLOW rule"),
			eval: func(e env) outcome {
				return firstPartyRuleCheck(e, "saasure", "connection ZONE", func(r PolicyRule, _ *AppSignOnAction) (any, bool) {
					if r.Conditions != nil && r.Conditions.Network.Zoned() {
						return "ZONE", true
					}
					if r.Conditions != nil && r.Conditions.Network != nil && r.Conditions.Network.Connection != "" {
						return r.Conditions.Network.Connection, false
					}
					return "ANYWHERE", false
				})
			},
		},
	}
}
