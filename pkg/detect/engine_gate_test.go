package detect

import (
	"encoding/json"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/enrich"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// TestTypeGateChangesNothing: the engine hands an event only to the
// detectors that do something with its type (typeGate); the alerts of a
// generated org with attacks must be exactly those of an engine that hands
// every event to every detector.
func TestTypeGateChangesNothing(t *testing.T) {
	evs := decodedOrg(t, traffic.Config{Seed: 7, Users: 60, Days: 10, Attacks: true})
	run := func(gate bool) ([]byte, *Engine) {
		e, err := NewEngine(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if !gate {
			e.byType = map[string]typeEntry{}
			for i := range evs {
				if _, ok := e.byType[evs[i].EventType]; !ok {
					e.byType[evs[i].EventType] = typeEntry{dets: e.dets, slot: len(e.byType) + 1}
				}
			}
		}
		return finalAlertsJSON(t, e, evs), e
	}
	gated, e := run(true)
	all, _ := run(false)
	sameAlerts(t, "the type gate", gated, all)
	skipped := false
	for _, te := range e.byType {
		skipped = skipped || len(te.dets) < len(e.dets)
	}
	if !skipped {
		t.Fatal("the gate skipped no detector for any event type")
	}
}

// finalAlertsJSON runs evs through e and returns the final alerts as JSON.
func finalAlertsJSON(t *testing.T, e *Engine, evs []event.Event) []byte {
	t.Helper()
	var out []Alert
	for i := range evs {
		out = append(out, e.Process(&evs[i])...)
	}
	b, err := json.Marshal(Final(append(out, e.Flush()...)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameAlerts fails unless with and without (finalAlertsJSON) are the same
// alerts, and some.
func sameAlerts(t *testing.T, what string, with, without []byte) {
	t.Helper()
	if string(with) != string(without) {
		t.Fatalf("alerts differ with %s:\n%.2000s\nwithout:\n%.2000s", what, with, without)
	}
	var alerts []Alert
	if err := json.Unmarshal(with, &alerts); err != nil || len(alerts) == 0 {
		t.Fatalf("no alerts to compare (%v)", err)
	}
}

// decodedOrg generates one org's traffic and returns its events decoded
// and enriched, as the pipeline hands them to the engine.
func decodedOrg(t *testing.T, cfg traffic.Config) []event.Event {
	t.Helper()
	ds, err := traffic.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	en, err := enrich.New(enrich.Config{Lists: ds.Lists.Map(), ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer en.Close()
	evs := make([]event.Event, len(ds.Events))
	for i, raw := range ds.Events {
		if evs[i], err = event.Decode(raw); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		en.Enrich(&evs[i])
	}
	return evs
}

// TestTypeMasksChangeNothing: the rule pack's type masks (rules_types.go)
// give exactly the alerts of rule detectors that test every match's types
// on every event; and the masks are used (some pattern is skipped for some
// type, some match is read from a mask).
func TestTypeMasksChangeNothing(t *testing.T) {
	evs := decodedOrg(t, traffic.Config{Seed: 11, Users: 60, Days: 10, Attacks: true})
	run := func(masks bool) ([]byte, *Engine) {
		e, err := NewEngine(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if !masks {
			for _, d := range e.all {
				if rd, ok := d.det.(*ruleDetector); ok {
					rd.matchList = nil
					for i := range rd.bits {
						rd.bits[i] = patBits{steps: make([]uint64, len(rd.bits[i].steps)), cancel: make([]uint64, len(rd.bits[i].cancel))}
					}
				}
			}
		}
		return finalAlertsJSON(t, e, evs), e
	}
	masked, e := run(true)
	plain, _ := run(false)
	sameAlerts(t, "the type masks", masked, plain)
	skips, reads := false, false
	for _, d := range e.dets {
		rd, ok := d.det.(*ruleDetector)
		if !ok {
			continue
		}
		for _, m := range rd.masks {
			if !m.known {
				continue
			}
			reads = reads || m.bits != 0
			for _, b := range rd.bits {
				skips = skips || b.any != 0 && m.bits&b.any == 0
			}
		}
	}
	if !skips || !reads {
		t.Fatalf("the masks were not used (a pattern skipped: %v, a match read from a mask: %v)", skips, reads)
	}
}
