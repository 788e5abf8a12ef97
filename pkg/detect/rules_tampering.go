package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Security-control tampering: log streams, event hooks, ThreatInsight,
// behavior detection, protected actions.

var tamperingRules = []*Rule{
	{
		ID: "log_stream_tampering", Title: "Log stream or event hook tampered with", Severity: SeverityHigh, Theme: "tampering",
		MITRE: []string{"T1562.008"},
		Description: "A System Log stream (to a SIEM) or an event hook was deactivated, deleted or changed " +
			"(system.log_stream.lifecycle.*, event_hook.*). Attackers with admin rights blind the SOC before acting; " +
			"critical when it is deactivated or deleted, medium for creation (data may be streamed to an attacker).",
		FalsePositives: []string{"SIEM migration or planned maintenance of the log stream"},
		Rearm:          time.Hour,
		On: []Pattern{{
			Name: "tampered",
			Match: Match{Types: []string{"system.log_stream.lifecycle.*", "event_hook.deactivated", "event_hook.deleted", "event_hook.updated", "event_hook.created",
				"event_hook.lifecycle.*"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key: func(ev *event.Event) string {
				return targetName(firstTarget(ev, "LogStream", "EventHook")) + "|" + eventVerb(ev)
			},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				v := eventVerb(h.Ev)
				switch {
				case destructiveVerb(h.Ev):
					f.Severity = SeverityCritical
				case strings.Contains(v, "create"):
					f.Severity = SeverityMedium
				}
				t := firstTarget(h.Ev, "LogStream", "EventHook")
				kind := "log stream"
				if strings.HasPrefix(h.Ev.EventType, "event_hook") {
					kind = "event hook"
				}
				f.Summary = fmt.Sprintf("%s %s %s %q", h.Ev.Actor.AlternateID, v, kind, targetName(t))
				f.Evidence["target"] = targetName(t)
				f.Evidence["action"] = v
				return f
			},
		}},
	},
	{
		ID: "security_control_tampering", Title: "Okta security feature weakened", Severity: SeverityHigh, Theme: "tampering",
		MITRE: []string{"T1562.001"},
		Description: "ThreatInsight was switched to log-only or off, a behavior-detection rule was changed, deactivated or " +
			"deleted, or the protected-actions settings changed (security.threat.configuration.*, " +
			"security.behavior.detection.*, security.protected_action.settings.update). These features catch the " +
			"attacks the rest of this pack looks for; turning them down comes before the attack.",
		FalsePositives: []string{"tuning ThreatInsight exclusions for a partner network", "behavior-detection rule maintenance"},
		On: []Pattern{{
			Name: "feature",
			Match: Match{Types: []string{"security.threat.configuration.*", "security.threat_insight.*", "security.behavior.detection.*", "security.behavior_detection.*",
				"system.behavior.*", "security.protected_action.settings.update"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) && !ev.IsOktaInternal() }},
			Key: func(ev *event.Event) string { return ev.EventType },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Summary = fmt.Sprintf("%s: %s (%s)", h.Ev.Actor.AlternateID, h.Ev.EventType, orDefault(h.Ev.DisplayMessage, targetName(firstTarget(h.Ev))))
				f.Evidence["eventType"] = h.Ev.EventType
				for i := range h.Ev.Targets {
					if cd := h.Ev.Targets[i].ChangeDetails; cd != nil {
						f.Evidence["from"], f.Evidence["to"] = cd.From, cd.To
					}
				}
				return f
			},
		}},
	},
	{
		ID: "super_admin_password_reset", Title: "Super administrator password reset", Severity: SeverityHigh, Theme: "tampering",
		MITRE: []string{"T1098", "T1078.004"},
		Description: "A password reset for a super administrator passed through Okta's protected action " +
			"(security.protected_action.attempt on \"Reset passwords for super admins\"). Rare and highly privileged: confirm " +
			"with the super admin.",
		FalsePositives: []string{"a documented reset by another super admin"},
		On: []Pattern{{
			Name: "reset",
			Match: Match{Types: []string{"security.protected_action.attempt"}, Where: func(ev *event.Event, _ Params) bool {
				for i := range ev.Targets {
					if strings.Contains(strings.ToLower(ev.Targets[i].DisplayName), "super admin") && strings.Contains(strings.ToLower(ev.Targets[i].DisplayName), "password") {
						return true
					}
				}
				return false
			}},
		}},
	},
}
