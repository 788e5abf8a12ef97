package detect

// Keys and predicates shared by the rule definitions (rules_<theme>.go).

import (
	"fmt"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// ---- shared keys and predicates for rule definitions ----

// actorKey is the actor's login (lower-cased).
func actorKey(ev *event.Event) string { return normLogin(ev.Actor.AlternateID) }

// ipKey is the client IP.
func ipKey(ev *event.Event) string { return ev.Client.IPAddress }

// sessKey is the Okta session id.
func sessKey(ev *event.Event) string { return ev.SessionID() }

// orgKey puts every event of a pattern under one key.
func orgKey(*event.Event) string { return "org" }

// targetUser returns the first User target (nil when none).
func targetUser(ev *event.Event) *event.Target {
	for i := range ev.Targets {
		if ev.Targets[i].Type == "User" {
			return &ev.Targets[i]
		}
	}
	return nil
}

// targetUserKey is the login (else id) of the first User target.
func targetUserKey(ev *event.Event) string {
	t := targetUser(ev)
	if t == nil {
		return ""
	}
	if t.AlternateID != "" && t.AlternateID != "unknown" {
		return normLogin(t.AlternateID)
	}
	return t.ID
}

// firstTarget returns the first target of one of the types (any type when
// none is given; nil when there is no such target).
func firstTarget(ev *event.Event, types ...string) *event.Target {
	if len(types) == 0 && len(ev.Targets) > 0 {
		return &ev.Targets[0]
	}
	for i := range ev.Targets {
		for _, t := range types {
			if ev.Targets[i].Type == t {
				return &ev.Targets[i]
			}
		}
	}
	return nil
}

// targetName is a target's display name, else alternate id, else id.
func targetName(t *event.Target) string {
	if t == nil {
		return ""
	}
	for _, s := range []string{t.DisplayName, t.AlternateID, t.ID} {
		if s != "" && s != "unknown" {
			return s
		}
	}
	return ""
}

// detail returns a string field of a target's detailEntry.
func detailStr(t *event.Target, key string) string {
	if t == nil || t.Detail == nil {
		return ""
	}
	if v, ok := t.Detail[key]; ok {
		if s, ok := v.(string); ok {
			return s
		}
		if v != nil {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// debug returns a debugData field as a string.
func debugStr(ev *event.Event, key string) string {
	v, ok := ev.Debug.Value(key)
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// isPerson reports an actor of type User that is not Okta itself.
func isPerson(ev *event.Event) bool {
	return ev.Actor.Type == "User" && !ev.IsOktaInternal() && ev.Actor.AlternateID != ""
}

// isAutomation reports actions of apps, Okta itself and JOB transactions.
func isAutomation(ev *event.Event) bool {
	return !isPerson(ev) || ev.Transaction.Type == "JOB"
}

// onOtherUser reports an event whose User target is not the actor.
func onOtherUser(ev *event.Event) bool {
	t := targetUser(ev)
	if t == nil {
		return false
	}
	if t.ID != "" && t.ID == ev.Actor.ID {
		return false
	}
	return !(t.AlternateID != "" && strings.EqualFold(t.AlternateID, ev.Actor.AlternateID))
}

func isOK(ev *event.Event, _ Params) bool { return ev.IsSuccess() }

func notFailed(ev *event.Event) bool { return !ev.IsFailure() }

func reasonHas(ev *event.Event, s string) bool {
	return strings.Contains(strings.ToLower(ev.Outcome.Reason), strings.ToLower(s))
}

// verb is the last dot-separated part of the event type.
func eventVerb(ev *event.Event) string {
	if i := strings.LastIndexByte(ev.EventType, '.'); i >= 0 {
		return ev.EventType[i+1:]
	}
	return ev.EventType
}

// destructiveVerb reports deactivate / delete / disable / remove verbs.
func destructiveVerb(ev *event.Event) bool {
	v := eventVerb(ev)
	return strings.Contains(v, "deactivat") || strings.Contains(v, "delete") || strings.Contains(v, "disable") || strings.Contains(v, "remove")
}

// sevIf returns hi when cond, else lo.
func sevIf(cond bool, hi, lo string) string {
	if cond {
		return hi
	}
	return lo
}

// attackSignal names why an event's source looks hostile ("" when it does
// not): Okta's threatSuspected, an anonymous address, or the `suspicious`
// or `risky` IP lists (a `trusted` address never does).
func attackSignal(ev *event.Event) string {
	if isTrusted(ev) {
		return ""
	}
	switch {
	case ev.Debug.ThreatSuspected:
		return "threat_suspected"
	case ev.IP.Categories.Has(event.CatSuspicious):
		return "suspicious_ip"
	case ev.IP.Categories.Has(event.CatRisky):
		return "risky_ip"
	}
	if a := anonymousSignal(ev); a != "" {
		return "anonymous:" + a
	}
	return ""
}
