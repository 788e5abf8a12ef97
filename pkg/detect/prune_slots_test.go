package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// wholePruned is e's state pruned whole at now, on a copy (e unchanged):
// what the hourly prune before the slots would have left.
func wholePruned(t *testing.T, cfg Config, e *Engine, now time.Time) map[string][]byte {
	t.Helper()
	m, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewEngine(cfg, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadState(m); err != nil {
		t.Fatal(err)
	}
	c.pruneLump = true
	c.prune(now)
	out, err := c.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPruneSlicedExact: spreading the detectors' prunes over the hour
// (prune_slots.go) changes neither the alerts nor what is live: over 40
// days of a generated org with attacks and late events, an engine whose
// prunes are sliced raises exactly the alerts of one pruning whole every
// hour (the behaviour before), its stored state (the deltas applied) is
// its state after every page, and both states pruned whole at the same
// time are equal (they differ only in entries already expired).
func TestPruneSlicedExact(t *testing.T) {
	evs := lateOrg(t, traffic.Config{Seed: 13, Users: 40, Days: 40, Attacks: true}, 2)
	sliced, lump := trackedEngine(t), trackedEngine(t)
	lump.pruneLump = true
	stored := map[string][]byte{}
	first, err := sliced.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range first {
		stored[k] = v
	}
	var outS, outL []Alert
	deferred := 0 // checkpoints where the sliced state still held what the lump had pruned
	for i := range evs {
		ev := evs[i]
		outS = append(outS, sliced.Process(&ev)...)
		ev2 := evs[i]
		outL = append(outL, lump.Process(&ev2)...)
		if i%100 != 0 && i != len(evs)-1 {
			continue
		}
		d, err := sliced.SaveStateDelta() // a page's commit
		if err != nil {
			t.Fatal(err)
		}
		d.ApplyTo(stored)
		mem, err := sliced.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		sameState(t, fmt.Sprintf("event %d: stored deltas", i), stored, mem)
		l, err := lump.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(mem, l) {
			deferred++
		}
		now := time.Unix(0, sliced.watermark).UTC()
		sameState(t, fmt.Sprintf("event %d: pruned whole, sliced against lump", i), wholePruned(t, Config{}, sliced, now), wholePruned(t, Config{}, lump, now))
	}
	x, _ := json.Marshal(Final(append(outS, sliced.Flush()...)))
	y, _ := json.Marshal(Final(append(outL, lump.Flush()...)))
	if string(x) != string(y) || len(outL) == 0 {
		t.Fatalf("alerts differ (or none: %d)", len(outL))
	}
	if deferred == 0 {
		t.Fatal("test too weak: the sliced state never differed from the lump's")
	}
	t.Logf("%d events, %d alerts, the states differed (expired entries not yet pruned) at %d checkpoints", len(evs), len(outL), deferred)
}

// TestPruneSpreadBounded: 3 000 users sign in from their own addresses
// within 50 minutes, then one user signs in every 20 s for 3.5 hours. Each
// of the 3 000 leaves a concurrent_sessions key (1-hour window) and a
// session_hijack session (lifetime set to 30 minutes here); they expire
// within 50 minutes of each other. The hourly prune that finds them
// expired deleted them all in one call (one page's commit); sliced, a
// call deletes the keys of the minutes of event time it covers: about
// 3 000 / 60 per detector and minute. Every key is gone once the slots
// have passed, and the state then equals its whole prune.
func TestPruneSpreadBounded(t *testing.T) {
	const users = 3000
	cfg := Config{"session_hijack": DetectorConfig{Params: map[string]any{"lifetime": "30m"}}}
	e, err := NewEngine(cfg, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{}
	d0, err := e.SaveStateDelta() // the first save is whole
	if err != nil {
		t.Fatal(err)
	}
	d0.ApplyTo(stored)
	start := t0.Add(20 * 24 * time.Hour)
	maxDel := map[string]int{} // owner -> most deletes of one call
	total := map[string]int{}
	step := func(ev *event.Event) {
		e.Process(ev)
		d, err := e.SaveStateDelta()
		if err != nil {
			t.Fatal(err)
		}
		d.ApplyTo(stored)
		n := map[string]int{}
		for k, v := range d.Put {
			if v != nil {
				continue
			}
			for _, o := range []string{"concurrent_sessions", "session_hijack"} {
				if strings.HasSuffix(k, "/"+o) || strings.Contains(k, "/"+o+"/") {
					n[o]++
					total[o]++
				}
			}
		}
		for o, c := range n {
			maxDel[o] = max(maxDel[o], c)
		}
	}
	for u := 0; u < users; u++ {
		ev := signIn(fmt.Sprintf("user%d@example.com", u), start.Add(time.Duration(u)*time.Second),
			ip(fmt.Sprintf("10.%d.%d.%d", u/65536, u/256%256, u%256)))
		step(&ev)
	}
	end := start.Add(users*time.Second + 210*time.Minute)
	for at := start.Add(users * time.Second); at.Before(end); at = at.Add(20 * time.Second) {
		ev := signIn("tick@example.com", at)
		step(&ev)
	}
	for _, o := range []string{"concurrent_sessions", "session_hijack"} {
		if total[o] < users {
			t.Fatalf("%s: %d keys deleted, want the %d users' (the rotation passed every key)", o, total[o], users)
		}
		// a call covers one minute's slot (events 20 s apart): ~50 keys
		if maxDel[o] > 3*users/pruneSlots {
			t.Fatalf("%s: %d deletes in one call, want at most %d (the keys of one minute's slot of %d)", o, maxDel[o], 3*users/pruneSlots, users)
		}
	}
	mem, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "stored deltas", stored, mem)
	sameState(t, "after the rotation, against a whole prune", mem, wholePruned(t, cfg, e, end))
	t.Logf("most deletes in one call: %v of %v", maxDel, total)
}
