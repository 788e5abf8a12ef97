package traffic

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// month is generated once and shared by the read-only tests.
var monthCache *Dataset

func month(t testing.TB) *Dataset {
	t.Helper()
	if monthCache == nil {
		ds, err := Generate(Config{Seed: 42, Attacks: true})
		if err != nil {
			t.Fatalf("Generate: %v", err)
		}
		monthCache = ds
	}
	return monthCache
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 7, Users: 60, Days: 12, Attacks: true, Late: 0.05}
	a, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Events) != len(b.Events) {
		t.Fatalf("event counts differ: %d vs %d", len(a.Events), len(b.Events))
	}
	for i := range a.Events {
		if !bytes.Equal(a.Events[i], b.Events[i]) || a.Delays[i] != b.Delays[i] {
			t.Fatalf("event %d differs:\n%s\n%s", i, a.Events[i], b.Events[i])
		}
	}
	la, _ := json.Marshal(a.Labels)
	lb, _ := json.Marshal(b.Labels)
	if !bytes.Equal(la, lb) {
		t.Fatal("labels differ between runs with the same seed")
	}
	c, err := Generate(Config{Seed: 8, Users: 60, Days: 12, Attacks: true})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Events[0], c.Events[0]) && bytes.Equal(a.Events[len(a.Events)/2], c.Events[len(c.Events)/2]) {
		t.Fatal("different seeds produced identical events")
	}
}

func TestEventsAreValidOktaJSON(t *testing.T) {
	ds := month(t)
	var prev time.Time
	seen := make(map[string]bool, len(ds.Events))
	for i, raw := range ds.Events {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("event %d: invalid JSON: %v\n%s", i, err, raw)
		}
		for _, k := range []string{"uuid", "published", "eventType", "version", "severity", "displayMessage", "actor", "client",
			"authenticationContext", "outcome", "transaction", "debugContext", "securityContext", "request", "target", "legacyEventType", "device"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("event %d lacks %q: %s", i, k, raw)
			}
		}
		p, err := time.Parse(time.RFC3339, m["published"].(string))
		if err != nil {
			t.Fatalf("event %d: published: %v", i, err)
		}
		if len(m["published"].(string)) != len("2006-01-02T15:04:05.000Z") {
			t.Fatalf("event %d: published %q lacks milliseconds", i, m["published"])
		}
		if p.Before(prev) {
			t.Fatalf("event %d published %v before previous %v", i, p, prev)
		}
		prev = p
		id := m["uuid"].(string)
		if seen[id] {
			t.Fatalf("duplicate uuid %s", id)
		}
		seen[id] = true
		if m["version"] != "0" {
			t.Fatalf("event %d: version %v", i, m["version"])
		}
	}
}
