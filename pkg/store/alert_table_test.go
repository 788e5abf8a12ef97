package store

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// alertTableFixture: alerts whose evidence has an asn as a number, as an
// "AS…" string, none, a nil evidence, lists empty or not, one triaged.
func alertTableAlerts() []alert.Alert {
	as := []alert.Alert{
		mkAlert("t1", "failed_logins", "medium", t0.Add(time.Minute), "ann@example.com", "u1", "u2"),
		mkAlert("t2", "anonymous_ip", "high", t0.Add(2*time.Minute), "bob@example.com", "u3"),
		mkAlert("t3", "impossible_travel", "critical", t0.Add(3*time.Minute), "ann@example.com"),
		mkAlert("t4", "mfa_fatigue", "low", t0.Add(4*time.Minute), "cy@example.com"),
	}
	as[0].Evidence = map[string]any{"asn": 7922.0, "count": 12.0, "note": "<b>&</b>", "ips": []any{"10.0.0.1", "10.0.0.2"}}
	as[1].Evidence = map[string]any{"asn": "AS13335"}
	as[2].Evidence = nil
	as[2].MITRE = nil
	as[3].Evidence = map[string]any{"nested": map[string]any{"z": 1.5, "a": true}}
	return as
}

// TestAlertTableFromColumns: the alerts table rows served from columns
// equal the rows built from the decoded alerts (what the panel showed
// before), for filters, statuses, a grown incident and alerts stored
// before the columns existed (migration 10 fills them from the JSON).
func TestAlertTableFromColumns(t *testing.T) {
	ctx := context.Background()
	old, path := openOld(t, "o.db", migrationVersion(t, "ADD COLUMN evidence")-1)
	as := alertTableAlerts()
	for _, a := range as[:2] { // as Commit wrote them before the columns
		js, _ := json.Marshal(a)
		if _, err := old.w.Exec(`INSERT INTO alerts (id, detector, severity, time, actor, actor_id, ip, country, title, summary, json, stored_at)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, a.ID, a.Detector, a.Severity, ms(a.Time), a.Actor, a.ActorID, a.IP, a.Country, a.Title, a.Summary, js, 1); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustCommit(t, s, Batch{Alerts: as[2:]})
	if _, err := s.SetAlertStatus(ctx, StatusChange{AlertID: "t2", To: alert.StatusAcknowledged, Note: "looking", User: "ops", Time: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	check := func(stage string, q TriageQuery) {
		t.Helper()
		decoded, err := s.QueryTriagedAlerts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]AlertTableRow, len(decoded))
		for i, ta := range decoded {
			want[i] = TableRowOf(ta)
		}
		got, err := s.QueryAlertTable(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s %+v:\n got %+v\nwant %+v", stage, q, got, want)
		}
	}
	queries := []TriageQuery{
		{Limit: 10},
		{Limit: 2},
		{Actor: "ann@example.com", Limit: 10},
		{Severities: []string{"HIGH", "critical"}, Limit: 10},
		{Statuses: []string{alert.StatusAcknowledged}, Limit: 10},
		{Detector: "nope", Limit: 10},
		{From: t0.Add(2 * time.Minute), To: t0.Add(3 * time.Minute), Limit: 10},
	}
	for _, q := range queries {
		check("after migration", q)
	}
	all, _ := s.QueryAlertTable(ctx, TriageQuery{Limit: 10})
	if len(all) != 4 || all[3].ASN != 7922 || all[2].ASN != 13335 || all[3].EventIDs != "u1,u2" || all[1].Evidence != "null" {
		t.Fatalf("rows = %+v", all)
	}
	// the incident grows: the engine re-emits t1 with new evidence and events
	grown := as[0]
	grown.Evidence = map[string]any{"asn": 64500.0, "count": 30.0}
	grown.EventIDs = append(grown.EventIDs, "u9")
	mustCommit(t, s, Batch{Alerts: []alert.Alert{grown}})
	for _, q := range queries {
		check("after update", q)
	}
	if _, err := s.QueryAlertTable(ctx, TriageQuery{Limit: 0}); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if _, err := s.QueryAlertTable(ctx, TriageQuery{Statuses: []string{"bogus"}, Limit: 1}); err == nil {
		t.Fatal("unknown status accepted")
	}
}
