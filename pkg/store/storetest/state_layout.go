package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// testStateLayoutRewrite: detector state stored by a version that kept
// every entry as "detect.<detector>/<part>/<key>" (before the keys were
// clustered by subject, see pkg/detect/state_layout.go) loads exactly, and
// the first commit after the start (the engine's first SaveStateDelta: a
// reset of the prefix and a full save) rewrites it in the clustered
// layout, leaving no key of the old one; the restarted engine then goes on
// exactly as the one that never stopped.
func testStateLayoutRewrite(t *testing.T, newDB NewDB) {
	open := newDB(t)
	s := open(OrgA)
	evs := Events("lay", 0, 600, T0().Add(-3*24*time.Hour), 30*time.Second)
	e1 := newLayoutEngine(t)
	for i := range evs[:400] {
		e1.Process(&evs[i])
	}
	full, err := e1.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	old := map[string][]byte{}
	moved := 0
	for k, v := range full {
		lk, err := detect.LegacyStateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if lk != k {
			moved++
			if detect.ClusteredStateKey(lk) != k {
				t.Fatalf("state key %q: legacy %q maps back to %q", k, lk, detect.ClusteredStateKey(lk))
			}
		}
		old[lk] = v
	}
	if moved < 20 {
		t.Fatalf("%d of %d state keys clustered by subject, want the users' and detectors' entries", moved, len(full))
	}
	commit(t, s, store.Batch{Events: evs[:400], State: old, StateReset: []string{detect.StateKeyPrefix}})

	// a restart on a new handle: the old layout loads exactly
	s2 := open(OrgA)
	stored, err := s2.AllState(bg, detect.StateKeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, old) {
		t.Fatalf("stored %d keys in the old layout, read back %d", len(old), len(stored))
	}
	e2 := newLayoutEngine(t)
	if err := e2.LoadState(stored); err != nil {
		t.Fatal(err)
	}
	reloaded, err := e2.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reloaded, full) {
		t.Fatalf("state loaded from the old layout saves %d keys, the engine that wrote it %d", len(reloaded), len(full))
	}
	// the first commit after the start rewrites it in the new layout
	d, err := e2.SaveStateDelta()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Reset, []string{detect.StateKeyPrefix}) {
		t.Fatalf("first delta after a start resets %q, want the whole prefix", d.Reset)
	}
	commit(t, s2, store.Batch{State: d.Put, StateReset: d.Reset})
	checkState(t, open(OrgA), detect.StateKeyPrefix, full)

	// from there both engines raise the same alerts and store the same
	// state, the restarted one through deltas
	var want, got []string
	for i := 400; i < len(evs); i++ {
		for _, a := range e1.Process(&evs[i]) {
			want = append(want, a.ID)
		}
		for _, a := range e2.Process(&evs[i]) {
			got = append(got, a.ID)
		}
		if (i+1)%50 == 0 {
			d, err := e2.SaveStateDelta()
			if err != nil {
				t.Fatal(err)
			}
			commit(t, s2, store.Batch{Events: evs[i-49 : i+1], State: d.Put, StateReset: d.Reset})
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after the restart: alerts %q, without it %q", got, want)
	}
	end, err := e1.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, open(OrgA), detect.StateKeyPrefix, end)
	t.Logf("%d state keys (%d clustered by subject), %d alerts after the restart", len(end), moved, len(want))
}

func newLayoutEngine(t *testing.T) *detect.Engine {
	t.Helper()
	e, err := detect.NewEngine(detect.Config{}, detect.WithLearningPeriod(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return e
}
