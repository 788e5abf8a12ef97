package detect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Policy weakening, network zones, global MFA.

// policyChange is the verdict on a policy / rule changeDetails.
type policyChange struct {
	weakened  []string // "path: from -> to"
	tightened []string
	other     []string
}

// flatten turns nested changeDetails maps into dotted paths.
func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	default:
		out[prefix] = v
	}
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// rank orders values of security-relevant settings: a higher rank is
// stronger. ok is false for settings we do not judge.
func rank(path string, v any) (float64, bool) {
	leaf := strings.ToLower(path[strings.LastIndexByte(path, '.')+1:])
	s := strings.ToUpper(str(v))
	switch {
	case leaf == "factormode":
		if n, err := strconv.Atoi(strings.TrimSuffix(s, "FA")); err == nil {
			return float64(n), true
		}
	case leaf == "requirefactor" || leaf == "mfarequired" || leaf == "mfa_required" || leaf == "requiremfa":
		return map[bool]float64{true: 1, false: 0}[s == "TRUE"], true
	case leaf == "access":
		switch s {
		case "DENY":
			return 1, true
		case "ALLOW":
			return 0, true
		}
	case leaf == "connection":
		switch s {
		case "ZONE":
			return 1, true
		case "ANYWHERE":
			return 0, true
		}
	case strings.Contains(leaf, "phishingresistant") || strings.Contains(leaf, "hardwareprotection") || strings.Contains(leaf, "devicebound") || leaf == "userpresence" || leaf == "userverification":
		switch s {
		case "REQUIRED":
			return 1, true
		case "OPTIONAL", "NOT_REQUIRED", "":
			return 0, true
		}
	case strings.HasPrefix(leaf, "maxsession") && strings.HasSuffix(leaf, "minutes") || leaf == "reauthenticatein" || leaf == "maxattempts":
		// longer sessions, more attempts = weaker; 0 = unlimited
		if n, ok := num(v); ok {
			if n <= 0 {
				return -1e12, true
			}
			return -n, true
		}
	case leaf == "minlength" || leaf == "historycount" || leaf == "minlowercase" || leaf == "minuppercase" || leaf == "minnumber" || leaf == "minsymbol":
		if n, ok := num(v); ok {
			return n, true
		}
	case leaf == "status":
		switch s {
		case "ACTIVE":
			return 1, true
		case "INACTIVE":
			return 0, true
		}
	}
	return 0, false
}

// judgePolicyChange compares every changed setting of the targets.
func judgePolicyChange(ev *event.Event) (policyChange, bool) {
	var pc policyChange
	found := false
	for i := range ev.Targets {
		cd := ev.Targets[i].ChangeDetails
		if cd == nil {
			continue
		}
		found = true
		from, to := map[string]any{}, map[string]any{}
		flatten("", cd.From, from)
		flatten("", cd.To, to)
		keys := map[string]bool{}
		for k := range from {
			keys[k] = true
		}
		for k := range to {
			keys[k] = true
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			a, b := from[k], to[k]
			if str(a) == str(b) {
				continue
			}
			desc := fmt.Sprintf("%s: %v → %v", k, orNone(a), orNone(b))
			ra, okA := rank(k, a)
			rb, okB := rank(k, b)
			switch {
			case okA && okB && rb < ra:
				pc.weakened = append(pc.weakened, desc)
			case okA && okB && rb > ra:
				pc.tightened = append(pc.tightened, desc)
			default:
				pc.other = append(pc.other, desc)
			}
		}
	}
	return pc, found
}

func orNone(v any) any {
	if v == nil {
		return "(none)"
	}
	return v
}

var policyChangeTypes = []string{"policy.lifecycle.*", "policy.rule.*"}

func policyTarget(ev *event.Event) *event.Target {
	if t := firstTarget(ev, "PolicyRule"); t != nil {
		return t
	}
	return firstTarget(ev, "PolicyEntity", "Policy")
}

var policyRules = []*Rule{
	{
		ID: "policy_weakened", Title: "Security policy weakened, deactivated or deleted", Severity: SeverityHigh, Theme: "policy",
		MITRE: []string{"T1556", "T1562.001", "T1484"},
		Description: "A sign-on, authentication, password or MFA-enrolment policy or policy rule was deactivated or deleted, or " +
			"an update's changeDetails lowers a setting: MFA no longer required (factorMode 2FA→1FA, requireFactor " +
			"true→false), a longer session lifetime or idle timeout, ALLOW instead of DENY, ANYWHERE instead of a zone, a " +
			"phishing-resistant or hardware requirement dropped, weaker password rules. The evidence lists every " +
			"weakened setting with its old and new value.",
		FalsePositives: []string{"planned policy restructuring (deactivating an old rule after adding its replacement)"},
		Rearm:          time.Minute,
		On: []Pattern{{
			Name: "weakened",
			Match: Match{Types: policyChangeTypes, Where: func(ev *event.Event, _ Params) bool {
				if !notFailed(ev) || ev.EventType == "policy.evaluate_sign_on" {
					return false
				}
				if destructiveVerb(ev) {
					return true
				}
				if pc, ok := judgePolicyChange(ev); ok && len(pc.weakened) > 0 {
					return true
				}
				return false
			}},
			Key: func(ev *event.Event) string { return ev.UUID },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				pt := policyTarget(h.Ev)
				name, typ := targetName(pt), "policy"
				if pt != nil && pt.Type != "" {
					typ = pt.Type
				}
				if destructiveVerb(h.Ev) {
					f.Summary = fmt.Sprintf("%s %s %s %q (%s)", h.Ev.Actor.AlternateID, eventVerb(h.Ev), strings.ToLower(typ), name, orDefault(detailStr(pt, "policyType"), "type unknown"))
				} else {
					pc, _ := judgePolicyChange(h.Ev)
					f.Summary = fmt.Sprintf("%s weakened %q: %s", h.Ev.Actor.AlternateID, name, strings.Join(pc.weakened, "; "))
					f.Evidence["weakened"] = pc.weakened
					if len(pc.tightened) > 0 {
						f.Evidence["tightened"] = pc.tightened
					}
				}
				f.Evidence["policy"] = name
				f.Evidence["action"] = eventVerb(h.Ev)
				return f
			},
		}},
	},
	{
		ID: "policy_modified", Title: "Security policy changed (not judged)", Severity: SeverityLow, Theme: "policy",
		MITRE: []string{"T1556", "T1484"},
		Description: "A policy or policy rule was created or updated and the event does not say what changed (no " +
			"changeDetails), or it changed settings the pack does not rank. Changes that only tighten settings do not " +
			"alert; weakening ones raise policy_weakened instead. Review the policy in the Admin Console.",
		FalsePositives: []string{"routine policy administration"},
		On: []Pattern{{
			Name: "modified",
			Match: Match{Types: []string{"policy.lifecycle.create", "policy.lifecycle.update", "policy.rule.create", "policy.rule.update"}, Where: func(ev *event.Event, _ Params) bool {
				if !notFailed(ev) || !isPerson(ev) {
					return false
				}
				pc, ok := judgePolicyChange(ev)
				if !ok {
					return true
				}
				return len(pc.weakened) == 0 && len(pc.other) > 0
			}},
			Key: func(ev *event.Event) string { return targetName(policyTarget(ev)) },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				pc, ok := judgePolicyChange(h.Ev)
				f.Summary = fmt.Sprintf("%s %s %q", h.Ev.Actor.AlternateID, strings.ReplaceAll(h.Ev.EventType, "policy.", ""), targetName(policyTarget(h.Ev)))
				f.Evidence["changeDetails"] = ok
				if len(pc.other) > 0 {
					f.Evidence["changed"] = pc.other
				}
				return f
			},
		}},
	},
	{
		ID: "app_signon_policy_changed", Title: "Application sign-on policy changed or removed", Severity: SeverityMedium, Theme: "policy",
		MITRE: []string{"T1556", "T1562.001"},
		Description: "An application's sign-on (authentication) policy or one of its rules was changed, deactivated or deleted " +
			"(application.policy.sign_on.*). Loosening one app's policy is a quiet way to skip MFA for the app an attacker wants.",
		FalsePositives: []string{"app onboarding and policy maintenance"},
		On: []Pattern{{
			Name:  "changed",
			Match: Match{Types: []string{"application.policy.sign_on.*"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key:   func(ev *event.Event) string { return targetName(appTarget(ev)) + "|" + ev.EventType },
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Severity = sevIf(destructiveVerb(h.Ev), SeverityHigh, SeverityMedium)
				f.Summary = fmt.Sprintf("%s: %s on %q", h.Ev.Actor.AlternateID, h.Ev.EventType, targetName(appTarget(h.Ev)))
				return f
			},
		}},
	},
	{
		ID: "network_zone_changed", Title: "Network zone changed or removed", Severity: SeverityMedium, Theme: "policy",
		MITRE: []string{"T1562.007", "T1556"},
		Description: "A network zone was created, changed, deactivated or deleted (zone.* / network_zone.*). Zones decide which " +
			"IPs are trusted by policies and which are blocked; an attacker adds their IP or removes a block list. High for " +
			"deactivation and deletion.",
		FalsePositives: []string{"office / VPN IP range maintenance"},
		On: []Pattern{{
			Name:  "zone",
			Match: Match{Types: []string{"zone.*", "network_zone.*"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key: func(ev *event.Event) string {
				return targetName(firstTarget(ev, "Zone", "NetworkZone")) + "|" + eventVerb(ev)
			},
			Alert: func(h *Hit) Finding {
				f := h.Base()
				f.Severity = sevIf(destructiveVerb(h.Ev) || strings.Contains(h.Ev.EventType, "remove_blacklist"), SeverityHigh, SeverityMedium)
				z := targetName(firstTarget(h.Ev, "Zone", "NetworkZone"))
				f.Summary = fmt.Sprintf("%s %s network zone %q", h.Ev.Actor.AlternateID, eventVerb(h.Ev), z)
				f.Evidence["zone"] = z
				return f
			},
		}},
	},
	{
		ID: "mfa_factor_disabled_global", Title: "MFA factor type disabled for the org", Severity: SeverityHigh, Theme: "policy",
		MITRE: []string{"T1556.006", "T1562.001"},
		Description: "An MFA factor type or authenticator was deactivated for the whole org (system.mfa.factor.deactivate, " +
			"security.authenticator.lifecycle.deactivate). Removing the strong factors forces users onto weaker ones or none.",
		FalsePositives: []string{"retiring an authenticator after migrating users to a stronger one"},
		On: []Pattern{{
			Name:  "disabled",
			Match: Match{Types: []string{"system.mfa.factor.deactivate", "security.authenticator.lifecycle.deactivate"}, Where: func(ev *event.Event, _ Params) bool { return notFailed(ev) }},
			Key:   func(ev *event.Event) string { return targetName(firstTarget(ev, "Authenticator", "Factor")) },
		}},
	},
}
