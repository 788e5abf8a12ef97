package traffic_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

func TestDeterministic(t *testing.T) {
	cfg := traffic.Config{Seed: 7, Users: 60, Days: 12, Attacks: true, Late: 0.05}
	a, err := traffic.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := traffic.Generate(cfg)
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
	c, err := traffic.Generate(traffic.Config{Seed: 8, Users: 60, Days: 12, Attacks: true})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Events[0], c.Events[0]) && bytes.Equal(a.Events[len(a.Events)/2], c.Events[len(c.Events)/2]) {
		t.Fatal("different seeds produced identical events")
	}
}

func TestEventsAreValidOktaJSON(t *testing.T) {
	ds := loadCorpus(t).ds
	var prev time.Time
	seen := make(map[string]bool, len(ds.Events))
	for i, raw := range ds.Events {
		if !json.Valid(raw) {
			t.Fatalf("event %d: invalid JSON:\n%s", i, raw)
		}
		var m map[string]any
		if i%10 != 0 {
			// the full field check runs on every 10th event (pkg/event decodes all of them in quality_test.go)
			var h struct {
				UUID      string `json:"uuid"`
				Published string `json:"published"`
			}
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			m = map[string]any{"uuid": h.UUID, "published": h.Published, "version": "0"}
		} else if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("event %d: invalid JSON: %v\n%s", i, err, raw)
		}
		for _, k := range requiredKeys(i) {
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

// requiredKeys are the top-level keys of every Okta LogEvent (checked on every 10th event).
func requiredKeys(i int) []string {
	if i%10 != 0 {
		return []string{"uuid", "published"}
	}
	return []string{"uuid", "published", "eventType", "version", "severity", "displayMessage", "actor", "client",
		"authenticationContext", "outcome", "transaction", "debugContext", "securityContext", "request", "target", "legacyEventType", "device"}
}

func TestWriteJSONLReadsBackWithPkgEvent(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 9, Users: 50, Days: 3})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ds.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	rd := event.NewReader(&buf)
	n := 0
	for {
		e, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("event %d: %v", n, err)
		}
		if e.UUID == "" {
			t.Fatalf("event %d without uuid", n)
		}
		n++
	}
	if n != len(ds.Events) {
		t.Fatalf("read %d events, wrote %d", n, len(ds.Events))
	}
	if err := ds.WriteJSONL(failWriter{}); err == nil {
		t.Fatal("write error not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
