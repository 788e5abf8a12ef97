package detect

// The rule pack: declarative single-event rules, thresholds, new-value
// ("new terms") rules, idle-gap rules and short ordered sequences, each a
// detector of its own on the same engine (same Detector interface,
// registry, config — enable, severity, include/exclude, rearm, params —,
// dedup, learning and state persistence). One rule is one Rule literal in
// a rules_<theme>.go file plus its test cases in rules_<theme>_test.go;
// docs/rules.md documents every rule and the coverage of the anchors'
// capability matrix (rules_coverage_test.go keeps the two in step).
//
// This file is the rule language (Rule, Match, Pattern, Step, Collect,
// Snap, Hit); rules_eval.go evaluates it, rules_register.go registers the
// pack and rules_predicates.go holds the keys and predicates rule
// definitions share.

import (
	"sort"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Rule is one declarative rule of the pack.
type Rule struct {
	ID       string
	Title    string
	Severity string // default severity (a pattern's Alert may raise it; the `severity` param overrides)
	Theme    string // docs grouping: credential, mfa, session, admin, persistence, policy, tampering, threat
	MITRE    []string
	// Description says what the alert means for an analyst and what to do.
	Description string
	// FalsePositives lists the known benign causes.
	FalsePositives []string
	// Rearm is the dedup quiet period (default 24h).
	Rearm time.Duration
	// Params are the rule's own parameters (a `severity` parameter is
	// added to every rule).
	Params []Param
	// On lists the patterns; any of them raises the rule's alert.
	On []Pattern
}

// Match selects events.
type Match struct {
	// Types are exact event types; an entry ending in "*" is a prefix.
	// Empty = every event type.
	Types []string
	// Where is an extra predicate (nil = true).
	Where func(ev *event.Event, p Params) bool
	// Baseline is a predicate over the engine's baselines as they were
	// before this event (nil = true), e.g. "a network new to the actor";
	// evaluated after Types and Where.
	Baseline func(c *Context, ev *event.Event, p Params) bool
	// Key of the matched event for sequences, cancels and collects
	// (default: the pattern's Key).
	Key func(ev *event.Event) string
}

// Step is one ordered step of a sequence.
type Step struct {
	Name string
	Match
	// Within bounds the time since the previous step (default: the
	// pattern's Window).
	Within time.Duration
	// Check compares the event with the steps already matched.
	Check func(prev []Snap, ev *event.Event, p Params) bool
}

// Pattern is one way a rule fires. Its kind follows from the fields set:
//
//   - Steps: an ordered sequence keyed per step, within Window (from the
//     first step), optionally cancelled by Cancel; with Quiet > 0 it fires
//     only when no Cancel event arrives within Quiet of the last step
//     (an absence: "prompted but never completed"; a single step with
//     Quiet: "this happened and no Cancel followed").
//   - Count > 0: a threshold — at least Count distinct Distinct values
//     (default: events) per Key within Window.
//   - Idle > 0: the first matching event of a Key after at least Idle
//     without one.
//   - Term != nil: a new value of Term for a Key seen for at least Learn.
//   - otherwise a single event.
type Pattern struct {
	Name  string // short name, part of the dedup key and the evidence
	Match        // events of single, threshold, idle and new-term patterns
	Key   func(ev *event.Event) string

	Steps  []Step
	Cancel []Match
	// CancelBefore: a Cancel event also prevents a sequence from starting
	// for the same key within Window afterwards ("no MFA in this session",
	// whichever order Okta logs the MFA and the session start in).
	CancelBefore bool
	Collect      *Collect // sequence: aggregate values while a partial match is open
	Quiet        time.Duration

	Window   time.Duration
	Count    int
	Distinct func(ev *event.Event) string

	Idle   time.Duration
	Retain time.Duration // idle / new-term memory (default 400 days / 30 days)

	Term     func(ev *event.Event) string
	Learn    time.Duration
	MaxTerms int // per key (default 32)

	// Alert builds the finding (default: Hit.Base()).
	Alert func(h *Hit) Finding
	// NeedTrusted silences the pattern until an event from a `trusted`
	// IP has been seen (rules about "outside trusted" need the list).
	NeedTrusted bool
}

// Collect aggregates a value of matching events into open partial
// sequence matches of the same key (e.g. the IPs that failed to sign in
// while Okta reported an attack).
type Collect struct {
	Match
	Value func(ev *event.Event) string
	Max   int // distinct values kept (default 50)
}

// Snap is the compact record of a matched event kept in rule state.
type Snap struct {
	ID      string `json:"id"`
	T       int64  `json:"t"` // unix milliseconds
	Type    string `json:"ty,omitempty"`
	Actor   string `json:"a,omitempty"`
	IP      string `json:"ip,omitempty"`
	Country string `json:"c,omitempty"`
	ASN     int    `json:"asn,omitempty"`
	Trusted bool   `json:"tr,omitempty"`
	V       string `json:"v,omitempty"` // pattern value (distinct value, term, target)
}

// Time returns the snap's event time.
func (s Snap) Time() time.Time { return time.UnixMilli(s.T).UTC() }

// snapOf records ev for rule state.
func snapOf(ev *event.Event, v string) Snap {
	asn := ev.IP.ASN
	if asn == 0 {
		asn = ev.Security.ASNumber
	}
	return Snap{ID: ev.UUID, T: ev.Published.UnixMilli(), Type: ev.EventType,
		Actor: ev.Actor.AlternateID, IP: ev.Client.IPAddress, Country: ev.Country(),
		ASN: asn, Trusted: isTrusted(ev), V: v}
}

// Hit is a pattern match handed to the Alert builder.
type Hit struct {
	Rule    *Rule
	Pattern *Pattern
	Params  Params
	Key     string
	// Ev is the event that completed the match (for a Quiet sequence the
	// event whose time passed the deadline; use Steps for the evidence).
	Ev *event.Event
	// Steps are the matched sequence steps, the events counted by a
	// threshold, the previous event of an idle match, or the first event
	// of the key of a new-term match.
	Steps []Snap
	// Values: distinct values of a threshold, collected values of a
	// sequence (value -> count).
	Values map[string]int
	Gap    time.Duration // idle patterns
	Term   string        // new-term patterns
	At     time.Time     // the alert's time
	st     *patState
}

// Window is the pattern's effective window (after params).
func (h *Hit) Window() time.Duration { return h.st.win }

// Base returns a finding prefilled from the hit: actor, IP and country of
// the completing event, title, the uuids of every event involved, the
// incident key (the pattern's name when there is an actor, else
// "<pattern>:<key>") and an evidence map with the pattern.
func (h *Hit) Base() Finding {
	f := Finding{
		Key:      h.Pattern.Name + ":" + h.Key,
		Time:     h.At,
		Title:    h.Rule.Title,
		Evidence: map[string]any{"pattern": h.Pattern.Name},
	}
	if h.Ev != nil && h.At.Equal(h.Ev.Published) {
		f.Actor, f.ActorID = h.Ev.Actor.AlternateID, h.Ev.Actor.ID
		f.IP, f.Country = h.Ev.Client.IPAddress, h.Ev.Country()
	} else if n := len(h.Steps); n > 0 {
		s := h.Steps[n-1]
		f.Actor, f.IP, f.Country = s.Actor, s.IP, s.Country
	}
	// One incident per rule and actor: the pattern and its key (a target
	// user, an object, a session) only separate state, not incidents — an
	// admin changing twenty users is one alert with twenty targets, and a
	// token created then used from elsewhere is one alert updated by the
	// second pattern (the more severe match explains it). Actor-less
	// findings (org- or IP-level) group by pattern and key.
	if f.Actor != "" {
		f.Key = ""
	}
	seen := map[string]bool{}
	for _, s := range h.Steps {
		if s.ID != "" && !seen[s.ID] {
			seen[s.ID] = true
			f.EventIDs = append(f.EventIDs, s.ID)
		}
	}
	if h.Ev != nil && h.Ev.UUID != "" && !seen[h.Ev.UUID] && h.At.Equal(h.Ev.Published) {
		f.EventIDs = append(f.EventIDs, h.Ev.UUID)
	}
	switch p := h.Pattern; {
	case len(p.Steps) > 0:
		steps := make([]map[string]any, len(h.Steps))
		for i, s := range h.Steps {
			steps[i] = snapEvidence(s)
			if i < len(p.Steps) {
				steps[i]["step"] = p.Steps[i].Name
			}
		}
		f.Evidence["steps"] = steps
		f.Evidence["window"] = h.st.win.String()
	case p.Count > 0:
		f.Evidence["count"] = len(h.Steps)
		f.Evidence["threshold"] = h.st.count
		f.Evidence["window"] = h.st.win.String()
		f.Evidence["values"] = topValues(h.Values, 20)
		f.Evidence["first"] = h.Steps[0].Time().Format(time.RFC3339)
	case p.Idle > 0:
		f.Evidence["previous"] = snapEvidence(h.Steps[0])
		f.Evidence["idleDays"] = int(h.Gap.Hours() / 24)
	case p.Term != nil:
		f.Evidence["newValue"] = h.Term
		f.Evidence["keyFirstSeen"] = h.Steps[0].Time().Format(time.RFC3339)
	}
	return f
}

func snapEvidence(s Snap) map[string]any {
	m := map[string]any{"eventId": s.ID, "time": s.Time().Format(time.RFC3339), "eventType": s.Type}
	if s.Actor != "" {
		m["actor"] = s.Actor
	}
	if s.IP != "" {
		m["ip"] = s.IP
	}
	if s.Country != "" {
		m["country"] = s.Country
	}
	if s.ASN != 0 {
		m["asn"] = s.ASN
	}
	if s.Trusted {
		m["trusted"] = true
	}
	if s.V != "" {
		m["value"] = s.V
	}
	return m
}

// topValues returns up to n values, most frequent first (then by value).
func topValues(m map[string]int, n int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if m[out[i]] != m[out[j]] {
			return m[out[i]] > m[out[j]]
		}
		return out[i] < out[j]
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
