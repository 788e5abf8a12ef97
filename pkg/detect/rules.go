package detect

// The rule pack: declarative single-event rules, thresholds, new-value
// ("new terms") rules, idle-gap rules and short ordered sequences, each a
// detector of its own on the same engine (same Detector interface,
// registry, config — enable, severity, include/exclude, rearm, params —,
// dedup, learning and state persistence). One rule is one Rule literal in
// a rules_<theme>.go file plus its test cases in rules_<theme>_test.go;
// docs/rules.md documents every rule and the coverage of the anchors'
// capability matrix (rules_coverage_test.go keeps the two in step).

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
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
//     (an absence: "prompted but never completed").
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
// the completing event, title, the uuids of every event involved, key
// "<pattern>:<key>" and an evidence map with the pattern and key.
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

// ---- registration ----

var severities = map[string]bool{SeverityInfo: true, SeverityLow: true, SeverityMedium: true, SeverityHigh: true, SeverityCritical: true}

// ruleSets are the themed rule lists (one per rules_<theme>.go file), in
// registration order.
var ruleSets = [][]*Rule{adminRules, persistenceRules, policyRules, tamperingRules, mfaRules, credentialRules, sessionRules, threatRules}

// Rules returns the rule pack in registration order.
func Rules() []*Rule {
	var out []*Rule
	for _, set := range ruleSets {
		out = append(out, set...)
	}
	return out
}

func init() {
	for _, r := range Rules() {
		if err := r.validate(); err != nil {
			panic(err) // a broken rule definition is a programming error caught by every test
		}
		registry = append(registry, r.registration())
	}
}

func (r *Rule) validate() error {
	if r.ID == "" || r.Title == "" || len(r.MITRE) == 0 || r.Description == "" || len(r.FalsePositives) == 0 || len(r.On) == 0 {
		return fmt.Errorf("rule %q: id, title, MITRE, description, false positives and patterns are required", r.ID)
	}
	if !severities[r.Severity] {
		return fmt.Errorf("rule %s: bad severity %q", r.ID, r.Severity)
	}
	names := map[string]bool{}
	for i := range r.On {
		p := &r.On[i]
		if p.Name == "" || names[p.Name] {
			return fmt.Errorf("rule %s: pattern %d needs a unique name", r.ID, i)
		}
		names[p.Name] = true
		if (len(p.Steps) > 0 || p.Count > 0) && p.Window <= 0 {
			return fmt.Errorf("rule %s/%s: sequences and thresholds need a window", r.ID, p.Name)
		}
		if len(p.Steps) == 1 {
			return fmt.Errorf("rule %s/%s: a sequence needs at least two steps", r.ID, p.Name)
		}
	}
	return nil
}

func (r *Rule) registration() Registration {
	params := append([]Param{{Name: "severity", Default: "", Doc: "override the severity of every alert of the rule (info, low, medium, high, critical); empty keeps the rule's own"}}, r.Params...)
	return Registration{
		Info:   Info{ID: r.ID, Title: r.Title, Severity: r.Severity, MITRE: r.MITRE, Description: r.Description},
		Params: params,
		Rearm:  r.Rearm,
		New: func(p Params) (Detector, error) {
			sev := strings.ToLower(p.String("severity"))
			if sev != "" && !severities[sev] {
				return nil, fmt.Errorf("params.severity: %q is not one of info, low, medium, high, critical", sev)
			}
			d := &ruleDetector{r: r, p: p, sev: sev, pats: make([]patState, len(r.On))}
			for i := range r.On {
				d.pats[i].init(&r.On[i], p)
			}
			d.buildGate()
			return d, nil
		},
	}
}

// ---- matching ----

func (m *Match) matches(ev *event.Event, p Params) bool {
	if len(m.Types) > 0 {
		ok := false
		for _, t := range m.Types {
			if n := len(t); n > 0 && t[n-1] == '*' {
				if strings.HasPrefix(ev.EventType, t[:n-1]) {
					ok = true
					break
				}
			} else if t == ev.EventType {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return m.Where == nil || m.Where(ev, p)
}

func keyOf(ev *event.Event, own, def func(*event.Event) string) string {
	if own != nil {
		return own(ev)
	}
	if def != nil {
		return def(ev)
	}
	return actorKey(ev)
}

// ---- runtime ----

type ruleDetector struct {
	r          *Rule
	p          Params
	sev        string
	pats       []patState
	sawTrusted bool
	// gate: when every match of the rule names event types, the exact
	// types and prefixes of all of them (an event of another type is
	// skipped with one lookup); nil when some match takes any type.
	exact       map[string]struct{}
	prefixes    []string
	needTrusted bool
}

// buildGate fills the detector's event-type gate.
func (d *ruleDetector) buildGate() {
	exact := map[string]struct{}{}
	var prefixes []string
	ok := true
	add := func(m *Match) {
		if len(m.Types) == 0 {
			ok = false
		}
		for _, t := range m.Types {
			if n := len(t); n > 0 && t[n-1] == '*' {
				prefixes = append(prefixes, t[:n-1])
			} else {
				exact[t] = struct{}{}
			}
		}
	}
	for i := range d.r.On {
		p := &d.r.On[i]
		if p.NeedTrusted {
			d.needTrusted = true
		}
		if len(p.Steps) > 0 {
			for j := range p.Steps {
				add(&p.Steps[j].Match)
			}
			for j := range p.Cancel {
				add(&p.Cancel[j])
			}
			if p.Collect != nil {
				add(&p.Collect.Match)
			}
			if p.Quiet > 0 {
				ok = false // deadlines are checked on every event
			}
			continue
		}
		add(&p.Match)
	}
	if ok {
		d.exact, d.prefixes = exact, prefixes
	}
}

func (d *ruleDetector) gated(typ string) bool {
	if d.exact == nil {
		return false
	}
	if _, ok := d.exact[typ]; ok {
		return false
	}
	for _, p := range d.prefixes {
		if strings.HasPrefix(typ, p) {
			return false
		}
	}
	return true
}

// partial is an open sequence match: the steps matched so far.
type partial struct {
	Steps    []Snap         `json:"s"`
	Vals     map[string]int `json:"v,omitempty"`
	Deadline int64          `json:"d,omitempty"` // quiet sequences: unix ms
}

type seqKey struct {
	At []*partial `json:"at"` // At[i]: the latest partial that completed step i
}

type termKey struct {
	First Snap             `json:"f"`
	Vals  map[string]int64 `json:"v"` // term -> last seen (unix ms)
}

type patState struct {
	p    *Pattern
	Name string `json:"name"`
	// effective window, count, idle, learn and quiet (pattern defaults
	// overridden by the rule params of the same names)
	win, quiet, idle, learn time.Duration
	count                   int
	Seq                     map[string]*seqKey  `json:"seq,omitempty"`
	Thr                     map[string][]Snap   `json:"thr,omitempty"`
	Last                    map[string]Snap     `json:"last,omitempty"`
	Terms                   map[string]*termKey `json:"terms,omitempty"`
	// Cancelled: CancelBefore sequences, key -> last cancel (unix ms)
	Cancelled map[string]int64 `json:"cancelled,omitempty"`
	// nextDeadline is the earliest quiet deadline (unix ms; 0 = none).
	NextDeadline int64 `json:"nd,omitempty"`
}

func (s *patState) init(p *Pattern, prm Params) {
	s.p = p
	s.win, s.quiet, s.idle, s.learn, s.count = p.Window, p.Quiet, p.Idle, p.Learn, p.Count
	if _, ok := prm.v["window"]; ok && s.win > 0 {
		s.win = prm.Duration("window")
	}
	if _, ok := prm.v["quiet"]; ok && s.quiet > 0 {
		s.quiet = prm.Duration("quiet")
	}
	if _, ok := prm.v["idle"]; ok && s.idle > 0 {
		s.idle = prm.Duration("idle")
	}
	if _, ok := prm.v["learn"]; ok && p.Term != nil {
		s.learn = prm.Duration("learn")
	}
	if _, ok := prm.v["count"]; ok && s.count > 0 {
		s.count = max(prm.Int("count"), 1)
	}
	switch {
	case len(p.Steps) > 0:
		s.Seq = map[string]*seqKey{}
		if p.CancelBefore {
			s.Cancelled = map[string]int64{}
		}
	case p.Count > 0:
		s.Thr = map[string][]Snap{}
	case p.Idle > 0:
		s.Last = map[string]Snap{}
	case p.Term != nil:
		s.Terms = map[string]*termKey{}
	}
}

// Handle runs every pattern of the rule over the event.
func (d *ruleDetector) Handle(c *Context, ev *event.Event) {
	if d.needTrusted && !d.sawTrusted && isTrusted(ev) {
		d.sawTrusted = true
	}
	if d.gated(ev.EventType) {
		return
	}
	for i := range d.pats {
		s := &d.pats[i]
		p := s.p
		if p.NeedTrusted && !d.sawTrusted {
			continue
		}
		switch {
		case len(p.Steps) > 0:
			d.sequence(c, s, ev)
		case p.Count > 0:
			d.threshold(c, s, ev)
		case p.Idle > 0:
			d.idle(c, s, ev)
		case p.Term != nil:
			d.newTerm(c, s, ev)
		default:
			if p.matches(ev, d.p) {
				d.fire(c, &Hit{st: s, Pattern: p, Key: keyOf(ev, p.Key, nil), Ev: ev, At: ev.Published})
			}
		}
	}
}

func (d *ruleDetector) fire(c *Context, h *Hit) {
	h.Rule, h.Params = d.r, d.p
	var f Finding
	if h.Pattern.Alert != nil {
		f = h.Pattern.Alert(h)
	} else {
		f = h.Base()
	}
	if f.Severity == "" {
		f.Severity = d.r.Severity
	}
	if d.sev != "" {
		f.Severity = d.sev
	}
	if f.Title == "" {
		f.Title = d.r.Title
	}
	if f.Summary == "" {
		f.Summary = d.r.Title
	}
	if f.Evidence == nil {
		f.Evidence = map[string]any{}
	}
	if _, ok := f.Evidence["pattern"]; !ok {
		f.Evidence["pattern"] = h.Pattern.Name
	}
	c.Emit(f)
}

func (d *ruleDetector) sequence(c *Context, s *patState, ev *event.Event) {
	p := s.p
	now := ev.Published.UnixMilli()
	win := s.win.Milliseconds()
	// quiet sequences whose deadline passed fire first (event time moved on)
	if s.quiet > 0 && s.NextDeadline != 0 && now > s.NextDeadline {
		d.expire(c, s, now, ev)
	}
	for _, cm := range p.Cancel {
		if cm.matches(ev, d.p) {
			k := keyOf(ev, cm.Key, p.Key)
			if k != "" {
				delete(s.Seq, k)
				if p.CancelBefore {
					s.Cancelled[k] = now
				}
			}
		}
	}
	if cl := p.Collect; cl != nil && cl.matches(ev, d.p) {
		if k := keyOf(ev, cl.Key, p.Key); k != "" {
			if sk := s.Seq[k]; sk != nil {
				v := cl.Value(ev)
				mx := cl.Max
				if mx <= 0 {
					mx = 50
				}
				for _, pt := range sk.At {
					if pt == nil || v == "" {
						continue
					}
					if pt.Vals == nil {
						pt.Vals = map[string]int{}
					}
					if _, ok := pt.Vals[v]; ok || len(pt.Vals) < mx {
						pt.Vals[v]++
					}
				}
			}
		}
	}
	n := len(p.Steps)
	for i := n - 1; i >= 1; i-- {
		st := &p.Steps[i]
		if !st.matches(ev, d.p) {
			continue
		}
		k := keyOf(ev, st.Key, p.Key)
		sk := s.Seq[k]
		if k == "" || sk == nil || sk.At[i-1] == nil {
			continue
		}
		prev := sk.At[i-1]
		if now-prev.Steps[0].T > win || now < prev.Steps[len(prev.Steps)-1].T {
			continue
		}
		if st.Within > 0 && now-prev.Steps[len(prev.Steps)-1].T > st.Within.Milliseconds() {
			continue
		}
		if st.Check != nil && !st.Check(prev.Steps, ev, d.p) {
			continue
		}
		np := &partial{Steps: append(append(make([]Snap, 0, i+1), prev.Steps...), snapOf(ev, "")), Vals: copyVals(prev.Vals)}
		if i < n-1 {
			sk.At[i] = np
			continue
		}
		if s.quiet > 0 {
			np.Deadline = now + s.quiet.Milliseconds()
			sk.At[i] = np
			if s.NextDeadline == 0 || np.Deadline < s.NextDeadline {
				s.NextDeadline = np.Deadline
			}
			continue
		}
		sk.At[i-1] = nil
		d.fire(c, &Hit{st: s, Pattern: p, Key: k, Ev: ev, Steps: np.Steps, Values: np.Vals, At: ev.Published})
	}
	if p.Steps[0].matches(ev, d.p) {
		k := keyOf(ev, p.Steps[0].Key, p.Key)
		if c, ok := s.Cancelled[k]; ok && now-c <= win {
			k = ""
		}
		if k != "" {
			sk := s.Seq[k]
			if sk == nil {
				sk = &seqKey{At: make([]*partial, n)}
				s.Seq[k] = sk
			}
			sk.At[0] = &partial{Steps: []Snap{snapOf(ev, "")}}
		}
	}
}

func copyVals(m map[string]int) map[string]int {
	if m == nil {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// expire fires the quiet sequences whose deadline is before now, in
// deadline order (then key) so the output is deterministic.
func (d *ruleDetector) expire(c *Context, s *patState, now int64, ev *event.Event) {
	type due struct {
		k  string
		pt *partial
	}
	var fire []due
	next := int64(0)
	n := len(s.p.Steps)
	for k, sk := range s.Seq {
		pt := sk.At[n-1]
		if pt == nil {
			continue
		}
		if pt.Deadline < now {
			fire = append(fire, due{k, pt})
			sk.At[n-1] = nil
			continue
		}
		if next == 0 || pt.Deadline < next {
			next = pt.Deadline
		}
	}
	s.NextDeadline = next
	sort.Slice(fire, func(i, j int) bool {
		if fire[i].pt.Deadline != fire[j].pt.Deadline {
			return fire[i].pt.Deadline < fire[j].pt.Deadline
		}
		return fire[i].k < fire[j].k
	})
	for _, f := range fire {
		d.fire(c, &Hit{st: s, Pattern: s.p, Key: f.k, Ev: ev, Steps: f.pt.Steps, Values: f.pt.Vals, At: time.UnixMilli(f.pt.Deadline).UTC()})
	}
}

func (d *ruleDetector) threshold(c *Context, s *patState, ev *event.Event) {
	p := s.p
	if !p.matches(ev, d.p) {
		return
	}
	k := keyOf(ev, p.Key, nil)
	if k == "" {
		return
	}
	v := ev.UUID
	if p.Distinct != nil {
		v = p.Distinct(ev)
		if v == "" {
			return
		}
	}
	now := ev.Published.UnixMilli()
	cut := now - s.win.Milliseconds()
	list := s.Thr[k][:0:0]
	for _, x := range s.Thr[k] {
		if x.T >= cut && x.V != v {
			list = append(list, x)
		}
	}
	// thresholds keep only what their evidence needs (memory per key)
	list = append(list, Snap{ID: ev.UUID, T: ev.Published.UnixMilli(), V: v})
	if len(list) >= s.count {
		delete(s.Thr, k)
		vals := make(map[string]int, len(list))
		for _, x := range list {
			vals[x.V]++
		}
		d.fire(c, &Hit{st: s, Pattern: p, Key: k, Ev: ev, Steps: list, Values: vals, At: ev.Published})
		return
	}
	s.Thr[k] = list
}

func (d *ruleDetector) idle(c *Context, s *patState, ev *event.Event) {
	p := s.p
	if !p.matches(ev, d.p) {
		return
	}
	k := keyOf(ev, p.Key, nil)
	if k == "" {
		return
	}
	cur := Snap{ID: ev.UUID, T: ev.Published.UnixMilli(), Type: ev.EventType, IP: ev.Client.IPAddress}
	if last, ok := s.Last[k]; ok && cur.T-last.T >= s.idle.Milliseconds() {
		d.fire(c, &Hit{st: s, Pattern: p, Key: k, Ev: ev, Steps: []Snap{last, cur}, Gap: time.Duration(cur.T-last.T) * time.Millisecond, At: ev.Published})
	}
	if last, ok := s.Last[k]; !ok || cur.T >= last.T {
		s.Last[k] = cur
	}
}

func (d *ruleDetector) newTerm(c *Context, s *patState, ev *event.Event) {
	p := s.p
	if !p.matches(ev, d.p) {
		return
	}
	k := keyOf(ev, p.Key, nil)
	v := p.Term(ev)
	if k == "" || v == "" {
		return
	}
	now := ev.Published.UnixMilli()
	tk := s.Terms[k]
	if tk == nil {
		s.Terms[k] = &termKey{First: snapOf(ev, v), Vals: map[string]int64{v: now}}
		return
	}
	if _, seen := tk.Vals[v]; !seen {
		if now-tk.First.T >= s.learn.Milliseconds() {
			d.fire(c, &Hit{st: s, Pattern: p, Key: k, Ev: ev, Steps: []Snap{tk.First}, Term: v, At: ev.Published})
		}
		mx := p.MaxTerms
		if mx <= 0 {
			mx = 32
		}
		if len(tk.Vals) >= mx {
			oldK, oldT := "", int64(0)
			for tv, t := range tk.Vals {
				if oldK == "" || t < oldT || t == oldT && tv < oldK {
					oldK, oldT = tv, t
				}
			}
			delete(tk.Vals, oldK)
		}
	}
	if now > tk.Vals[v] {
		tk.Vals[v] = now
	}
}

// Prune drops partial matches, counts and memories past their windows.
func (d *ruleDetector) Prune(now time.Time) {
	ms := now.UnixMilli()
	for i := range d.pats {
		s := &d.pats[i]
		p := s.p
		switch {
		case len(p.Steps) > 0:
			win := s.win.Milliseconds()
			n := len(p.Steps)
			for k, sk := range s.Seq {
				live := false
				for j, pt := range sk.At {
					if pt == nil {
						continue
					}
					if j == n-1 && s.quiet > 0 {
						live = true // armed: fires on the next event past its deadline
						continue
					}
					if ms-pt.Steps[0].T > win {
						sk.At[j] = nil
						continue
					}
					live = true
				}
				if !live {
					delete(s.Seq, k)
				}
			}
			for k, c := range s.Cancelled {
				if ms-c > win {
					delete(s.Cancelled, k)
				}
			}
		case p.Count > 0:
			cut := ms - s.win.Milliseconds()
			for k, list := range s.Thr {
				keep := list[:0]
				for _, x := range list {
					if x.T >= cut {
						keep = append(keep, x)
					}
				}
				if len(keep) == 0 {
					delete(s.Thr, k)
				} else {
					s.Thr[k] = keep
				}
			}
		case p.Idle > 0:
			ret := p.Retain
			if ret <= 0 {
				ret = 400 * 24 * time.Hour
			}
			cut := ms - ret.Milliseconds()
			for k, l := range s.Last {
				if l.T < cut {
					delete(s.Last, k)
				}
			}
		case p.Term != nil:
			ret := p.Retain
			if ret <= 0 {
				ret = 30 * 24 * time.Hour
			}
			cut := ms - ret.Milliseconds()
			for k, tk := range s.Terms {
				for v, t := range tk.Vals {
					if t < cut {
						delete(tk.Vals, v)
					}
				}
				if len(tk.Vals) == 0 {
					delete(s.Terms, k)
				}
			}
		}
	}
}

type ruleState struct {
	SawTrusted bool        `json:"sawTrusted,omitempty"`
	Patterns   []*patState `json:"patterns"`
}

// MarshalState writes the open sequences, counts and memories, per
// pattern name (so a newer rule definition with other patterns keeps the
// state of the patterns it still has).
func (d *ruleDetector) MarshalState() ([]byte, error) {
	st := ruleState{SawTrusted: d.sawTrusted, Patterns: make([]*patState, len(d.pats))}
	for i := range d.pats {
		d.pats[i].Name = d.pats[i].p.Name
		st.Patterns[i] = &d.pats[i]
	}
	return json.Marshal(st)
}

// UnmarshalState restores what MarshalState wrote. Patterns the rule no
// longer has are ignored, patterns the state lacks start empty; malformed
// state is an error naming the rule, pattern and key.
func (d *ruleDetector) UnmarshalState(data []byte) error {
	var st ruleState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("rule %s: %w", d.r.ID, err)
	}
	byName := make(map[string]*patState, len(st.Patterns))
	for _, ns := range st.Patterns {
		if ns != nil && ns.Name != "" {
			byName[ns.Name] = ns
		}
	}
	pats := make([]patState, len(d.pats))
	for i := range d.pats {
		p := d.pats[i].p
		fresh := patState{}
		fresh.init(p, d.p)
		ns := byName[p.Name]
		if ns == nil {
			pats[i] = fresh
			continue
		}
		if ns.Seq != nil && fresh.Seq != nil {
			for k, sk := range ns.Seq {
				if sk == nil || len(sk.At) != len(p.Steps) {
					return fmt.Errorf("rule %s/%s: key %q: malformed sequence state", d.r.ID, p.Name, k)
				}
				for _, pt := range sk.At {
					if pt != nil && len(pt.Steps) == 0 {
						return fmt.Errorf("rule %s/%s: key %q: empty partial match", d.r.ID, p.Name, k)
					}
				}
			}
			fresh.Seq = ns.Seq
		}
		if ns.Cancelled != nil && fresh.Cancelled != nil {
			fresh.Cancelled = ns.Cancelled
		}
		if ns.Thr != nil && fresh.Thr != nil {
			fresh.Thr = ns.Thr
		}
		if ns.Last != nil && fresh.Last != nil {
			fresh.Last = ns.Last
		}
		if ns.Terms != nil && fresh.Terms != nil {
			for k, tk := range ns.Terms {
				if tk == nil || tk.Vals == nil {
					return fmt.Errorf("rule %s/%s: key %q: malformed term state", d.r.ID, p.Name, k)
				}
			}
			fresh.Terms = ns.Terms
		}
		if fresh.Seq != nil {
			fresh.NextDeadline = ns.NextDeadline
		}
		pats[i] = fresh
	}
	d.pats = pats
	d.sawTrusted = st.SawTrusted
	return nil
}

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
	v, ok := ev.Debug.Data[key]
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
