package store

import (
	"context"
	"testing"
	"time"
)

// One incident is one alert: the engine emits a grown incident again with
// the same id, and the store keeps one row holding the latest version.
func TestCommitUpsertsAlertByID(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	evs := mkEvents(0, 3, t0, time.Second)
	mustCommit(t, s, Batch{Events: evs})

	a := mkAlert("inc", "failed_logins", "medium", t0, "x@example.com", evs[0].UUID)
	a.Count, a.LastTime = 1, t0
	r1 := mustCommit(t, s, Batch{Alerts: []detectAlert{a}})

	grown := a
	grown.Severity, grown.Summary, grown.Count, grown.LastTime = "high", "grown", 3, t0.Add(2*time.Second)
	grown.EventIDs = []string{evs[0].UUID, evs[1].UUID, evs[2].UUID}
	grown.Targets = []string{"u1", "u2"}
	r2 := mustCommit(t, s, Batch{Alerts: []detectAlert{grown}})
	r3 := mustCommit(t, s, Batch{Alerts: []detectAlert{grown}}) // identical: nothing to do

	if !r1.AlertInserted[0] || r1.AlertUpdated[0] || r2.AlertInserted[0] || !r2.AlertUpdated[0] || r2.AlertsUpdated != 1 ||
		r3.AlertInserted[0] || r3.AlertUpdated[0] {
		t.Fatalf("insert %+v, update %+v, repeat %+v", r1, r2, r3)
	}
	got, err := s.QueryAlerts(ctx, AlertQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d rows, want one per incident", len(got))
	}
	g := got[0]
	if g.Severity != "high" || g.Summary != "grown" || g.Count != 3 || !g.LastTime.Equal(grown.LastTime) || len(g.Targets) != 2 || !g.Time.Equal(t0) {
		t.Fatalf("stored %+v", g)
	}
	links, err := s.AlertEvents(ctx, "inc")
	if err != nil || len(links) != 3 {
		t.Fatalf("links %v %v", links, err)
	}
	// severity filters see the new severity
	hi, err := s.QueryAlerts(ctx, AlertQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Severity: "high", Limit: 10})
	if err != nil || len(hi) != 1 {
		t.Fatalf("high: %d %v", len(hi), err)
	}
}
