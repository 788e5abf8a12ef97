package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	alertpkg "github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// Alerts stored before the alerts table had its columns (schema 3) are
// filled from their JSON by migration 4: the table served from columns
// then equals the rows of the decoded alerts, for every filter, and a
// later upsert of such an alert rewrites the columns.
func TestAlertTableMigrated(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	cfg := Config{DSN: dsn, Org: "https://migrate.okta.example", MaxConns: 2}
	const before = 3 // the schema without alerts.evidence
	if !strings.Contains(migrations[before], "ADD COLUMN evidence") {
		t.Fatalf("migration %d is not the alerts-table columns one", before+1)
	}
	old, err := openAt(ctx, cfg, before)
	if err != nil {
		t.Fatal(err)
	}
	t0 := storetest.T0()
	as := storetest.AlertTableAlerts(t0)
	as[1].Evidence = map[string]any{"asn": "AS13335", "list": []any{1.0, "x", nil}}
	for _, a := range as { // as Commit wrote them at schema 3
		js, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.pool.Exec(ctx, `INSERT INTO alerts (org, id, detector, severity, time, actor, actor_id, ip, country, title, summary, json, stored_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)`, old.org, a.ID, a.Detector, strings.ToLower(a.Severity), store.MS(a.Time), a.Actor,
			a.ActorID, a.IP, a.Country, a.Title, a.Summary, js, 1); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("schema version %d (%v), want %d", v, err, LatestSchemaVersion())
	}
	if _, err := s.SetAlertStatus(ctx, store.StatusChange{AlertID: "t1", To: alertpkg.StatusAcknowledged, User: "ops", Time: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, q := range storetest.AlertTableQueries(t0) {
		storetest.CheckAlertTable(t, s, "migrated", q)
	}
	rows, err := s.QueryAlertTable(ctx, store.TriageQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]store.AlertTableRow{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	if len(rows) != len(as) || byID["t1"].EventIDs != "u1,u2" || byID["t2"].ASN != 13335 || byID["t2"].Evidence != `{"asn":"AS13335","list":[1,"x",null]}` ||
		byID["t3"].Evidence != "null" || byID["t3"].MITRE != "" || byID["t5"].MITRE != "T1078,T1110.003" {
		t.Fatalf("migrated rows: %+v", rows)
	}
	grown := as[2]
	grown.Evidence, grown.EventIDs = map[string]any{"asn": 64500.0}, []string{"u7"}
	if _, err := s.Commit(ctx, store.Batch{Alerts: []alertpkg.Alert{grown}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range storetest.AlertTableQueries(t0) {
		storetest.CheckAlertTable(t, s, "migrated then grown", q)
	}
}
