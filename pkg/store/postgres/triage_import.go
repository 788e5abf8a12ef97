package postgres

import (
	"context"
	"fmt"

	"github.com/oktaguard/oktaguard/pkg/store"
)

var _ store.TriageImporter = (*Store)(nil)

// ImportTriage writes a whole triage record (from `oktaguard store
// migrate`) in one transaction, unless the org has one already. Exception
// ids are the database's own (bigserial, shared by every org), so each
// exception gets a new id and the history's exception links follow it.
func (s *Store) ImportTriage(ctx context.Context, d store.TriageDump) (_ bool, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if s.isClosed() {
		return false, store.ErrClosed
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("store: import triage: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	// one importer per org at a time (two migrations at once copy once)
	if _, err := tx.Exec(ctx, "SELECT id FROM orgs WHERE id = $1 FOR UPDATE", s.org); err != nil {
		return false, fmt.Errorf("store: import triage: %w", err)
	}
	var have bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM alert_triage WHERE org = $1) OR EXISTS (SELECT 1 FROM alert_history WHERE org = $1)
		OR EXISTS (SELECT 1 FROM alert_exceptions WHERE org = $1)`, s.org).Scan(&have); err != nil {
		return false, fmt.Errorf("store: import triage: %w", err)
	}
	if have {
		return false, nil
	}
	ids := make(map[int64]int64, len(d.Exceptions))
	for _, x := range d.Exceptions {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO alert_exceptions (org, detector, scope, value, reason, alert_id, created_by, created_at,
			expires_at, removed_at, removed_by, hits, last_hit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
			s.org, x.Detector, x.Scope, x.Value, x.Reason, x.AlertID, x.CreatedBy, store.MS(x.CreatedAt), store.MS(x.ExpiresAt),
			store.MS(x.RemovedAt), x.RemovedBy, x.Hits, store.MS(x.LastHit)).Scan(&id); err != nil {
			return false, fmt.Errorf("store: import exception %d: %w", x.ID, err)
		}
		ids[x.ID] = id
	}
	for _, c := range d.History { // oldest first: ids keep the order
		xid := c.ExceptionID
		if xid != 0 {
			n, ok := ids[xid]
			if !ok {
				return false, fmt.Errorf("store: import triage: history entry %d of alert %s names exception %d, which the dump lacks", c.ID, c.AlertID, xid)
			}
			xid = n
		}
		if _, err := tx.Exec(ctx, `INSERT INTO alert_history (org, alert_id, time, usr, role, from_status, to_status, note, assignee, exception_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, s.org, c.AlertID, store.MS(c.Time), c.User, c.Role, c.From, c.To, c.Note,
			c.Assignee, xid); err != nil {
			return false, fmt.Errorf("store: import triage history: %w", err)
		}
	}
	for _, t := range d.States {
		if _, err := tx.Exec(ctx, `INSERT INTO alert_triage (org, alert_id, status, assignee, note, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.org, t.AlertID, t.Status, t.Assignee, t.Note, store.MS(t.UpdatedAt), t.UpdatedBy); err != nil {
			return false, fmt.Errorf("store: import triage of alert %s: %w", t.AlertID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("store: import triage: %w", err)
	}
	return true, nil
}

// TriageCounts counts the org's triage rows.
func (s *Store) TriageCounts(ctx context.Context) (store.TriageCounts, error) {
	var c store.TriageCounts
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM alert_triage WHERE org = $1), (SELECT COUNT(*) FROM alert_history WHERE org = $1),
		(SELECT COUNT(*) FROM alert_exceptions WHERE org = $1)`, s.org).Scan(&c.States, &c.History, &c.Exceptions); err != nil {
		return c, fmt.Errorf("store: triage counts: %w", err)
	}
	return c, nil
}
