package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PostureCheckStatus is one check's outcome in a stored posture report.
type PostureCheckStatus struct {
	ID       string // posture check id, e.g. okta.password.min_length
	Title    string
	Category string
	Severity string
	Status   string // pass|fail|error|not_applicable|manual
	Findings int
	Failing  int
}

// PostureRecord is one stored posture evaluation.
type PostureRecord struct {
	ID      int64 // set by the store
	Time    time.Time
	Profile string
	Score   float64
	Checks  []PostureCheckStatus
	JSON    []byte // the full report as JSON (LatestPostureReport only; nil in PostureHistory)
}

// Regression is a posture check that got worse, with what caused it when known.
type Regression struct {
	ID       int64 // set by the store
	Time     time.Time
	CheckID  string
	Title    string
	Resource string // the policy/app/zone concerned
	From     string // status before
	To       string // status after
	EventID  string // the System Log event that changed it, when known
	Actor    string
	Detail   string
}

// SavePostureReport stores a report and its per-check statuses in one transaction.
func (s *Store) SavePostureReport(ctx context.Context, r PostureRecord) error {
	return s.explainWrite(s.savePostureReport(ctx, r))
}

func (s *Store) savePostureReport(ctx context.Context, r PostureRecord) error {
	if r.Time.IsZero() {
		return fmt.Errorf("store: save posture report: %w: zero time", ErrInvalidBatch)
	}
	if r.Profile == "" {
		return fmt.Errorf("store: save posture report: %w: empty profile", ErrInvalidBatch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.checkFence(ctx, tx); err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO posture_reports (time, profile, score, json) VALUES (?, ?, ?, ?)",
		ms(r.Time), r.Profile, r.Score, r.JSON)
	if err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO posture_checks (report_id, check_id, title, category, severity, status, findings, failing)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	defer st.Close()
	for _, c := range r.Checks {
		if c.ID == "" || c.Status == "" {
			return fmt.Errorf("store: save posture report: %w: check without id or status", ErrInvalidBatch)
		}
		if _, err := st.ExecContext(ctx, id, c.ID, c.Title, c.Category, c.Severity, c.Status, c.Findings, c.Failing); err != nil {
			return fmt.Errorf("store: save posture report: check %s: %w", c.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save posture report: %w", err)
	}
	return nil
}

// LatestPostureReport returns the newest report of a profile ("" = any
// profile), with its checks and JSON; ok is false when none is stored.
func (s *Store) LatestPostureReport(ctx context.Context, profile string) (PostureRecord, bool, error) {
	var r PostureRecord
	var t int64
	q := "SELECT id, time, profile, score, json FROM posture_reports ORDER BY time DESC, id DESC LIMIT 1"
	args := []any{}
	if profile != "" {
		q = "SELECT id, time, profile, score, json FROM posture_reports WHERE profile = ? ORDER BY time DESC, id DESC LIMIT 1"
		args = append(args, profile)
	}
	err := s.r.QueryRowContext(ctx, q, args...).Scan(&r.ID, &t, &r.Profile, &r.Score, &r.JSON)
	if errors.Is(err, sql.ErrNoRows) {
		return PostureRecord{}, false, nil
	}
	if err != nil {
		return PostureRecord{}, false, fmt.Errorf("store: latest posture report: %w", err)
	}
	r.Time = fromMS(t)
	checks, err := s.postureChecks(ctx, []int64{r.ID})
	if err != nil {
		return PostureRecord{}, false, err
	}
	r.Checks = checks[r.ID]
	return r, true, nil
}

// PostureHistory returns the reports of a profile ("" = all) in [from, to]
// (zero = open), oldest first, with their checks but without JSON.
func (s *Store) PostureHistory(ctx context.Context, from, to time.Time, profile string) ([]PostureRecord, error) {
	lo, hi, err := bounds(from, to)
	if err != nil {
		return nil, err
	}
	var w where
	w.add("time BETWEEN ? AND ?", lo, hi)
	if profile != "" {
		w.add("profile = ?", profile)
	}
	// #nosec G202 -- only code-built conditions (where.add with constant text) are joined; every value is a bound ? argument
	rows, err := s.r.QueryContext(ctx, "SELECT id, time, profile, score FROM posture_reports"+w.sql()+" ORDER BY time, id LIMIT ?",
		append(w.args, s.opts.MaxLimit)...)
	if err != nil {
		return nil, fmt.Errorf("store: posture history: %w", err)
	}
	out, ids, err := ScanPostureRecords(rows, false)
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: posture history: %w", err)
	}
	checks, err := s.postureChecks(ctx, ids)
	if err != nil {
		return nil, err
	}
	AttachChecks(out, checks)
	return out, nil
}

func (s *Store) postureChecks(ctx context.Context, ids []int64) (map[int64][]PostureCheckStatus, error) {
	if len(ids) == 0 {
		return map[int64][]PostureCheckStatus{}, nil
	}
	lo, hi := ids[0], ids[0]
	for _, id := range ids {
		lo, hi = min(lo, id), max(hi, id)
	}
	want := make(map[int64]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	rows, err := s.r.QueryContext(ctx, `SELECT report_id, check_id, title, category, severity, status, findings, failing
		FROM posture_checks WHERE report_id BETWEEN ? AND ? ORDER BY report_id, check_id`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("store: posture checks: %w", err)
	}
	defer rows.Close()
	out, err := ScanPostureChecks(rows, want)
	if err != nil {
		return nil, fmt.Errorf("store: posture checks: %w", err)
	}
	return out, nil
}

// SaveRegression stores one posture regression.
func (s *Store) SaveRegression(ctx context.Context, r Regression) error {
	return s.explainWrite(s.saveRegression(ctx, r))
}

func (s *Store) saveRegression(ctx context.Context, r Regression) error {
	if r.Time.IsZero() || r.CheckID == "" {
		return fmt.Errorf("store: save regression: %w: time and check id are required", ErrInvalidBatch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save regression: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := s.checkFence(ctx, tx); err != nil {
		return fmt.Errorf("store: save regression: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO regressions (time, check_id, title, resource, from_status, to_status, event_id, actor, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ms(r.Time), r.CheckID, r.Title, r.Resource, r.From, r.To, r.EventID, r.Actor, r.Detail); err != nil {
		return fmt.Errorf("store: save regression: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save regression: %w", err)
	}
	return nil
}

// Regressions returns the regressions in [from, to] (zero = open), newest first.
func (s *Store) Regressions(ctx context.Context, from, to time.Time) ([]Regression, error) {
	lo, hi, err := bounds(from, to)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, time, check_id, title, resource, from_status, to_status, event_id, actor, detail
		FROM regressions WHERE time BETWEEN ? AND ? ORDER BY time DESC, id DESC LIMIT ?`, lo, hi, s.opts.MaxLimit)
	if err != nil {
		return nil, fmt.Errorf("store: regressions: %w", err)
	}
	defer rows.Close()
	var out []Regression
	for rows.Next() {
		var r Regression
		var t int64
		if err := rows.Scan(&r.ID, &t, &r.CheckID, &r.Title, &r.Resource, &r.From, &r.To, &r.EventID, &r.Actor, &r.Detail); err != nil {
			return nil, fmt.Errorf("store: regressions: %w", err)
		}
		r.Time = fromMS(t)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: regressions: %w", err)
	}
	return out, nil
}
