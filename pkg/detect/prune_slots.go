package detect

import "time"

// Spread pruning. The engine prunes every hour of event time (pruneEvery);
// done in one call, the deletes of every key that expired over the hour
// before land in one page's commit: at 100 000 tracked users, 7 531
// deletes in one commit of ~3.6 (docs/performance.md). A detector that is
// a slicedPruner splits its prune in two:
//
//   - pruneScan, at the hourly prune, walks its entries as Prune did (with
//     its expiry bound, expiry.go) but changes nothing: it queues each key
//     that has something to remove in the key's slot (pruneQueue), one of
//     pruneSlots by the key's hash;
//   - pruneSlot, called by the engine as event time passes each minute of
//     the hour (slot = the minute), prunes the queued keys of that slot
//     with the same per-key rule at the current time.
//
// So a page's deletes are those of the slots its event time covers: in
// proportion to the event time, not to the tracked users. Every key the
// scan queued is pruned within the hour after the scan (every slot is
// passed before the next scan), so an entry lives at most two hours past
// its expiry (one before); detectors slice only the maps whose readers
// ignore an entry past its window (a threshold's events, a sequence's
// partial matches and cancels, a session's origin), so the alerts do not
// depend on when an expired entry goes. The queue is not state: it is
// rebuilt by the next scan (a loaded engine's queues are empty; the
// entries they held are still expired then and queued again, so across a
// restart an entry may live three hours past its expiry), and a key
// queued but changed since is pruned by the same rule (or kept).
//
// Prune (the Detector interface) stays the whole prune: the scan, then
// every slot.
const (
	pruneSlots   = 60
	pruneSlotSec = int64(pruneEvery/time.Second) / pruneSlots
)

// slicedPruner is a detector whose hourly prune is spread over the hour.
type slicedPruner interface {
	pruneScan(now time.Time)
	pruneSlot(now time.Time, slot int)
}

// slotOf is the prune slot of a key's 64-bit hash.
func slotOf(h uint64) int { return int(h % pruneSlots) }

// slotOfKey is the prune slot of a string key.
func slotOfKey(k string) int { return slotOf(hash64(k)) }

// pruneQueue holds the keys a scan found with something to prune, by slot.
type pruneQueue[K comparable] struct {
	slots [pruneSlots][]K
}

func (q *pruneQueue[K]) add(slot int, k K) { q.slots[slot] = append(q.slots[slot], k) }

// take empties the slot and returns its keys (valid until the slot's next
// add).
func (q *pruneQueue[K]) take(slot int) []K {
	l := q.slots[slot]
	q.slots[slot] = l[:0]
	return l
}

// queued is how many keys wait (tests).
func (q *pruneQueue[K]) queued() int {
	n := 0
	for i := range q.slots {
		n += len(q.slots[i])
	}
	return n
}

// pruneWhole is the whole prune of a slicedPruner: the scan, then every
// slot.
func pruneWhole(d slicedPruner, now time.Time) {
	d.pruneScan(now)
	for s := 0; s < pruneSlots; s++ {
		d.pruneSlot(now, s)
	}
}

// pruneSlices prunes the slots of the minutes of event time after the
// last slot pruned up to sec (all of them when an hour or more passed).
func (e *Engine) pruneSlices(now time.Time, sec int64) {
	from, to := e.slotAt/pruneSlotSec+1, sec/pruneSlotSec
	if to < from || e.pruneLump {
		return
	}
	if to-from >= pruneSlots {
		from = to - pruneSlots + 1
	}
	for m := from; m <= to; m++ {
		slot := int(m % pruneSlots)
		for _, d := range e.all {
			if sp, ok := d.det.(slicedPruner); ok {
				sp.pruneSlot(now, slot)
			}
		}
	}
	e.slotAt = sec
}
