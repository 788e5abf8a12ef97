package pipeline

// recentUUIDs is Replay's duplicate filter: the uuids of the events of the
// last replayDedupHorizon of event time (measured back from the newest
// event seen), forgotten in the order they were added as event time moves
// on. The set therefore holds about one horizon of events, however long
// the input: a set swept only every so many events grows to that many
// entries, and a lookup in a large set that keeps losing and gaining
// entries costs several times one in a small one (Replay spent 3 % of its
// CPU there with a sweep every 16 384 events). The last recentKeep uuids
// are kept whatever their time, so that one event stamped far in the
// future does not switch the filter off for the events after it.
type recentUUIDs struct {
	set    map[string]struct{}
	queue  []recentUUID // in the order added; queue[head:] are in set
	head   int
	newest int64 // unix ms of the newest event added
}

// recentKeep is how many of the latest uuids recentUUIDs keeps whatever
// their published time.
const recentKeep = 1024

type recentUUID struct {
	uuid string
	pub  int64 // unix ms
}

func newRecentUUIDs() *recentUUIDs {
	return &recentUUIDs{set: map[string]struct{}{}}
}

// seen reports whether uuid was added within the horizon; if not, it adds
// it with its published time pub (unix ms).
func (r *recentUUIDs) seen(uuid string, pub int64) bool {
	if _, dup := r.set[uuid]; dup {
		return true
	}
	r.newest = max(r.newest, pub)
	old := r.newest - replayDedupHorizon.Milliseconds()
	for len(r.queue)-r.head > recentKeep && r.queue[r.head].pub < old {
		delete(r.set, r.queue[r.head].uuid)
		r.queue[r.head] = recentUUID{}
		r.head++
	}
	if r.head > 1024 && r.head*2 > len(r.queue) {
		n := copy(r.queue, r.queue[r.head:])
		clear(r.queue[n:])
		r.queue, r.head = r.queue[:n], 0
	}
	r.set[uuid] = struct{}{}
	r.queue = append(r.queue, recentUUID{uuid, pub})
	return false
}
