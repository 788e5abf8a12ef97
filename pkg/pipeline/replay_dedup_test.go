package pipeline

import (
	"fmt"
	"testing"
	"time"
)

// TestRecentUUIDs: Replay's duplicate filter skips a uuid seen within the
// horizon, forgets older ones so that its set stays near one horizon of
// events (plus the last recentKeep) however long the input, and one event
// stamped far in the future does not switch it off for the events after.
func TestRecentUUIDs(t *testing.T) {
	r := newRecentUUIDs()
	hour := replayDedupHorizon.Milliseconds()
	const perHour = 3000
	step := hour / perHour
	for i := 0; i < 10*perHour; i++ {
		u := fmt.Sprintf("u%d", i)
		pub := int64(i) * step
		if r.seen(u, pub) {
			t.Fatalf("event %d: fresh uuid taken for a duplicate", i)
		}
		// a duplicate from half an hour ago (an overlapping export) is skipped
		if i >= perHour/2 && !r.seen(fmt.Sprintf("u%d", i-perHour/2), pub) {
			t.Fatalf("event %d: duplicate within the horizon not seen", i)
		}
		if n := len(r.set); n > perHour+recentKeep+1 {
			t.Fatalf("event %d: %d uuids held, want at most one hour (%d) plus %d", i, n, perHour, recentKeep)
		}
	}
	if len(r.queue) > 2*(perHour+recentKeep)+1024 {
		t.Fatalf("queue holds %d entries", len(r.queue))
	}
	// a uuid two hours old is forgotten
	if r.seen("u0", 10*perHour*step) {
		t.Fatal("uuid older than the horizon still remembered")
	}

	// far future: the events after it are still de-duplicated among themselves
	f := newRecentUUIDs()
	now := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	f.seen("future", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	for i := 0; i < recentKeep; i++ {
		u := fmt.Sprintf("v%d", i)
		if f.seen(u, now+int64(i)) || !f.seen(u, now+int64(i)) {
			t.Fatalf("event %d after a far-future one: duplicate not seen", i)
		}
	}
}
