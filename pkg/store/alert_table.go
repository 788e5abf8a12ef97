package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/exception"
)

// AlertTableRow is one row of the alerts table panel: what it shows, flat.
// The evidence stays JSON text and the lists are joined by commas, so a
// backend can serve it from columns without decoding each alert's JSON.
type AlertTableRow struct {
	ID, Detector, Severity string
	Time                   time.Time
	Actor, IP, Country     string
	Title, Summary         string
	Evidence               string // JSON of the evidence map
	EventIDs, MITRE        string // comma-separated
	ASN                    int    // the evidence's "asn" (exception.EvidenceASN), 0 when none
	Triage                 alert.Triage
}

// AlertTableReader is the optional side of a backend that serves the
// alerts table from columns (SQLite, PostgreSQL). Others are read through Triager
// and converted with TableRowOf.
type AlertTableReader interface {
	QueryAlertTable(ctx context.Context, q TriageQuery) ([]AlertTableRow, error)
}

// TableRowOf is the alerts table row of a decoded alert.
func TableRowOf(ta TriagedAlert) AlertTableRow {
	a := ta.Alert
	r := AlertTableRow{ID: a.ID, Detector: a.Detector, Severity: a.Severity, Time: a.Time, Actor: a.Actor, IP: a.IP,
		Country: a.Country, Title: a.Title, Summary: a.Summary, EventIDs: strings.Join(a.EventIDs, ","),
		MITRE: strings.Join(a.MITRE, ","), ASN: exception.EvidenceASN(a.Evidence), Triage: ta.Triage}
	if b, err := json.Marshal(a.Evidence); err == nil {
		r.Evidence = string(b)
	}
	return r
}

// ASNOfJSON is the alerts table's ASN of an evidence "asn" value read
// as JSON text (a backend's JSON operator, e.g. PostgreSQL's ->): decoded
// as TableRowOf sees it after decoding the alert.
func ASNOfJSON(v []byte) (int, error) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return 0, err
	}
	return exception.EvidenceASN(map[string]any{"asn": x}), nil
}

// QueryAlertTable returns the alerts table rows of q (as QueryTriagedAlerts,
// newest first) from the alerts' columns: no alert JSON is decoded (SQLite
// picks the evidence's asn out as JSON text; only that value is decoded).
func (s *Store) QueryAlertTable(ctx context.Context, q TriageQuery) ([]AlertTableRow, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	w, err := q.where()
	if err != nil {
		return nil, err
	}
	// #nosec G202 -- only code-built conditions (where.add with constant text) are joined; every value is a bound ? argument
	rows, err := s.r.QueryContext(ctx, `SELECT a.id, a.detector, a.severity, a.time, a.actor, a.ip, a.country, a.title, a.summary,
		a.evidence, a.event_ids, a.mitre, CASE WHEN json_valid(a.evidence) THEN a.evidence -> '$.asn' END,
		COALESCE(t.status, 'open'), COALESCE(t.assignee, ''), COALESCE(t.note, ''), COALESCE(t.updated_at, 0), COALESCE(t.updated_by, '')
		FROM alerts a LEFT JOIN alert_triage t ON t.alert_id = a.id`+w.sql()+" ORDER BY a.time DESC, a.id LIMIT ?",
		append(w.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: alert table: %w", err)
	}
	defer rows.Close()
	return ScanAlertTable(rows)
}

// ScanAlertTable reads rows of (id, detector, severity, time, actor, ip,
// country, title, summary, evidence, event_ids, mitre, the evidence's asn
// as JSON text or NULL, status, assignee, note, updated_at, updated_by):
// the alerts table rows every backend serves from columns.
func ScanAlertTable(rows AlertRows) ([]AlertTableRow, error) {
	var out []AlertTableRow
	for rows.Next() {
		var r AlertTableRow
		var at, upd int64
		var asn *string
		tr := &r.Triage
		if err := rows.Scan(&r.ID, &r.Detector, &r.Severity, &at, &r.Actor, &r.IP, &r.Country, &r.Title, &r.Summary,
			&r.Evidence, &r.EventIDs, &r.MITRE, &asn, &tr.Status, &tr.Assignee, &tr.Note, &upd, &tr.UpdatedBy); err != nil {
			return nil, fmt.Errorf("store: alert table: %w", err)
		}
		if asn != nil {
			var err error
			if r.ASN, err = ASNOfJSON([]byte(*asn)); err != nil {
				return nil, fmt.Errorf("store: alert table: alert %s evidence asn: %w", r.ID, err)
			}
		}
		r.Time = fromMS(at)
		tr.AlertID, tr.UpdatedAt = r.ID, fromMS(upd)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: alert table: %w", err)
	}
	return out, nil
}
