package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	alertpkg "github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// AlertTableAlerts are alerts whose evidence holds an asn as a number, as
// an "AS…" string, as a fraction, as a bool and none, a nil evidence,
// HTML characters, nested maps, lists empty, nil or not.
func AlertTableAlerts(t0 time.Time) []alert {
	as := []alert{
		Alert("t1", "failed_logins", "medium", t0.Add(time.Minute), "ann@example.com", "u1", "u2"),
		Alert("t2", "anonymous_ip", "high", t0.Add(2*time.Minute), "bob@example.com", "u3"),
		Alert("t3", "impossible_travel", "critical", t0.Add(3*time.Minute), "ann@example.com"),
		Alert("t4", "mfa_fatigue", "low", t0.Add(4*time.Minute), "cy@example.com"),
		Alert("t5", "suspicious_ip", "low", t0.Add(5*time.Minute), "dee@example.com", "u4"),
		Alert("t6", "suspicious_ip", "high", t0.Add(5*time.Minute), "dee@example.com"),
	}
	as[0].Evidence = map[string]any{"asn": 7922.0, "count": 12.0, "note": "<b>&</b> \u00e9\u2028", "ips": []any{"10.0.0.1", "10.0.0.2"}}
	as[1].Evidence = map[string]any{"asn": "as13335"}
	as[2].Evidence = nil
	as[2].MITRE = nil
	as[3].Evidence = map[string]any{"nested": map[string]any{"z": 1.5, "a": true}, "asn": nil}
	as[4].Evidence = map[string]any{"asn": 64512.9, "big": 1e21}
	as[4].MITRE = []string{"T1078", "T1110.003"}
	as[5].Evidence = map[string]any{"asn": true}
	as[5].MITRE = []string{}
	return as
}

// AlertTableQueries are the filters the alerts table panel sends.
func AlertTableQueries(t0 time.Time) []store.TriageQuery {
	return []store.TriageQuery{
		{Limit: 10},
		{Limit: 2},
		{Actor: "ann@example.com", Limit: 10},
		{Severities: []string{"HIGH", "critical"}, Limit: 10},
		{Statuses: []string{alertpkg.StatusAcknowledged}, Limit: 10},
		{Statuses: []string{alertpkg.StatusOpen}, Detector: "suspicious_ip", Limit: 10},
		{Detector: "nope", Limit: 10},
		{From: t0.Add(2 * time.Minute), To: t0.Add(3 * time.Minute), Limit: 10},
	}
}

// CheckAlertTable fails t unless the alerts table rows a backend serves
// from columns equal the rows built from its decoded alerts (TableRowOf of
// QueryTriagedAlerts, what the panel shows on a backend without columns).
func CheckAlertTable(t *testing.T, b store.Backend, stage string, q store.TriageQuery) {
	t.Helper()
	ctx := context.Background()
	r, ok := b.(store.AlertTableReader)
	if !ok {
		t.Fatalf("%s does not serve the alerts table from columns (store.AlertTableReader)", b.Describe())
	}
	decoded, err := asTriager(t, b).QueryTriagedAlerts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]store.AlertTableRow, len(decoded))
	for i, ta := range decoded {
		want[i] = store.TableRowOf(ta)
	}
	got, err := r.QueryAlertTable(ctx, q)
	if err != nil {
		t.Fatalf("%s %+v: %v", stage, q, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s %+v:\n got %+v\nwant %+v", stage, q, got, want)
	}
}

// testAlertTable: the alerts table from columns equals the decoded
// alerts' rows, for every filter, a triaged alert, a grown incident and
// another org's alerts of the same ids.
func testAlertTable(t *testing.T, newDB NewDB) {
	open := newDB(t)
	s, other := open(OrgA), open(OrgB)
	ctx := context.Background()
	t0 := T0()
	as := AlertTableAlerts(t0)
	commit(t, s, store.Batch{Alerts: as})
	theirs := AlertTableAlerts(t0)
	for i := range theirs {
		theirs[i].Summary, theirs[i].Evidence = "other org", map[string]any{"asn": 1.0}
	}
	commit(t, other, store.Batch{Alerts: theirs})
	if _, err := asTriager(t, s).SetAlertStatus(ctx, store.StatusChange{AlertID: "t2", To: alertpkg.StatusAcknowledged, Note: "looking",
		User: "ops", Time: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	queries := AlertTableQueries(t0)
	for _, q := range queries {
		CheckAlertTable(t, s, "stored", q)
	}
	all, err := s.(store.AlertTableReader).QueryAlertTable(ctx, store.TriageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.AlertTableRow{}
	for _, r := range all {
		byID[r.ID] = r
	}
	if len(all) != len(as) || byID["t1"].ASN != 7922 || byID["t2"].ASN != 13335 || byID["t5"].ASN != 64512 || byID["t6"].ASN != 0 ||
		byID["t1"].EventIDs != "u1,u2" || byID["t3"].Evidence != "null" || byID["t3"].MITRE != "" || byID["t5"].MITRE != "T1078,T1110.003" ||
		byID["t2"].Triage.Status != alertpkg.StatusAcknowledged || byID["t1"].Summary == "other org" {
		t.Fatalf("rows = %+v", all)
	}
	// the incident grows: the engine re-emits t1 with new evidence and events
	grown := as[0]
	grown.Evidence = map[string]any{"asn": "AS64500", "count": 30.0}
	grown.EventIDs = append(grown.EventIDs, "u9")
	commit(t, s, store.Batch{Alerts: []alert{grown}})
	for _, q := range queries {
		CheckAlertTable(t, s, "grown", q)
	}
	r := s.(store.AlertTableReader)
	if got, _ := r.QueryAlertTable(ctx, store.TriageQuery{Detector: "failed_logins", Limit: 1}); len(got) != 1 || got[0].ASN != 64500 || got[0].EventIDs != "u1,u2,u9" {
		t.Fatalf("grown incident: %+v", got)
	}
	if _, err := r.QueryAlertTable(ctx, store.TriageQuery{Limit: 0}); err == nil {
		t.Fatal("limit 0 accepted")
	}
	if _, err := r.QueryAlertTable(ctx, store.TriageQuery{Statuses: []string{"bogus"}, Limit: 1}); err == nil {
		t.Fatal("unknown status accepted")
	}
}
