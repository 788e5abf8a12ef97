package detect

// The rule pack's evaluators: how a rule detector runs its patterns —
// single events, thresholds, idle gaps, new terms and ordered sequences —
// over events, prunes what its windows no longer need and persists its
// state. The language (Rule, Pattern, Hit) is in rules_lang.go, the
// registration of the pack in rules_register.go and the keys and
// predicates rule definitions share in rules_predicates.go.

import (
	"sort"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// ---- matching ----

func (m *Match) matches(c *Context, ev *event.Event, p Params) bool {
	return m.typeOK(ev.EventType) && m.pass(c, ev, p)
}

// typeOK reports whether m's Types take an event of type typ.
func (m *Match) typeOK(typ string) bool {
	if len(m.Types) == 0 {
		return true
	}
	for _, t := range m.Types {
		if n := len(t); n > 0 && t[n-1] == '*' {
			if strings.HasPrefix(typ, t[:n-1]) {
				return true
			}
		} else if t == typ {
			return true
		}
	}
	return false
}

// pass is the rest of matches, once the type is taken: Where, then
// Baseline.
func (m *Match) pass(c *Context, ev *event.Event, p Params) bool {
	return (m.Where == nil || m.Where(ev, p)) && (m.Baseline == nil || m.Baseline(c, ev, p))
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
	// incremental state (rules_state.go): keys changed since the last save
	dirty   map[ruleEntryKey]struct{}
	changes changeSet
	// type masks (rules_types.go): the rule's matches by bit, the bits of
	// each pattern's matches (by index in pats), the masks by type slot
	// and the current event's
	matchList []*Match
	bits      []patBits
	masks     []typeMask
	cur       uint64
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

// skipsType: Handle does nothing for an event of type typ (the engine's
// typeGate): the rule's gate refuses the type and the rule does not watch
// for trusted networks (which Handle notes on every event).
func (d *ruleDetector) skipsType(typ string) bool {
	return !d.needTrusted && d.gated(typ)
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
	// While prune is known and at or after now (unix ms), Prune has
	// nothing to do for this pattern: every entry expires after it and no
	// sequence key is left without a partial match (expiry.go). Prune sets
	// it after walking the pattern's entries; an entry added with an
	// earlier expiry lowers it (expiresAt); a partial match cleared outside
	// Prune, or state restored, makes it unknown. Prune runs every hour of
	// event time, and walking every key of a 30-day window each hour when
	// none can have expired was most of its cost.
	prune expiry
	// due: the keys the last scan found with something to prune, by
	// slot (prune_slots.go)
	due pruneQueue[string]
}

// expiresAt notes an entry that Prune removes once past t (unix ms).
func (s *patState) expiresAt(t int64) { s.prune.note(t) }

// pruneUnknown says Prune must walk the pattern's entries next time.
func (s *patState) pruneUnknown() { s.prune.forget() }

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
		d.markHeader()
	}
	var tm *typeMask
	if k := c.typeSlot; k < len(d.masks) && d.masks[k].known {
		tm = &d.masks[k]
	} else {
		tm = d.newTypeMask(k, ev.EventType)
	}
	if tm.gated {
		return
	}
	d.cur = tm.bits
	for i := range d.pats {
		s, b := &d.pats[i], &d.bits[i]
		p := s.p
		if p.NeedTrusted && !d.sawTrusted {
			continue
		}
		if b.any != 0 && tm.bits&b.any == 0 && s.quiet <= 0 {
			continue // no match of the pattern takes the type
		}
		switch {
		case len(p.Steps) > 0:
			d.sequence(c, s, b, ev)
		case p.Count > 0:
			d.threshold(c, s, b, ev)
		case p.Idle > 0:
			d.idle(c, s, b, ev)
		case p.Term != nil:
			d.newTerm(c, s, b, ev)
		default:
			if d.match(c, &p.Match, b.match, ev) {
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
	// a completed sequence tells the whole story of the incident it joins
	// (created, then used elsewhere): it explains the alert from then on
	if len(h.Steps) > 1 {
		f.Summarises = true
	}
	c.Emit(f)
}

func (d *ruleDetector) sequence(c *Context, s *patState, b *patBits, ev *event.Event) {
	p := s.p
	now := ev.Published.UnixMilli()
	win := s.win.Milliseconds()
	if nd := s.NextDeadline; s.quiet > 0 {
		defer func() {
			if s.NextDeadline != nd {
				d.markHeader()
			}
		}()
	}
	// quiet sequences whose deadline passed fire first (event time moved on)
	if s.quiet > 0 && s.NextDeadline != 0 && now > s.NextDeadline {
		d.expire(c, s, now, ev)
	}
	for j := range p.Cancel {
		if cm := &p.Cancel[j]; d.match(c, cm, b.cancel[j], ev) {
			k := keyOf(ev, cm.Key, p.Key)
			if k != "" {
				_, had := s.Seq[k]
				delete(s.Seq, k)
				if p.CancelBefore {
					s.Cancelled[k] = now
					s.expiresAt(now + win)
				}
				if had || p.CancelBefore {
					d.markKey(s, k)
				}
			}
		}
	}
	if cl := p.Collect; cl != nil && d.match(c, &cl.Match, b.collect, ev) {
		if k := keyOf(ev, cl.Key, p.Key); k != "" {
			if sk := s.Seq[k]; sk != nil {
				v := cl.Value(ev)
				mx := cl.Max
				if mx <= 0 {
					mx = 50
				}
				for _, pt := range sk.At {
					if pt == nil || v == "" || s.closed(pt, now) {
						continue
					}
					if pt.Vals == nil {
						pt.Vals = map[string]int{}
					}
					if _, ok := pt.Vals[v]; ok || len(pt.Vals) < mx {
						pt.Vals[v]++
						d.markKey(s, k)
					}
				}
			}
		}
	}
	n := len(p.Steps)
	for i := n - 1; i >= 1; i-- {
		st := &p.Steps[i]
		if !d.match(c, &st.Match, b.steps[i], ev) {
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
		s.expiresAt(np.Steps[0].T + win)
		d.markKey(s, k)
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
		s.pruneUnknown() // the key may be left without a partial match
		d.fire(c, &Hit{st: s, Pattern: p, Key: k, Ev: ev, Steps: np.Steps, Values: np.Vals, At: ev.Published})
	}
	if d.match(c, &p.Steps[0].Match, b.steps[0], ev) {
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
			s.expiresAt(sk.At[0].Steps[0].T + win)
			d.markKey(s, k)
			if n == 1 && s.quiet > 0 {
				// a one-step quiet sequence: "X and no Cancel within Quiet"
				sk.At[0].Deadline = now + s.quiet.Milliseconds()
				if s.NextDeadline == 0 || sk.At[0].Deadline < s.NextDeadline {
					s.NextDeadline = sk.At[0].Deadline
				}
			}
		}
	}
}

// closed: partial pt gathers no more values at now (unix ms). One that
// waits out its quiet period is open until its deadline; any other can
// still advance only within the window from its first step, so a value
// added past that would never be reported.
func (s *patState) closed(pt *partial, now int64) bool {
	if pt.Deadline != 0 {
		return now > pt.Deadline
	}
	return now-pt.Steps[0].T > s.win.Milliseconds()
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
			s.pruneUnknown()
			d.markKey(s, k)
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

func (d *ruleDetector) threshold(c *Context, s *patState, b *patBits, ev *event.Event) {
	p := s.p
	if !d.match(c, &p.Match, b.match, ev) {
		return
	}
	k := keyOf(ev, p.Key, nil)
	if k == "" {
		return
	}
	v := ev.UUID
	defer d.markKey(s, k)
	if p.Distinct != nil {
		v = p.Distinct(ev)
		if v == "" {
			return
		}
	}
	now := ev.Published.UnixMilli()
	cut := now - s.win.Milliseconds()
	// filtered in place, as Prune does: nothing else holds a key's list
	// (a fired list leaves the map with its Hit; saves marshal it)
	old := s.Thr[k]
	list := old[:0]
	for _, x := range old {
		if x.T >= cut && x.V != v {
			list = append(list, x)
		}
	}
	clear(old[len(list):]) // no stale strings kept alive past the end
	// thresholds keep only what their evidence needs (memory per key)
	list = append(list, Snap{ID: ev.UUID, T: ev.Published.UnixMilli(), V: v})
	s.expiresAt(now + s.win.Milliseconds())
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

func (d *ruleDetector) idle(c *Context, s *patState, b *patBits, ev *event.Event) {
	p := s.p
	if !d.match(c, &p.Match, b.match, ev) {
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
		s.expiresAt(cur.T + p.retainIdle().Milliseconds())
		d.markKey(s, k)
	}
}

func (d *ruleDetector) newTerm(c *Context, s *patState, b *patBits, ev *event.Event) {
	p := s.p
	if !d.match(c, &p.Match, b.match, ev) {
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
		s.expiresAt(now + p.retainTerms().Milliseconds())
		d.markKey(s, k)
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
		d.markKey(s, k)
	}
	if now > tk.Vals[v] {
		tk.Vals[v] = now
		s.expiresAt(now + p.retainTerms().Milliseconds())
		d.markKey(s, k)
	}
}

// Prune drops partial matches, counts and memories past their windows:
// the scan, then every slot (prune_slots.go).
func (d *ruleDetector) Prune(now time.Time) { pruneWhole(d, now) }

// pruneScan is the hourly walk of the rule's entries. A pattern none of
// whose entries can have expired (its prune bound known and at or after
// now) is skipped: walking it would change nothing. Sequences (partial
// matches and cancels) and thresholds have their keys with something
// expired queued by slot (pruneSlot prunes them; their readers ignore an
// expired partial, cancel or event); idle and new-term memories, whose
// readers take what is there, are pruned here, as before.
func (d *ruleDetector) pruneScan(now time.Time) {
	ms := now.UnixMilli()
	for i := range d.pats {
		s := &d.pats[i]
		if s.prune.from(ms) {
			continue
		}
		s.prune.walk()
		p := s.p
		switch {
		case len(p.Steps) > 0:
			win := s.win.Milliseconds()
			n := len(p.Steps)
			for k, sk := range s.Seq {
				if s.seqDue(sk, n, ms, win) {
					s.due.add(slotOfKey(k), k)
					continue
				}
				for _, pt := range sk.At {
					if pt != nil {
						s.expiresAt(pt.Steps[0].T + win)
					}
				}
			}
			for k, c := range s.Cancelled {
				if ms-c > win {
					s.due.add(slotOfKey(k), k)
					continue
				}
				s.expiresAt(c + win)
			}
		case p.Count > 0:
			cut := ms - s.win.Milliseconds()
			for k, list := range s.Thr {
				lo := int64(0)
				for j, x := range list {
					if j == 0 || x.T < lo {
						lo = x.T
					}
				}
				if len(list) == 0 {
					continue
				}
				if lo < cut {
					s.due.add(slotOfKey(k), k)
					continue
				}
				s.expiresAt(lo + s.win.Milliseconds())
			}
		case p.Idle > 0:
			ret := p.retainIdle().Milliseconds()
			cut := ms - ret
			for k, l := range s.Last {
				if l.T < cut {
					delete(s.Last, k)
					d.markKey(s, k)
					continue
				}
				s.expiresAt(l.T + ret)
			}
		case p.Term != nil:
			ret := p.retainTerms().Milliseconds()
			cut := ms - ret
			for k, tk := range s.Terms {
				for v, t := range tk.Vals {
					if t < cut {
						delete(tk.Vals, v)
						d.markKey(s, k)
						continue
					}
					s.expiresAt(t + ret)
				}
				if len(tk.Vals) == 0 {
					delete(s.Terms, k)
				}
			}
		}
	}
}

// seqDue reports whether a sequence key has a partial match past the
// window or none live: what pruneSeqKey would change.
func (s *patState) seqDue(sk *seqKey, n int, ms, win int64) bool {
	live := false
	for j, pt := range sk.At {
		if pt == nil {
			continue
		}
		if s.partialGone(j, n, pt, ms, win) {
			return true
		}
		live = true
	}
	return !live
}

// partialGone reports whether prune drops partial match j (of n steps)
// at ms: one past the window, but an armed quiet one (it fires on the
// next event past its deadline).
func (s *patState) partialGone(j, n int, pt *partial, ms, win int64) bool {
	return (j != n-1 || s.quiet <= 0) && ms-pt.Steps[0].T > win
}

// pruneSlot prunes the queued keys of one slot at now.
func (d *ruleDetector) pruneSlot(now time.Time, slot int) {
	ms := now.UnixMilli()
	for i := range d.pats {
		s := &d.pats[i]
		for _, k := range s.due.take(slot) {
			if len(s.p.Steps) > 0 {
				d.pruneSeqKey(s, k, ms)
			} else if s.p.Count > 0 {
				d.pruneThrKey(s, k, ms)
			}
		}
	}
}

// pruneSeqKey drops a sequence key's partial matches and cancel past the
// window (the key when none is left) and notes what it keeps.
func (d *ruleDetector) pruneSeqKey(s *patState, k string, ms int64) {
	win := s.win.Milliseconds()
	if sk, ok := s.Seq[k]; ok {
		n := len(s.p.Steps)
		live := false
		for j, pt := range sk.At {
			if pt == nil {
				continue
			}
			if s.partialGone(j, n, pt, ms, win) {
				sk.At[j] = nil
				d.markKey(s, k)
				continue
			}
			live = true
			s.expiresAt(pt.Steps[0].T + win)
		}
		if !live {
			delete(s.Seq, k)
			d.markKey(s, k)
		}
	}
	if c, ok := s.Cancelled[k]; ok {
		if ms-c > win {
			delete(s.Cancelled, k)
			d.markKey(s, k)
		} else {
			s.expiresAt(c + win)
		}
	}
}

// pruneThrKey drops a threshold key's events past the window (the key
// when none is left) and notes what it keeps.
func (d *ruleDetector) pruneThrKey(s *patState, k string, ms int64) {
	list, ok := s.Thr[k]
	if !ok {
		return
	}
	cut := ms - s.win.Milliseconds()
	keep := list[:0]
	for _, x := range list {
		if x.T >= cut {
			keep = append(keep, x)
			s.expiresAt(x.T + s.win.Milliseconds())
		}
	}
	if len(keep) == len(list) {
		return
	}
	clear(list[len(keep):]) // no stale strings kept alive past the end
	d.markKey(s, k)
	if len(keep) == 0 {
		delete(s.Thr, k)
	} else {
		s.Thr[k] = keep
	}
}

// retainIdle is how long an idle pattern remembers a key's last event.
func (p *Pattern) retainIdle() time.Duration {
	if p.Retain > 0 {
		return p.Retain
	}
	return 400 * 24 * time.Hour
}

// retainTerms is how long a new-term pattern remembers a term.
func (p *Pattern) retainTerms() time.Duration {
	if p.Retain > 0 {
		return p.Retain
	}
	return 30 * 24 * time.Hour
}
