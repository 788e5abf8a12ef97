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
			e.byType = map[string][]*detRuntime{}
			for i := range evs {
				e.byType[evs[i].EventType] = e.dets
			}
		}
		var out []Alert
		for i := range evs {
			out = append(out, e.Process(&evs[i])...)
		}
		b, err := json.Marshal(Final(append(out, e.Flush()...)))
		if err != nil {
			t.Fatal(err)
		}
		return b, e
	}
	gated, e := run(true)
	all, _ := run(false)
	if string(gated) != string(all) {
		t.Fatalf("alerts differ with the type gate:\n%.2000s\nwithout:\n%.2000s", gated, all)
	}
	var alerts []Alert
	if err := json.Unmarshal(gated, &alerts); err != nil || len(alerts) == 0 {
		t.Fatalf("no alerts to compare (%v)", err)
	}
	skipped := false
	for _, l := range e.byType {
		skipped = skipped || len(l) < len(e.dets)
	}
	if !skipped {
		t.Fatal("the gate skipped no detector for any event type")
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
