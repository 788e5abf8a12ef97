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
	rules := map[string]bool{}
	for _, r := range detect.Rules() {
		rules[r.ID] = true
	}
	deleted := map[string]int{}  // keys deleted by deltas after the first, per kind
	written := map[string]int{}  // keys written by deltas after the first, per kind
	putBytes := map[string]int{} // bytes per detector, after the first delta
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
				if id, _, ok := strings.Cut(strings.TrimPrefix(legacy(t, k), detect.StateKeyPrefix), "/"); ok && id != "engine" {
					if v == nil {
						dels[id]++
					} else {
						puts[id]++
						putBytes[id] += len(v)
					}
				}
			}
		}
		for k, v := range d.Put {
			if pages == 1 {
				continue
			}
			if v == nil {
				deleted[keyKind(t, k, rules)]++
			} else {
				written[keyKind(t, k, rules)]++
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
	kinds := map[string]int{}
	clustered := map[string]int{} // keys stored under their subject, per kind
	for k := range stored {
		kind := keyKind(t, k, rules)
		kinds[kind]++
		if k != legacy(t, k) {
			clustered[kind]++
		}
	}
	// a user's baseline and the rule entries lie under their subject
	// (login, address, session), next to the other entries of the same
	// subject (state_layout.go)
	if clustered["user"] != kinds["user"] || clustered["rule entry"] == 0 || clustered["dedup"] != 0 || clustered["pending"] != 0 {
		t.Fatalf("keys stored under their subject per kind %v, of %v", clustered, kinds)
	}
	t.Logf("%d pages of %d events, stored keys per kind %v, deleted by later deltas %v, largest delta %d keys",
		pages, page, kinds, deleted, maxDelta)
	if kinds["user"] < 250 {
		t.Fatalf("%d users stored, the month has about 300", kinds["user"])
	}
	// the rule pack and the dedup memory are saved per entry, and what
	// expires reaches the deltas as deletes
	if kinds["rule whole"] != 0 || kinds["rule entry"] == 0 || kinds["dedup"] == 0 {
		t.Fatalf("stored keys per kind %v: want rule entries and dedup entries, no rule saved whole", kinds)
	}
	if deleted["rule entry"] == 0 || deleted["dedup"] == 0 {
		t.Fatalf("deletes per kind %v: pruned rule keys and expired incidents must reach the deltas", deleted)
	}
	// the reorder buffer is saved per event: events still waiting at a
	// commit are written, and deleted once released
	if written["pending"] == 0 || deleted["pending"] == 0 {
		t.Fatalf("buffered events written %d, deleted %d by the deltas", written["pending"], deleted["pending"])
	}
	// every detector with per-entry state wrote entries through the
	// deltas, and those whose entries expire within the month deleted
	// some (so the comparisons above covered both); impossible_travel and
	// anonymous_ip keep a user's entry for 30 days, longer than the
	// month's tail (their deletes are covered by TestEntryStateDeltas)
	for _, id := range []string{"session_hijack", "impossible_travel", "failed_logins", "mfa_fatigue", "unusual_admin",
		"suspicious_ip", "password_spray", "mass_destructive", "anonymous_ip"} {
		whole := 0
		for k, v := range stored {
			if strings.HasPrefix(legacy(t, k), detect.StateKeyPrefix+id+"/") {
				whole += len(v)
			}
		}
		t.Logf("%s: %d entries written, %d deleted; %d B written per page on average, %d B of state at the end",
			id, puts[id], dels[id], putBytes[id]/(pages-1), whole)
		wantDel := id != "impossible_travel" && id != "anonymous_ip"
		if puts[id] == 0 || wantDel && dels[id] == 0 {
			t.Errorf("%s: %d entries written and %d deleted by the deltas of a month", id, puts[id], dels[id])
		}
	}
}

// legacy is the key's legacy form ("detect.<owner>/<entry>").
func legacy(t *testing.T, k string) string {
	t.Helper()
	lk, err := detect.LegacyStateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// keyKind classifies a state key for the test's counts (by its legacy
// form; "clustered" counts the keys stored under their subject).
func keyKind(t *testing.T, k string, rules map[string]bool) string {
	t.Helper()
	rest := strings.TrimPrefix(legacy(t, k), detect.StateKeyPrefix)
	id, _, entry := strings.Cut(rest, "/")
	switch {
	case strings.HasPrefix(rest, "engine/u/"):
		return "user"
	case strings.HasPrefix(rest, "engine/d/"):
		return "dedup"
	case strings.HasPrefix(rest, "engine/p/"):
		return "pending"
	case rules[id] && entry:
		return "rule entry"
	case rules[id]:
		return "rule whole"
	default:
		return "other"
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
