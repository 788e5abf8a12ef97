package detect

// The rule pack's type masks: most matches of a rule name the event types
// they take, and testing an event's type against each match's list (a
// string compare or prefix test per entry) on every event was the larger
// part of the rule pack's matching. A rule detector numbers its matches
// (one bit each) and works out, once per event type, which of them take
// the type and whether its gate refuses it; Handle reads that mask by the
// type's slot in the engine (Context.typeSlot) and a match's type test is
// one AND. A pattern none of whose matches takes the type is not run at
// all (unless it is a quiet sequence, whose deadlines are checked on every
// event). Exact by construction: the mask of a type is the type tests'
// results for that type, which depend on nothing else.

import "github.com/oktaguard/oktaguard/pkg/event"

// maxMaskedMatches is the number of matches a rule's masks can number (one
// bit each); a rule with more tests types per match and event as before
// (no rule of the pack has half as many).
const maxMaskedMatches = 64

// typeMask is what a rule detector worked out for one event type: whether
// its gate refuses the type, and the bits of the matches that take it.
type typeMask struct {
	known, gated bool
	bits         uint64
}

// patBits are the bits of one pattern's matches (0: the detector has no
// masks), and their union.
type patBits struct {
	match, collect uint64
	steps, cancel  []uint64
	any            uint64
}

// numberMatches gives every match of the rule's patterns its bit.
func (d *ruleDetector) numberMatches() {
	d.bits = make([]patBits, len(d.pats))
	var list []*Match
	for i := range d.pats {
		p := d.pats[i].p
		if len(p.Steps) == 0 {
			list = append(list, &p.Match)
			continue
		}
		for j := range p.Steps {
			list = append(list, &p.Steps[j].Match)
		}
		for j := range p.Cancel {
			list = append(list, &p.Cancel[j])
		}
		if p.Collect != nil {
			list = append(list, &p.Collect.Match)
		}
	}
	masked := len(list) <= maxMaskedMatches
	n := 0
	next := func() uint64 {
		if !masked {
			return 0
		}
		n++
		return 1 << (n - 1)
	}
	for i := range d.pats {
		p, b := d.pats[i].p, &d.bits[i]
		b.steps, b.cancel = make([]uint64, len(p.Steps)), make([]uint64, len(p.Cancel))
		if len(p.Steps) == 0 {
			b.match = next()
			b.any = b.match
			continue
		}
		for j := range p.Steps {
			b.steps[j] = next()
			b.any |= b.steps[j]
		}
		for j := range p.Cancel {
			b.cancel[j] = next()
			b.any |= b.cancel[j]
		}
		if p.Collect != nil {
			b.collect = next()
			b.any |= b.collect
		}
	}
	if masked {
		d.matchList = list
	}
}

// newTypeMask works out the detector's mask of the event type typ and
// remembers it by the type's slot k in the engine (Context.typeSlot; 0:
// not remembered, masks[0] is never known); Handle reads a known mask
// straight from masks.
func (d *ruleDetector) newTypeMask(k int, typ string) *typeMask {
	m := &typeMask{known: k > 0, gated: d.gated(typ)}
	for i, x := range d.matchList {
		if x.typeOK(typ) {
			m.bits |= 1 << i
		}
	}
	if k > 0 {
		if k >= len(d.masks) {
			d.masks = append(d.masks, make([]typeMask, k+1-len(d.masks))...)
		}
		d.masks[k] = *m
		return &d.masks[k]
	}
	return m
}

// match is m.matches with the type test read from the current event's
// mask (bit is m's bit; 0 when the detector has no masks).
func (d *ruleDetector) match(c *Context, m *Match, bit uint64, ev *event.Event) bool {
	if d.cur&bit == 0 && bit != 0 {
		return false // the type is not taken: most calls
	}
	return d.matchRest(c, m, bit, ev)
}

func (d *ruleDetector) matchRest(c *Context, m *Match, bit uint64, ev *event.Event) bool {
	if bit != 0 {
		return m.pass(c, ev, d.p)
	}
	return m.matches(c, ev, d.p)
}
