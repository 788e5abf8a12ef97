package traffic_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

func drain(t *testing.T, s *traffic.Stream, from time.Time, step time.Duration, n int) ([][]byte, []time.Time) {
	t.Helper()
	var out [][]byte
	var at []time.Time
	now := from
	for i := 0; i < n; i++ {
		now = now.Add(step)
		for _, raw := range s.Next(now) {
			out = append(out, raw)
			at = append(at, now)
		}
	}
	return out, at
}

func TestStreamYieldsEventsAsTheClockPasses(t *testing.T) {
	from := time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC) // a Monday morning in Europe
	cfg := traffic.Config{Seed: 11, Users: 120, Late: 0.05}
	s, err := traffic.NewStream(cfg, from)
	if err != nil {
		t.Fatal(err)
	}
	raws, at := drain(t, s, from, time.Minute, 8*60)
	if len(raws) < 300 {
		t.Fatalf("only %d events in 8 working hours for 120 users", len(raws))
	}
	seen := map[string]bool{}
	late := 0
	for i, raw := range raws {
		e, err := event.Decode(raw)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if seen[e.UUID] {
			t.Fatalf("event %s delivered twice", e.UUID)
		}
		seen[e.UUID] = true
		if e.Published.Before(from) {
			t.Fatalf("event %s published %v before the stream start %v", e.UUID, e.Published, from)
		}
		if e.Published.After(at[i]) {
			t.Fatalf("event %s published %v delivered early at %v", e.UUID, e.Published, at[i])
		}
		if at[i].Sub(e.Published) > 2*time.Minute {
			late++
		}
	}
	if late == 0 {
		t.Fatal("Late=0.05 produced no late delivery")
	}
	if got := s.Next(from.Add(time.Hour)); got != nil {
		t.Fatalf("clock going backwards returned %d events", len(got))
	}
	// same config, same clock ticks: identical output
	s2, err := traffic.NewStream(cfg, from)
	if err != nil {
		t.Fatal(err)
	}
	raws2, _ := drain(t, s2, from, time.Minute, 8*60)
	if len(raws2) != len(raws) {
		t.Fatalf("second stream: %d events vs %d", len(raws2), len(raws))
	}
	for i := range raws {
		if !bytes.Equal(raws[i], raws2[i]) {
			t.Fatalf("stream not deterministic at %d", i)
		}
	}
}

func TestStreamLiveAttacksAreLabelled(t *testing.T) {
	from := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
	s, err := traffic.NewStream(traffic.Config{Seed: 5, Users: 80, Attacks: true, LiveAttackEvery: 10 * time.Minute}, from)
	if err != nil {
		t.Fatal(err)
	}
	raws, _ := drain(t, s, from, 30*time.Second, 4*60*2) // 4 hours
	ids := map[string]bool{}
	for _, raw := range raws {
		var h struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		ids[h.UUID] = true
	}
	labels := s.Labels()
	if len(labels) < 15 {
		t.Fatalf("%d labels after 4 hours with an attack every 10 min", len(labels))
	}
	delivered := 0
	for _, l := range labels {
		if l.Start.Before(from) {
			t.Fatalf("live label %s starts before the stream", l.Scenario)
		}
		all := true
		for _, id := range l.EventIDs {
			all = all && ids[id]
		}
		if l.End.Before(from.Add(4*time.Hour-time.Hour)) && !all {
			t.Fatalf("label %s (ended %v) has undelivered events", l.Scenario, l.End)
		}
		if all {
			delivered++
		}
	}
	if delivered == 0 {
		t.Fatal("no live attack fully delivered")
	}
	if info := s.Info(); len(info.Users) != 80 || len(info.Lists.Trusted) == 0 {
		t.Fatalf("Info: %d users, %d trusted ranges", len(info.Users), len(info.Lists.Trusted))
	}
}

func TestNewStreamRejectsBadInput(t *testing.T) {
	if _, err := traffic.NewStream(traffic.Config{}, time.Time{}); err == nil {
		t.Fatal("zero start accepted")
	}
	from := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
	if _, err := traffic.NewStream(traffic.Config{Start: from.AddDate(0, 0, 1)}, from); err == nil {
		t.Fatal("history start after stream start accepted")
	}
	if _, err := traffic.NewStream(traffic.Config{Users: 3}, from); err == nil {
		t.Fatal("3 users accepted")
	}
}

// Inject starts an attack of a chosen kind at a chosen time, outside the
// round robin; its events arrive as the clock passes them.
func TestStreamInjectStartsAnAttackAtTheGivenTime(t *testing.T) {
	from := time.Date(2025, 6, 3, 12, 0, 0, 0, time.UTC)
	s, err := traffic.NewStream(traffic.Config{Seed: 5, Users: 60, Attacks: true}, from)
	if err != nil {
		t.Fatal(err)
	}
	at := from.Add(30 * time.Second)
	if err := s.Inject("fastpass_phishing", at); err != nil {
		t.Fatal(err)
	}
	labels := s.Labels()
	if len(labels) != 1 || labels[0].Detector != "fastpass_phishing" || !labels[0].Start.Equal(at) || len(labels[0].EventIDs) != 1 {
		t.Fatalf("labels after Inject: %+v", labels)
	}
	raws, _ := drain(t, s, from, time.Second, 60)
	found := false
	for _, raw := range raws {
		found = found || bytes.Contains(raw, []byte(labels[0].EventIDs[0]))
	}
	if !found {
		t.Fatalf("the injected attack's event was not delivered within a minute (%d events)", len(raws))
	}
	for _, c := range []struct {
		kind string
		at   time.Time
		want string
	}{
		{"no_such_kind", at, `"no_such_kind" is not a live attack kind`},
		{"travel_below", at, `"travel_below" is not a live attack kind`}, // extended: never live
		{"fastpass_phishing", from.Add(-time.Second), "before the stream start"},
	} {
		if err := s.Inject(c.kind, c.at); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Inject(%s, %v): %v, want %q", c.kind, c.at, err, c.want)
		}
	}
}
