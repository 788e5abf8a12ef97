package pipeline

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// logStreamEvent is an admin deactivating the SIEM log stream: the
// log_stream_tampering rule alerts on it without a learning period, and a
// repeat inside its re-arm hour joins the same incident.
func logStreamEvent(uuid string, at time.Time) json.RawMessage {
	ev := map[string]any{
		"uuid": uuid, "published": at.UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventType": "system.log_stream.lifecycle.deactivate", "version": "0", "severity": "INFO",
		"displayMessage": "Deactivate log stream",
		"actor":          map[string]any{"id": "00uadmin", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
		"client": map[string]any{"ipAddress": "198.51.100.9", "userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0"},
			"geographicalContext": map[string]any{"city": "Chicago", "country": "United States", "geolocation": map[string]any{"lat": 41.88, "lon": -87.63}}},
		"outcome":     map[string]any{"result": "SUCCESS"},
		"target":      []any{map[string]any{"id": "0Oxsplunk", "type": "LogStream", "alternateId": "Splunk Cloud", "displayName": "Splunk Cloud"}},
		"transaction": map[string]any{"type": "WEB", "id": "tx-" + uuid},
	}
	b, _ := json.Marshal(ev)
	return b
}

// TestGroupedAlertUpdatesReachSubscribers runs the real path (simulated
// Okta -> pipeline -> store -> live subscribers): the first match of an
// incident is published as a new alert, a later match in another commit
// as an update of the same id (count, last time, event ids grown), and
// the metrics count one incident and two matched findings.
func TestGroupedAlertUpdatesReachSubscribers(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	s := testSettings(t, url, t.TempDir())
	s.Okta.Backfill = time.Hour
	reg, m := newTestMetrics(t)
	p, err := New(s, Options{Logger: slog.New(slog.DiscardHandler), OktaOptions: fastOkta(), Metrics: m,
		DetectOptions: []detect.Option{detect.WithReorderWindow(0)}}) // each event is detected in its own page
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	updates, cancelSub := p.Subscribe(100)
	defer cancelSub()
	defer runInBackground(t, p)()

	// wait receives updates until one satisfies f (or fails at the deadline).
	wait := func(what string, f func(Update) bool) Update {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case u := <-updates:
				if f(u) {
					return u
				}
			case <-deadline:
				t.Fatalf("no update with %s in 30s; status %+v", what, p.Status())
			}
		}
	}
	now := time.Now().Add(-2 * time.Minute)
	if err := sim.Add(logStreamEvent("ls-1", now)); err != nil {
		t.Fatal(err)
	}
	first := wait("the new alert", func(u Update) bool { return len(u.Alerts) > 0 })
	if len(first.Alerts) != 1 || len(first.Updated) != 0 || first.Alerts[0].Detector != "log_stream_tampering" {
		t.Fatalf("first commit: alerts %+v, updated %+v", first.Alerts, first.Updated)
	}
	a := first.Alerts[0]
	if a.Count != 1 || len(a.EventIDs) != 1 {
		t.Fatalf("new alert: count %d, event ids %v", a.Count, a.EventIDs)
	}

	if err := sim.Add(logStreamEvent("ls-2", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	second := wait("the grouped alert's update", func(u Update) bool { return len(u.Updated) > 0 || len(u.Alerts) > 0 })
	if len(second.Alerts) != 0 || len(second.Updated) != 1 {
		t.Fatalf("second commit: new %+v, updated %+v (want one update of %s)", second.Alerts, second.Updated, a.ID)
	}
	u := second.Updated[0]
	if u.ID != a.ID || u.Count != 2 || len(u.EventIDs) != 2 || !u.LastTime.After(a.LastTime) || !u.Time.Equal(a.Time) {
		t.Fatalf("update: id %s (want %s), count %d, event ids %v, time %s..%s (first %s..%s)",
			u.ID, a.ID, u.Count, u.EventIDs, u.Time, u.LastTime, a.Time, a.LastTime)
	}
	// the store holds the same version the subscribers saw
	stored, err := p.Store().QueryAlerts(context.Background(), store.AlertQuery{Detector: "log_stream_tampering",
		From: now.Add(-time.Hour), To: now.Add(time.Hour), Limit: 10})
	if err != nil || len(stored) != 1 || stored[0].ID != u.ID || stored[0].Count != 2 {
		t.Fatalf("stored alert: %v %+v", err, stored)
	}
	// one incident, two matched findings
	want := `
# HELP oktaguard_detection_matches_total Matched findings by detector id: the first of an incident and every later match that joined it (detections_total counts incidents).
# TYPE oktaguard_detection_matches_total counter
oktaguard_detection_matches_total{detector="log_stream_tampering"} 2
# HELP oktaguard_detections_total Alerts raised, by detector id and severity.
# TYPE oktaguard_detections_total counter
oktaguard_detections_total{detector="log_stream_tampering",severity="critical"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "oktaguard_detections_total", "oktaguard_detection_matches_total"); err != nil {
		t.Errorf("metrics (one incident, two matched findings): %v", err)
	}
	if st := p.Status(); st.Alerts != 1 {
		t.Errorf("status alerts %d, want 1", st.Alerts)
	}
}
