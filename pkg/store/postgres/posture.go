package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// SavePostureReport stores a report and its checks in one transaction
// (fenced like Commit: posture is evaluated by the leader only).
func (s *Store) SavePostureReport(ctx context.Context, r store.PostureRecord) (err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if r.Time.IsZero() {
		return fmt.Errorf("store: save posture report: %w: zero time", store.ErrInvalidBatch)
	}
	if r.Profile == "" {
		return fmt.Errorf("store: save posture report: %w: empty profile", store.ErrInvalidBatch)
	}
	for _, c := range r.Checks {
		if c.ID == "" || c.Status == "" {
			return fmt.Errorf("store: save posture report: %w: check without id or status", store.ErrInvalidBatch)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := s.checkFence(ctx, tx); err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	var id int64
	if err := tx.QueryRow(ctx, "INSERT INTO posture_reports (org, time, profile, score, json) VALUES ($1, $2, $3, $4, $5) RETURNING id",
		s.org, store.MS(r.Time), r.Profile, r.Score, r.JSON).Scan(&id); err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	for _, c := range r.Checks {
		if _, err := tx.Exec(ctx, `INSERT INTO posture_checks (report_id, check_id, title, category, severity, status, findings, failing)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, c.ID, c.Title, c.Category, c.Severity, c.Status, c.Findings, c.Failing); err != nil {
			return fmt.Errorf("store: save posture report: check %s: %w", c.ID, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	return nil
}

// LatestPostureReport returns the org's newest report of a profile ("" = any).
func (s *Store) LatestPostureReport(ctx context.Context, profile string) (store.PostureRecord, bool, error) {
	var r store.PostureRecord
	var t int64
	w := s.where()
	if profile != "" {
		w.add("profile = ?", profile)
	}
	err := s.pool.QueryRow(ctx, "SELECT id, time, profile, score, json FROM posture_reports"+w.sql()+" ORDER BY time DESC, id DESC LIMIT 1",
		w.args...).Scan(&r.ID, &t, &r.Profile, &r.Score, &r.JSON)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.PostureRecord{}, false, nil
	}
	if err != nil {
		return store.PostureRecord{}, false, fmt.Errorf("store: latest posture report: %w", err)
	}
	r.Time = store.FromMS(t)
	checks, err := s.postureChecks(ctx, []int64{r.ID})
	if err != nil {
		return store.PostureRecord{}, false, err
	}
	r.Checks = checks[r.ID]
	return r, true, nil
}

// PostureHistory returns the org's reports in [from, to], oldest first, without JSON.
func (s *Store) PostureHistory(ctx context.Context, from, to time.Time, profile string) ([]store.PostureRecord, error) {
	lo, hi, err := store.Bounds(from, to)
	if err != nil {
		return nil, err
	}
	w := s.where()
	w.add("time BETWEEN ? AND ?", lo, hi)
	if profile != "" {
		w.add("profile = ?", profile)
	}
	rows, err := s.pool.Query(ctx, "SELECT id, time, profile, score FROM posture_reports"+w.sql()+" ORDER BY time, id LIMIT "+w.next(s.cfg.MaxLimit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: posture history: %w", err)
	}
	out, ids, err := store.ScanPostureRecords(rows, false)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: posture history: %w", err)
	}
	checks, err := s.postureChecks(ctx, ids)
	if err != nil {
		return nil, err
	}
	store.AttachChecks(out, checks)
	return out, nil
}

func (s *Store) postureChecks(ctx context.Context, ids []int64) (map[int64][]store.PostureCheckStatus, error) {
	if len(ids) == 0 {
		return map[int64][]store.PostureCheckStatus{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT c.report_id, c.check_id, c.title, c.category, c.severity, c.status, c.findings, c.failing
		FROM posture_checks c JOIN posture_reports r ON r.id = c.report_id
		WHERE r.org = $1 AND c.report_id = ANY($2) ORDER BY c.report_id, c.check_id`, s.org, ids)
	if err != nil {
		return nil, fmt.Errorf("store: posture checks: %w", err)
	}
	defer rows.Close()
	out, err := store.ScanPostureChecks(rows, nil)
	if err != nil {
		return nil, fmt.Errorf("store: posture checks: %w", err)
	}
	return out, nil
}

// SaveRegression stores one posture regression of the org.
func (s *Store) SaveRegression(ctx context.Context, r store.Regression) (err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if r.Time.IsZero() || r.CheckID == "" {
		return fmt.Errorf("store: save regression: %w: time and check id are required", store.ErrInvalidBatch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.checkFence(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO regressions (org, time, check_id, title, resource, from_status, to_status, event_id, actor, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, s.org, store.MS(r.Time), r.CheckID, r.Title, r.Resource, r.From, r.To,
			r.EventID, r.Actor, r.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: save regression: %w", err)
	}
	return nil
}

// Regressions returns the org's regressions in [from, to], newest first.
func (s *Store) Regressions(ctx context.Context, from, to time.Time) ([]store.Regression, error) {
	lo, hi, err := store.Bounds(from, to)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, time, check_id, title, resource, from_status, to_status, event_id, actor, detail
		FROM regressions WHERE org = $1 AND time BETWEEN $2 AND $3 ORDER BY time DESC, id DESC LIMIT $4`, s.org, lo, hi, s.cfg.MaxLimit)
	if err != nil {
		return nil, fmt.Errorf("store: regressions: %w", err)
	}
	defer rows.Close()
	var out []store.Regression
	for rows.Next() {
		var r store.Regression
		var t int64
		if err := rows.Scan(&r.ID, &t, &r.CheckID, &r.Title, &r.Resource, &r.From, &r.To, &r.EventID, &r.Actor, &r.Detail); err != nil {
			return nil, fmt.Errorf("store: regressions: %w", err)
		}
		r.Time = store.FromMS(t)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: regressions: %w", err)
	}
	return out, nil
}
