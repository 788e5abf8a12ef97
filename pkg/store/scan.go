package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// EventsAfter returns up to limit events in (published, id) order after
// the cursor (0, 0 for the start), with their raw JSON, and the cursor of
// the last one: a stable full scan for copying a store (store migrate).
func (s *Store) EventsAfter(ctx context.Context, published, id int64, limit int) ([]EventRow, int64, int64, error) {
	out, ids, err := s.queryEventRows(ctx, true, min(limit, 4096), "SELECT "+eventRowCols+`, r.raw, e.id FROM events e LEFT JOIN events_raw r ON r.id = e.id
		WHERE (e.published, e.id) > (?, ?) ORDER BY e.published, e.id LIMIT ?`, published, id, limit)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("store: scan events: %w", err)
	}
	if len(out) > 0 {
		published, id = MS(out[len(out)-1].Published), ids[len(ids)-1]
	}
	return out, published, id, nil
}

// PostureReports returns every posture report with its checks and JSON,
// oldest first, after the given time (unix ms; 0 for all).
func (s *Store) PostureReports(ctx context.Context, after int64) ([]PostureRecord, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, time, profile, score, json FROM posture_reports WHERE time > ? ORDER BY time, id", after)
	if err != nil {
		return nil, fmt.Errorf("store: posture reports: %w", err)
	}
	out, ids, err := ScanPostureRecords(rows, true)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: posture reports: %w", err)
	}
	checks, err := s.postureChecks(ctx, ids)
	if err != nil {
		return nil, err
	}
	AttachChecks(out, checks)
	return out, nil
}

// Org is the org the file is bound to (BindOrg), "" when none.
func (s *Store) Org(ctx context.Context) (string, error) {
	var org string
	err := s.r.QueryRowContext(ctx, "SELECT value FROM store_meta WHERE key = 'org'").Scan(&org)
	if err != nil {
		return "", nil //nolint:nilerr // no table or no row: unbound
	}
	return org, nil
}

// AsEvent rebuilds an event from a stored row so that another store
// derives the same columns from it (ColumnsOf) — for copying stores.
func (r *EventRow) AsEvent() event.Event {
	ev := event.Event{
		UUID: r.UUID, Published: r.Published, EventType: r.EventType, Severity: r.Severity, DisplayMessage: r.DisplayMessage,
		Actor:   event.Actor{ID: r.ActorID, Type: r.ActorType, AlternateID: r.Actor, DisplayName: r.ActorName},
		Outcome: event.Outcome{Result: r.Outcome, Reason: r.Reason},
		Client: event.Client{IPAddress: r.IP, Geo: event.Geo{City: r.City, Country: r.Country, Lat: r.Lat, Lon: r.Lon,
			HasLatLon: r.HasGeo}},
		Auth: event.AuthContext{ExternalSessionID: r.SessionID},
		Raw:  json.RawMessage(r.Raw),
	}
	if r.Target != "" {
		ev.Targets = []event.Target{{AlternateID: r.Target}}
	}
	ev.Debug.RiskLevel = r.RiskLevel
	ev.IP.Categories = event.IPCategory(r.IPCategories)
	return ev
}

// QueryAlertsAsc returns up to limit alerts with time >= from, oldest
// first (a full scan for copying a store).
func (s *Store) QueryAlertsAsc(ctx context.Context, from time.Time, limit int) ([]alert.Alert, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, json FROM alerts WHERE time >= ? ORDER BY time, id LIMIT ?", ms(from), limit)
	if err != nil {
		return nil, fmt.Errorf("store: scan alerts: %w", err)
	}
	defer rows.Close()
	return ScanAlerts(rows, "scan alerts")
}

// AlertRows is what ScanAlerts reads: database/sql's *Rows and pgx's Rows
// both have it.
type AlertRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanAlerts decodes rows of (id, json) into alerts; every backend's alert
// queries share it. what names the query in errors.
func ScanAlerts(rows AlertRows, what string) ([]alert.Alert, error) {
	var out []alert.Alert
	for rows.Next() {
		var id string
		var js []byte
		if err := rows.Scan(&id, &js); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		var a alert.Alert
		if err := json.Unmarshal(js, &a); err != nil {
			return nil, fmt.Errorf("store: %s: alert %s: %w", what, id, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}
