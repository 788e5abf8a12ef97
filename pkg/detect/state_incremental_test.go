package detect_test

import (
	"bytes"
	"maps"
	"sort"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/detect"
)

// TestScenarioIncrementalStateExact commits the state delta of every page
// of a month of traffic to a map (as the store would): at checkpoints the
// stored keys and bytes equal a full save of the same engine, deltas after
// the first are a small part of the state, and an engine loaded from the
// stored deltas then run to the end raises exactly the alerts of one
// uninterrupted run.
func TestScenarioIncrementalStateExact(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a month of traffic")
	}
	c := loadCorpus(t)
	cfg := scenarioConfig(c.ds)
	const page = 1000
	cut := len(c.events) / 2 / page * page

	e1, _ := detect.NewEngine(cfg)
	stored := map[string][]byte{}
	var atCut map[string][]byte
	var want, before []detect.Alert
	maxDelta, pages := 0, 0
	puts, dels := map[string]int{}, map[string]int{} // entries per detector, after the first delta
	for i := 0; i < len(c.events); i++ {
		want = append(want, e1.Process(&c.events[i])...)
		if (i+1)%page != 0 {
			continue
		}
		d, err := e1.SaveStateDelta()
		if err != nil {
			t.Fatal(err)
		}
		if pages++; pages == 1 {
			if len(d.Reset) != 1 || d.Reset[0] != detect.StateKeyPrefix {
				t.Fatalf("first delta resets %q, want the whole prefix", d.Reset)
			}
		} else if len(d.Reset) != 0 {
			t.Fatalf("page %d: delta resets %q", pages, d.Reset)
		} else {
			maxDelta = max(maxDelta, len(d.Put))
			for k, v := range d.Put {
				if id, _, ok := strings.Cut(strings.TrimPrefix(k, detect.StateKeyPrefix), "/"); ok && id != "engine" {
					if v == nil {
						dels[id]++
					} else {
						puts[id]++
					}
				}
			}
		}
		d.ApplyTo(stored)
		if pages%10 == 0 || i+1 == cut {
			full, err := e1.SaveState()
			if err != nil {
				t.Fatal(err)
			}
			compareState(t, i+1, stored, full)
		}
		if i+1 == cut {
			atCut = maps.Clone(stored)
			before = append([]detect.Alert(nil), want...)
		}
	}
	want = detect.Final(append(want, e1.Flush()...))

	// a restart at the cut from the stored deltas
	e2, _ := detect.NewEngine(cfg)
	if err := e2.LoadState(atCut); err != nil {
		t.Fatalf("cut %d: %v", cut, err)
	}
	got := before
	for j := cut; j < len(c.events); j++ {
		got = append(got, e2.Process(&c.events[j])...)
	}
	got = detect.Final(append(got, e2.Flush()...))
	if len(got) != len(want) {
		t.Fatalf("cut %d: %d alerts after a restart from the deltas, %d in one run", cut, len(got), len(want))
	}
	for k := range want {
		if got[k].ID != want[k].ID || got[k].Severity != want[k].Severity || got[k].Count != want[k].Count {
			t.Fatalf("cut %d: alert %d differs: %s/%s vs %s/%s", cut, k, got[k].Detector, got[k].ID, want[k].Detector, want[k].ID)
		}
	}
	users := 0
	for k := range stored {
		if strings.HasPrefix(k, detect.StateKeyPrefix+"engine/u/") {
			users++
		}
	}
	t.Logf("%d pages of %d events, %d users stored, largest delta %d keys", pages, page, users, maxDelta)
	if users < 250 {
		t.Fatalf("%d users stored, the month has about 300", users)
	}
	// every detector with per-entry state wrote entries through the
	// deltas, and those whose entries expire within the month deleted
	// some (so the comparisons above covered both); impossible_travel and
	// anonymous_ip keep a user's entry for 30 days, longer than the
	// month's tail (their deletes are covered by TestEntryStateDeltas)
	for _, id := range []string{"session_hijack", "impossible_travel", "failed_logins", "mfa_fatigue", "unusual_admin",
		"suspicious_ip", "password_spray", "mass_destructive", "anonymous_ip"} {
		t.Logf("%s: %d entries written, %d deleted", id, puts[id], dels[id])
		wantDel := id != "impossible_travel" && id != "anonymous_ip"
		if puts[id] == 0 || wantDel && dels[id] == 0 {
			t.Errorf("%s: %d entries written and %d deleted by the deltas of a month", id, puts[id], dels[id])
		}
	}
}

func compareState(t *testing.T, at int, stored, full map[string][]byte) {
	t.Helper()
	var missing, extra, differ []string
	for k, v := range full {
		s, ok := stored[k]
		switch {
		case !ok:
			missing = append(missing, k)
		case !bytes.Equal(s, v):
			differ = append(differ, k)
		}
	}
	for k := range stored {
		if _, ok := full[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra)+len(differ) > 0 {
		sort.Strings(missing)
		sort.Strings(extra)
		sort.Strings(differ)
		t.Fatalf("after %d events the stored deltas differ from a full save: missing %.10q, stale %.10q, different %.10q",
			at, missing, extra, differ)
	}
}
