package detect

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// ThreatInsight and Okta risk signals, end-user reports.

var threatRules = []*Rule{
	{
		ID: "security_threat_detected", Title: "Okta ThreatInsight detected a threat", Severity: SeverityMedium, Theme: "threat",
		MITRE: []string{"T1110", "T1110.003", "T1110.004"},
		Description: "Okta ThreatInsight flagged requests from an IP (security.threat.detected) — password spraying, credential " +
			"stuffing or other attacks seen across Okta's customers. High when Okta blocked them (DENY) or rated them HIGH. " +
			"Keyed by source IP; look for successful sign-ins from the same IP (suspicious_ip does).",
		FalsePositives: []string{"shared egress IPs (carrier NAT, corporate proxies) with some bad neighbours"},
		On: []Pattern{{
			Name:  "threat",
			Match: Match{Types: []string{"security.threat.detected"}},
			Key:   ipKey,
			Alert: func(h *Hit) Finding {
				f := h.Base()
				td := debugStr(h.Ev, "threatDetections")
				f.Severity = sevIf(h.Ev.Outcome.Result == "DENY" || strings.Contains(strings.ToUpper(td), "HIGH"), SeverityHigh, SeverityMedium)
				f.Summary = fmt.Sprintf("ThreatInsight flagged %s (%s): %s", h.Ev.Client.IPAddress, orDefault(h.Ev.Outcome.Reason, "threat"), orDefault(h.Ev.Outcome.Result, "no outcome"))
				f.Evidence["reason"] = h.Ev.Outcome.Reason
				f.Evidence["outcome"] = h.Ev.Outcome.Result
				if td != "" {
					f.Evidence["threatDetections"] = td
				}
				return f
			},
		}},
	},
	{
		ID: "org_under_attack", Title: "Okta reports the org under attack", Severity: SeverityHigh, Theme: "threat",
		MITRE: []string{"T1110.003", "T1110.004", "T1498"},
		Description: "Okta declared an org-wide attack (security.attack.start): password spraying or credential stuffing at a " +
			"scale Okta's ThreatInsight treats as an incident. security.attack.end updates the same alert (one incident, one " +
			"alert) with a summary of the attack and the source IPs that failed primary authentication during it (the spray " +
			"IPs) so they can be blocked.",
		FalsePositives: []string{"load tests against the sign-in page"},
		Params:         []Param{{Name: "minFailures", Default: 5, Doc: "failed sign-ins from an IP during the attack for it to be listed as a spray IP"}},
		// an attack's end (hours later) updates the alert its start raised
		Rearm: 24 * time.Hour,
		On: []Pattern{
			{
				Name:  "started",
				Match: Match{Types: []string{"security.attack.start"}},
				Key:   orgKey,
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Key = "attack" // the start and the end are one incident
					f.Summary = fmt.Sprintf("Okta reports an attack on the org (%s)", orDefault(debugStr(h.Ev, "attackType"), "type unknown"))
					f.Evidence["attackType"] = debugStr(h.Ev, "attackType")
					return f
				},
			},
			{
				Name:   "incident",
				Window: 7 * 24 * time.Hour,
				Key:    orgKey,
				Steps: []Step{
					{Name: "start", Match: Match{Types: []string{"security.attack.start"}}},
					{Name: "end", Match: Match{Types: []string{"security.attack.end"}}},
				},
				Collect: &Collect{
					Match: Match{Types: []string{"user.session.start", "user.authentication.verify", "user.authentication.auth_via_mfa"}, Where: func(ev *event.Event, _ Params) bool {
						return ev.IsFailure() && ev.Client.IPAddress != ""
					}},
					Value: ipKey,
					Max:   200,
				},
				Alert: func(h *Hit) Finding {
					f := h.Base()
					f.Key = "attack"
					min := h.Params.Int("minFailures")
					var ips []string
					for ip, n := range h.Values {
						if n >= min {
							ips = append(ips, ip)
						}
					}
					sort.Slice(ips, func(i, j int) bool {
						if h.Values[ips[i]] != h.Values[ips[j]] {
							return h.Values[ips[i]] > h.Values[ips[j]]
						}
						return ips[i] < ips[j]
					})
					counts := make(map[string]int, len(ips))
					for _, ip := range ips {
						counts[ip] = h.Values[ip]
					}
					dur := h.Ev.Published.Sub(h.Steps[0].Time()).Round(time.Minute)
					f.Summary = fmt.Sprintf("Okta attack on the org (%s) lasted %s; %d spraying IPs: %s", orDefault(debugStr(h.Ev, "attackType"), "type unknown"), dur, len(ips), strings.Join(firstN(ips, 10), ", "))
					f.Evidence["sprayIPs"] = ips
					f.Evidence["failuresPerIP"] = counts
					f.Evidence["duration"] = dur.String()
					f.Evidence["attackType"] = debugStr(h.Ev, "attackType")
					f.Summarises = true
					return f
				},
			},
		},
	},
	{
		ID: "itp_user_risk", Title: "Okta Identity Threat Protection rated a user HIGH risk", Severity: SeverityHigh, Theme: "threat",
		MITRE: []string{"T1586", "T1078.004"},
		Description: "Identity Threat Protection raised a user's risk to HIGH (user.risk.detect / user.risk.change with " +
			"level=HIGH). ITP correlates session, device and third-party signals; treat it as a per-user risk roll-up.",
		FalsePositives: []string{"entity risk policies tuned too sensitively"},
		On: []Pattern{{
			Name: "risk_high",
			Match: Match{Types: []string{"user.risk.detect", "user.risk.change"}, Where: func(ev *event.Event, _ Params) bool {
				return strings.EqualFold(ev.Debug.RiskLevel, "HIGH")
			}},
			Key: func(ev *event.Event) string {
				if k := targetUserKey(ev); k != "" {
					return k
				}
				return actorKey(ev)
			},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				if t := targetUser(h.Ev); t != nil && t.AlternateID != "" {
					f.Actor, f.ActorID = t.AlternateID, t.ID
				}
				f.Summary = fmt.Sprintf("ITP rated %s HIGH risk: %s", f.Actor, orDefault(h.Ev.Debug.RiskReasons, "no reason given"))
				f.Evidence["riskReasons"] = h.Ev.Debug.RiskReasons
				return f
			},
		}},
	},
	{
		ID: "user_reported_suspicious", Title: "User reported suspicious activity", Severity: SeverityHigh, Theme: "threat",
		MITRE: []string{"T1078.004", "T1621"},
		Description: "A user clicked \"report suspicious activity\" in an Okta email or Okta Verify " +
			"(user.account.report_suspicious_activity_by_enduser): they did not start the sign-in, push or change Okta " +
			"told them about. The reported event type and id are in the evidence.",
		FalsePositives: []string{"users reporting their own forgotten activity"},
		On: []Pattern{{
			Name:  "reported",
			Match: Match{Types: []string{"user.account.report_suspicious_activity_by_enduser"}},
			Key:   func(ev *event.Event) string { return debugStr(ev, "suspiciousActivityEventId") },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s reported suspicious activity (%s)", h.Ev.Actor.AlternateID, orDefault(debugStr(h.Ev, "suspiciousActivityEventType"), "event type unknown"))
				for _, k := range []string{"suspiciousActivityEventType", "suspiciousActivityEventId", "suspiciousActivityTimestamp", "suspiciousActivityBrowser", "suspiciousActivityOs", "suspiciousActivityIp"} {
					if v := debugStr(h.Ev, k); v != "" {
						f.Evidence[k] = v
					}
				}
				return f
			},
		}},
	},
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
