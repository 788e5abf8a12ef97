package detect

// Incremental state of a detector. A detector whose state is a set of
// independent entries (one per user, per IP, per session) implements
// entryState: the engine then persists each entry under its own key
// (entryStateKey: "detect.s/<subject>/<detector id>/<part>" for an entry
// key "<part>/<subject>", clustered by subject, see state_layout.go), and
// SaveStateDelta writes only the
// entries the detector marked as changed since the previous save — the
// commit cost follows the events of the page, not the number of users.
// A detector without it is saved whole under "detect.<detector id>", and
// only when its bytes changed.
//
// Making a detector incremental is mechanical:
//
//  1. embed changeSet in the detector and call d.mark(key) wherever an
//     entry is created, modified or deleted (Handle and Prune);
//  2. stateEntryKeys lists the keys of every existing entry;
//  3. marshalEntry returns one entry's bytes (ok false: it no longer
//     exists, the stored key is deleted);
//  4. unmarshalEntries restores every stored entry at start (the keys
//     without the detector prefix).
//
// Entry keys must not be empty. MarshalState / UnmarshalState stay
// implemented: a state saved whole by an older version still loads.
type entryState interface {
	stateChanges() *changeSet
	stateEntryKeys() []string
	marshalEntry(key string) (b []byte, ok bool, err error)
	unmarshalEntries(m map[string][]byte) error
}

// changeSet is the set of entry keys changed since the last state save.
// The zero value is ready to use. It records nothing until its first take
// (the engine's first SaveStateDelta or LoadState): an engine whose state
// is never saved (a replay) does not accumulate every key it ever saw.
type changeSet struct {
	keys map[string]struct{}
	on   bool
}

func (c *changeSet) stateChanges() *changeSet { return c }

// mark records that the entry under key changed (or was deleted).
func (c *changeSet) mark(key string) {
	if !c.on {
		return
	}
	if c.keys == nil {
		c.keys = make(map[string]struct{})
	}
	c.keys[key] = struct{}{}
}

// take returns the changed keys and forgets them; from then on changes
// are recorded.
func (c *changeSet) take() []string {
	c.on = true
	if len(c.keys) == 0 {
		return nil
	}
	out := make([]string, 0, len(c.keys))
	for k := range c.keys {
		out = append(out, k)
	}
	clear(c.keys)
	return out
}

// Detectors with per-entry state.
var (
	_ entryState = (*sessionHijack)(nil)
	_ entryState = (*impossibleTravel)(nil)
)

// Detectors converted after the framework (one file each).
var (
	_ entryState = (*failedLogins)(nil)
	_ entryState = (*mfaFatigue)(nil)
	_ entryState = (*unusualAdmin)(nil)
	_ entryState = (*suspiciousIP)(nil)
	_ entryState = (*passwordSpray)(nil)
	_ entryState = (*massDestructive)(nil)
	_ entryState = (*anonymousIP)(nil)
)
