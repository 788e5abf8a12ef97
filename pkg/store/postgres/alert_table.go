package postgres

import (
	"context"
	"fmt"

	"github.com/oktaguard/oktaguard/pkg/store"
)

var _ store.AlertTableReader = (*Store)(nil)

// QueryAlertTable returns the alerts table rows of q (as
// QueryTriagedAlerts, newest first) from the alerts' columns (migration
// 4): no alert JSON is decoded; the evidence's asn is picked out by
// PostgreSQL and only that value is decoded here.
func (s *Store) QueryAlertTable(ctx context.Context, q store.TriageQuery) ([]store.AlertTableRow, error) {
	w, err := s.triageWhere(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT a.id, a.detector, a.severity, a.time, a.actor, a.ip, a.country, a.title, a.summary,
		a.evidence, a.event_ids, a.mitre, (a.evidence::json -> 'asn')::text,
		COALESCE(t.status, 'open'), COALESCE(t.assignee, ''), COALESCE(t.note, ''), COALESCE(t.updated_at, 0), COALESCE(t.updated_by, '')
		FROM alerts a LEFT JOIN alert_triage t ON t.org = a.org AND t.alert_id = a.id`+w.sql()+" ORDER BY a.time DESC, a.id LIMIT "+w.next(q.Limit),
		w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: alert table: %w", err)
	}
	defer rows.Close()
	return store.ScanAlertTable(rows)
}
