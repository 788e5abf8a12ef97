package detect

// Persistence of a rule detector's state. It is saved per entry (see
// entryState): one entry per pattern and key, "<pattern name>/<key,
// path-escaped>", stored as
//
//	detect.s/<key, path-escaped>/<rule id>/<pattern name>
//
// (next to the other state of the same login, address or session, see
// state_layout.go) holding that key's open sequence (and cancel time),
// threshold events, last-seen event or new-term memory, plus one small
// header entry "h" (stored as "detect.s/h/<rule id>") with the rule's trusted-IP flag and the patterns'
// next quiet deadlines (absent while both are empty). Every change of a
// key — by an event or by Prune — marks its entry, so a commit writes the
// keys its events touched and deletes the keys that expired. The whole
// form (MarshalState / UnmarshalState) stays for state saved by older
// versions.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// ruleEntryKey names a changed entry: a pattern (index into pats) and a
// key; pattern -1 is the header.
type ruleEntryKey struct {
	p int
	k string
}

const ruleHeaderEntry = "h"

var _ entryState = (*ruleDetector)(nil)

// ruleEntry is one key's state of one pattern.
type ruleEntry struct {
	Seq       *seqKey  `json:"seq,omitempty"`
	Cancelled *int64   `json:"cancelled,omitempty"`
	Thr       []Snap   `json:"thr,omitempty"`
	Last      *Snap    `json:"last,omitempty"`
	Term      *termKey `json:"term,omitempty"`
}

// ruleHeader is the rule's state that is not per key.
type ruleHeader struct {
	SawTrusted   bool             `json:"sawTrusted,omitempty"`
	NextDeadline map[string]int64 `json:"nd,omitempty"` // pattern name -> unix ms
}

// markKey records that key k of pattern s changed (once changes are
// tracked, see changeSet).
func (d *ruleDetector) markKey(s *patState, k string) {
	if !d.changes.on {
		return
	}
	if d.dirty == nil {
		d.dirty = make(map[ruleEntryKey]struct{})
	}
	d.dirty[ruleEntryKey{p: d.patIndex(s), k: k}] = struct{}{}
}

// markHeader records that the header changed.
func (d *ruleDetector) markHeader() {
	if !d.changes.on {
		return
	}
	if d.dirty == nil {
		d.dirty = make(map[ruleEntryKey]struct{})
	}
	d.dirty[ruleEntryKey{p: -1}] = struct{}{}
}

func (d *ruleDetector) patIndex(s *patState) int {
	for i := range d.pats {
		if &d.pats[i] == s {
			return i
		}
	}
	panic("rule " + d.r.ID + ": pattern state not of this rule")
}

// stateChanges turns the changed keys into entry keys.
func (d *ruleDetector) stateChanges() *changeSet {
	for ek := range d.dirty {
		if ek.p < 0 {
			d.changes.mark(ruleHeaderEntry)
		} else {
			d.changes.mark(ruleEntryName(d.pats[ek.p].p.Name, ek.k))
		}
	}
	clear(d.dirty)
	return &d.changes
}

func ruleEntryName(pattern, key string) string { return pattern + "/" + url.PathEscape(key) }

func (d *ruleDetector) stateEntryKeys() []string {
	var out []string
	if d.header() != nil {
		out = append(out, ruleHeaderEntry)
	}
	for i := range d.pats {
		s := &d.pats[i]
		name := s.p.Name
		for k := range s.Seq {
			out = append(out, ruleEntryName(name, k))
		}
		for k := range s.Cancelled {
			if _, ok := s.Seq[k]; !ok {
				out = append(out, ruleEntryName(name, k))
			}
		}
		for k := range s.Thr {
			out = append(out, ruleEntryName(name, k))
		}
		for k := range s.Last {
			out = append(out, ruleEntryName(name, k))
		}
		for k := range s.Terms {
			out = append(out, ruleEntryName(name, k))
		}
	}
	return out
}

func (d *ruleDetector) header() *ruleHeader {
	var h ruleHeader
	h.SawTrusted = d.sawTrusted
	for i := range d.pats {
		if nd := d.pats[i].NextDeadline; nd != 0 {
			if h.NextDeadline == nil {
				h.NextDeadline = map[string]int64{}
			}
			h.NextDeadline[d.pats[i].p.Name] = nd
		}
	}
	if !h.SawTrusted && h.NextDeadline == nil {
		return nil
	}
	return &h
}

// splitRuleEntry returns the pattern state and the key an entry names
// (nil: a pattern the rule no longer has).
func (d *ruleDetector) splitRuleEntry(name string) (*patState, string, error) {
	pn, ek, ok := strings.Cut(name, "/")
	if !ok {
		return nil, "", fmt.Errorf("rule %s: malformed state entry %q", d.r.ID, name)
	}
	k, err := url.PathUnescape(ek)
	if err != nil {
		return nil, "", fmt.Errorf("rule %s: state entry %q: %w", d.r.ID, name, err)
	}
	for i := range d.pats {
		if d.pats[i].p.Name == pn {
			return &d.pats[i], k, nil
		}
	}
	return nil, k, nil
}

func (d *ruleDetector) marshalEntry(name string) ([]byte, bool, error) {
	if name == ruleHeaderEntry {
		h := d.header()
		if h == nil {
			return nil, false, nil
		}
		b, err := json.Marshal(h)
		return b, true, err
	}
	s, k, err := d.splitRuleEntry(name)
	if err != nil || s == nil {
		return nil, false, err
	}
	var e ruleEntry
	found := false
	if sk, ok := s.Seq[k]; ok {
		e.Seq, found = sk, true
	}
	if c, ok := s.Cancelled[k]; ok {
		e.Cancelled, found = &c, true
	}
	if l, ok := s.Thr[k]; ok {
		e.Thr, found = l, true
	}
	if l, ok := s.Last[k]; ok {
		e.Last, found = &l, true
	}
	if tk, ok := s.Terms[k]; ok {
		e.Term, found = tk, true
	}
	if !found {
		return nil, false, nil
	}
	b, err := json.Marshal(e)
	return b, true, err
}

// unmarshalEntries restores what marshalEntry wrote. Entries of patterns
// the rule no longer has, or of another kind than the pattern now is, are
// ignored; malformed entries are an error naming the rule, pattern and key.
func (d *ruleDetector) unmarshalEntries(m map[string][]byte) error {
	for name, b := range m {
		if name == ruleHeaderEntry {
			var h ruleHeader
			if err := json.Unmarshal(b, &h); err != nil {
				return fmt.Errorf("rule %s: header: %w", d.r.ID, err)
			}
			d.sawTrusted = h.SawTrusted
			for i := range d.pats {
				if s := &d.pats[i]; s.Seq != nil {
					s.NextDeadline = h.NextDeadline[s.p.Name]
				}
			}
			continue
		}
		s, k, err := d.splitRuleEntry(name)
		if err != nil {
			return err
		}
		if s == nil {
			continue
		}
		var e ruleEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return fmt.Errorf("rule %s/%s: key %q: %w", d.r.ID, s.p.Name, k, err)
		}
		if err := d.restoreKey(s, k, &e); err != nil {
			return err
		}
	}
	return nil
}

// restoreKey puts one key's state into the pattern's maps, checking it.
func (d *ruleDetector) restoreKey(s *patState, k string, e *ruleEntry) error {
	p := s.p
	s.pruneUnknown()
	if e.Seq != nil && s.Seq != nil {
		if len(e.Seq.At) != len(p.Steps) {
			return fmt.Errorf("rule %s/%s: key %q: malformed sequence state", d.r.ID, p.Name, k)
		}
		for _, pt := range e.Seq.At {
			if pt != nil && len(pt.Steps) == 0 {
				return fmt.Errorf("rule %s/%s: key %q: empty partial match", d.r.ID, p.Name, k)
			}
		}
		s.Seq[k] = e.Seq
	}
	if e.Cancelled != nil && s.Cancelled != nil {
		s.Cancelled[k] = *e.Cancelled
	}
	if len(e.Thr) > 0 && s.Thr != nil {
		s.Thr[k] = e.Thr
	}
	if e.Last != nil && s.Last != nil {
		s.Last[k] = *e.Last
	}
	if e.Term != nil && s.Terms != nil {
		if e.Term.Vals == nil {
			return fmt.Errorf("rule %s/%s: key %q: malformed term state", d.r.ID, p.Name, k)
		}
		s.Terms[k] = e.Term
	}
	return nil
}

// ruleState is the whole form of a rule detector's state (older versions).
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
