package detect

import "math"

// expiry is a lower bound on the times (unix s or ms) or days of one map
// of a detector's entries, so that the hourly Prune skips a walk that
// could remove nothing, as the rule pack's patState.prune does: Prune
// removes the entries whose time is before a cut that only grows with
// event time, so when the bound is at or after the cut, none goes.
// Prune runs every hour of event time; the hourly walks of every user's
// or address's entries were about a sixth of the detectors' CPU in a
// profile of replay (docs/performance.md).
//
// A walk starts it anew (walk) and notes every entry it keeps; every
// entry written outside Prune is noted with its time (note), and state
// loaded wholesale makes it unknown (forget), as does the zero value: an
// unknown bound never skips.
type expiry struct {
	min   int64
	known bool
}

// note lowers the bound to an entry's time t.
func (e *expiry) note(t int64) {
	if t < e.min {
		e.min = t
	}
}

// forget makes the bound unknown: the next Prune walks.
func (e *expiry) forget() { e.known = false }

// walk starts the bound of a full walk, which notes what it keeps.
func (e *expiry) walk() { e.min, e.known = math.MaxInt64, true }

// from reports whether every entry's time is known to be at or after t.
func (e *expiry) from(t int64) bool { return e.known && e.min >= t }
