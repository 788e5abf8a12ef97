package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Alert triage (store.Triager) on the shared database. Any instance may
// triage, leader or follower: triage is written by analysts, not by the
// ingesting leader, so it takes no lease. Concurrent changes of one alert
// from several instances are serialised by a row lock on the alert
// (SELECT ... FOR NO KEY UPDATE) taken before its current status is read:
// every change's From is the previous change's To, and none is lost. The
// rules (input checks, assignee) are the SQLite store's (store.PrepareStatusChange,
// store.NextTriage).

var _ store.Triager = (*Store)(nil)

// SetAlertStatus moves an alert to a status and appends the change to its
// history in one transaction, with the exception a dismissal creates.
func (s *Store) SetAlertStatus(ctx context.Context, c store.StatusChange) (_ alert.Change, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	c, err = store.PrepareStatusChange(c)
	if err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	if s.isClosed() {
		return alert.Change{}, store.ErrClosed
	}
	var ch alert.Change
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM alerts WHERE org = $1 AND id = $2 FOR NO KEY UPDATE", s.org, c.AlertID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no alert with id %q", store.ErrNotFound, c.AlertID)
		}
		if err != nil {
			return err
		}
		from, assignee := alert.StatusOpen, ""
		err = tx.QueryRow(ctx, "SELECT status, assignee FROM alert_triage WHERE org = $1 AND alert_id = $2", s.org, c.AlertID).Scan(&from, &assignee)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		ch = store.NextTriage(c, from, assignee)
		if x := c.Exception; x != nil {
			if ch.ExceptionID, err = s.insertException(ctx, tx, *x); err != nil {
				return err
			}
		}
		at := store.MS(ch.Time)
		if _, err := tx.Exec(ctx, `INSERT INTO alert_triage (org, alert_id, status, assignee, note, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org, alert_id) DO UPDATE SET status = excluded.status,
			assignee = excluded.assignee, note = excluded.note, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			s.org, c.AlertID, c.To, ch.Assignee, c.Note, at, c.User); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO alert_history (org, alert_id, time, usr, role, from_status, to_status, note, assignee, exception_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`, s.org, c.AlertID, at, c.User, c.Role, from, c.To, c.Note,
			ch.Assignee, ch.ExceptionID).Scan(&ch.ID)
	})
	if err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	return ch, nil
}

func (s *Store) insertException(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, x alert.Exception) (int64, error) {
	var id int64
	if err := q.QueryRow(ctx, `INSERT INTO alert_exceptions (org, detector, scope, value, reason, alert_id, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, s.org, x.Detector, x.Scope, x.Value, x.Reason, x.AlertID,
		x.CreatedBy, store.MS(x.CreatedAt), store.MS(x.ExpiresAt)).Scan(&id); err != nil {
		return 0, fmt.Errorf("exception: %w", err)
	}
	return id, nil
}

// AddException stores an exception of the org and returns it with its id.
func (s *Store) AddException(ctx context.Context, x alert.Exception) (_ alert.Exception, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if err := store.ValidateException(x); err != nil {
		return alert.Exception{}, fmt.Errorf("store: add exception: %w", err)
	}
	if s.isClosed() {
		return alert.Exception{}, store.ErrClosed
	}
	id, err := s.insertException(ctx, s.pool, x)
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: add exception: %w", err)
	}
	x.ID = id
	x.CreatedAt, x.ExpiresAt = store.FromMS(store.MS(x.CreatedAt)), store.FromMS(store.MS(x.ExpiresAt))
	return x, nil
}

// RemoveException marks one of the org's exceptions removed; an unknown,
// another org's or an already removed exception is store.ErrNotFound.
func (s *Store) RemoveException(ctx context.Context, id int64, by string, at time.Time) (_ alert.Exception, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if err := store.ValidateRemover(by); err != nil {
		return alert.Exception{}, fmt.Errorf("store: remove exception: %w", err)
	}
	if s.isClosed() {
		return alert.Exception{}, store.ErrClosed
	}
	tag, err := s.pool.Exec(ctx, "UPDATE alert_exceptions SET removed_at = $3, removed_by = $4 WHERE org = $1 AND id = $2 AND removed_at = 0",
		s.org, id, store.MS(at), by)
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: remove exception: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return alert.Exception{}, fmt.Errorf("store: remove exception: %w: no exception %d in force", store.ErrNotFound, id)
	}
	return s.Exception(ctx, id)
}

// Exception returns one of the org's exceptions by id.
func (s *Store) Exception(ctx context.Context, id int64) (alert.Exception, error) {
	x, err := store.ScanException(s.pool.QueryRow(ctx, "SELECT "+store.ExceptionCols+" FROM alert_exceptions WHERE org = $1 AND id = $2", s.org, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return alert.Exception{}, fmt.Errorf("store: exception: %w: no exception %d", store.ErrNotFound, id)
	}
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: exception: %w", err)
	}
	return x, nil
}

// Exceptions lists the org's exceptions, newest first.
func (s *Store) Exceptions(ctx context.Context, q store.ExceptionQuery) ([]alert.Exception, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	w := s.where()
	if !q.ActiveAt.IsZero() {
		w.add("removed_at = 0 AND expires_at > ?", store.MS(q.ActiveAt))
	}
	rows, err := s.pool.Query(ctx, "SELECT "+store.ExceptionCols+" FROM alert_exceptions"+w.sql()+" ORDER BY id DESC LIMIT "+w.next(q.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	defer rows.Close()
	out, err := store.ScanExceptions(rows)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	return out, nil
}

// ExceptionsVersion changes whenever an exception of the org is added or
// removed, by any instance on the database.
func (s *Store) ExceptionsVersion(ctx context.Context) (string, error) {
	var maxID, removed, maxRemoved int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0), COUNT(*) FILTER (WHERE removed_at <> 0), COALESCE(MAX(removed_at), 0)
		FROM alert_exceptions WHERE org = $1`, s.org).Scan(&maxID, &removed, &maxRemoved); err != nil {
		return "", fmt.Errorf("store: exceptions version: %w", err)
	}
	return store.ExceptionsVersionOf(maxID, removed, maxRemoved), nil
}

// AlertHistory returns the org's triage changes, newest first.
func (s *Store) AlertHistory(ctx context.Context, q store.HistoryQuery) ([]alert.Change, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	w := s.where()
	if q.AlertID != "" {
		w.add("alert_id = ?", q.AlertID)
	}
	w.add("time BETWEEN ? AND ?", lo, hi)
	rows, err := s.pool.Query(ctx, `SELECT id, alert_id, time, usr, role, from_status, to_status, note, assignee, exception_id
		FROM alert_history`+w.sql()+" ORDER BY time DESC, id DESC LIMIT "+w.next(q.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: alert history: %w", err)
	}
	defer rows.Close()
	out, err := store.ScanHistory(rows)
	if err != nil {
		return nil, fmt.Errorf("store: alert history: %w", err)
	}
	return out, nil
}

// QueryTriagedAlerts returns the org's alerts (on alert time) with their
// triage state; an alert never triaged is open.
func (s *Store) QueryTriagedAlerts(ctx context.Context, q store.TriageQuery) ([]store.TriagedAlert, error) {
	w, err := s.triageWhere(q)
	if err != nil {
		return nil, err
	}
	out, err := s.queryTriaged(ctx, w, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: query triaged alerts: %w", err)
	}
	return out, nil
}

// triageWhere is the condition of a triage query over alerts a left
// joined with alert_triage t (the triaged list and the alerts table).
func (s *Store) triageWhere(q store.TriageQuery) (*where, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	if err := store.ValidateStatuses(q.Statuses); err != nil {
		return nil, err
	}
	w := &where{}
	w.add("a.org = ?", s.org)
	w.add("a.time BETWEEN ? AND ?", lo, hi)
	if q.Detector != "" {
		w.add("a.detector = ?", q.Detector)
	}
	if q.Actor != "" {
		w.add("a.actor = ?", q.Actor)
	}
	if len(q.Severities) > 0 {
		w.add("a.severity = ANY(?)", store.LowerAll(q.Severities))
	}
	if len(q.Statuses) > 0 {
		w.add("COALESCE(t.status, 'open') = ANY(?)", q.Statuses)
	}
	return w, nil
}

func (s *Store) queryTriaged(ctx context.Context, w *where, limit int) ([]store.TriagedAlert, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.id, a.json, COALESCE(t.status, 'open'), COALESCE(t.assignee, ''), COALESCE(t.note, ''),
		COALESCE(t.updated_at, 0), COALESCE(t.updated_by, '') FROM alerts a
		LEFT JOIN alert_triage t ON t.org = a.org AND t.alert_id = a.id`+w.sql()+" ORDER BY a.time DESC, a.id LIMIT "+w.next(limit), w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return store.ScanTriagedAlerts(rows)
}

// AlertTriage returns one of the org's alerts with its triage state.
func (s *Store) AlertTriage(ctx context.Context, id string) (store.TriagedAlert, error) {
	w := &where{}
	w.add("a.org = ?", s.org)
	w.add("a.id = ?", id)
	out, err := s.queryTriaged(ctx, w, 1)
	if err != nil {
		return store.TriagedAlert{}, fmt.Errorf("store: alert triage: %w", err)
	}
	if len(out) == 0 {
		return store.TriagedAlert{}, fmt.Errorf("store: alert triage: %w: no alert with id %q", store.ErrNotFound, id)
	}
	return out[0], nil
}

// statusFilter adds "the alert's triage status is one of statuses" to w
// (for queries over the alerts table, unaliased).
func (s *Store) statusFilter(w *where, statuses []string) error {
	if len(statuses) == 0 {
		return nil
	}
	if err := store.ValidateStatuses(statuses); err != nil {
		return err
	}
	w.add("COALESCE((SELECT t.status FROM alert_triage t WHERE t.org = alerts.org AND t.alert_id = alerts.id), 'open') = ANY(?)", statuses)
	return nil
}
