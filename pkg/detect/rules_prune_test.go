package detect

import (
	"encoding/json"
	"math/rand"
	"reflect"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// TestRulePruneSkipExact: the rule pack's hourly prune skips a pattern
// none of whose entries can have expired (patState.prune); an engine
// doing so must keep exactly the state, changed keys and alerts of one
// whose every prune walks every entry — over 40 days (30-day windows
// expire), with late events (out of time order, as a reorder window lets
// through) and quiet sequences firing.
func TestRulePruneSkipExact(t *testing.T) {
	evs := lateOrg(t, traffic.Config{Seed: 13, Users: 40, Days: 40, Attacks: true}, 2)
	skip, full := trackedEngine(t), trackedEngine(t)
	rules := func(e *Engine) []*ruleDetector {
		var out []*ruleDetector
		for _, d := range e.all {
			if r, ok := d.det.(*ruleDetector); ok {
				out = append(out, r)
			}
		}
		return out
	}
	var outSkip, outFull []Alert
	skipped, walked := 0, 0
	for i := range evs {
		ev := evs[i]
		if sec := ev.Published.Unix(); skip.lastPrune != 0 && sec-skip.lastPrune >= int64(pruneEvery.Seconds()) {
			ms := ev.Published.UnixMilli()
			for _, r := range rules(skip) {
				for j := range r.pats {
					if s := &r.pats[j]; s.prune.from(ms) {
						skipped++
					} else {
						walked++
					}
				}
			}
		}
		for _, r := range rules(full) {
			for j := range r.pats {
				r.pats[j].pruneUnknown() // every prune walks every entry
			}
		}
		outSkip = append(outSkip, skip.Process(&ev)...)
		ev2 := evs[i]
		outFull = append(outFull, full.Process(&ev2)...)
		if i%997 == 0 || i == len(evs)-1 {
			sameDeltas(t, i, skip, full)
		}
	}
	x, _ := json.Marshal(Final(append(outSkip, skip.Flush()...)))
	y, _ := json.Marshal(Final(append(outFull, full.Flush()...)))
	if string(x) != string(y) || len(outFull) == 0 {
		t.Fatalf("alerts differ (or none: %d)", len(outFull))
	}
	if skipped == 0 || walked == 0 {
		t.Fatalf("test too weak: %d pattern prunes skipped, %d walked", skipped, walked)
	}
	t.Logf("%d events, %d pattern prunes skipped, %d walked", len(evs), skipped, walked)
}

func keysOf(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// lateOrg is a generated org's events, decoded and enriched, with late
// events (out of time order, as a reorder window lets through): every
// 40th event swapped with one up to 2,000 places later.
func lateOrg(t *testing.T, cfg traffic.Config, seed int64) []event.Event {
	evs := decodedOrg(t, cfg)
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i+2000 < len(evs); i += 40 {
		j := i + rng.Intn(2000)
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// trackedEngine is a default engine without a reorder window whose state
// changes are tracked from now on (SaveStateDelta).
func trackedEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.SaveStateDelta(); err != nil {
		t.Fatal(err)
	}
	return e
}

// sameDeltas fails unless the two engines' state deltas since their last
// save are the same (after event i).
func sameDeltas(t *testing.T, i int, skip, full *Engine) {
	t.Helper()
	a, err := skip.SaveStateDelta()
	if err != nil {
		t.Fatal(err)
	}
	b, err := full.SaveStateDelta()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("event %d: state deltas differ:\nskipping prune: %v\nfull prune:     %v", i, keysOf(a.Put), keysOf(b.Put))
	}
}
