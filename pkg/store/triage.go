package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// ErrNotFound is wrapped by errors about an alert or exception that is not stored.
var ErrNotFound = errors.New("not found")

// ErrInvalidInput is wrapped by triage errors caused by bad input (an
// unknown status, an oversized note, an exception without a scope, ...).
var ErrInvalidInput = errors.New("invalid input")

// Limits of triage input.
const (
	MaxNoteLen  = 2000 // characters of a note or an exception's reason
	MaxActorLen = 256  // characters of a user name, assignee or scope value
)

// StatusChange asks to move an alert to a status.
type StatusChange struct {
	AlertID string
	To      string // open|acknowledged|resolved|dismissed
	Note    string
	// Assignee, when set, becomes the alert's assignee; when empty the
	// current one is kept, and acknowledging an unassigned alert assigns
	// it to User.
	Assignee string
	User     string // who (the Grafana login, or the CLI's user)
	Role     string // their Grafana role, when known
	Time     time.Time
	// Exception, only with To = dismissed, is created in the same
	// transaction (its AlertID, CreatedBy and CreatedAt are filled in).
	Exception *alert.Exception
}

func checkText(field, v string, max int) error {
	if n := utf8.RuneCountInString(v); n > max {
		return fmt.Errorf("%w: %s is %d characters long, at most %d are allowed", ErrInvalidInput, field, n, max)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidInput, field)
	}
	return nil
}

func (c StatusChange) validate() error {
	if c.AlertID == "" {
		return fmt.Errorf("%w: alert id is empty", ErrInvalidInput)
	}
	if !alert.ValidStatus(c.To) {
		return fmt.Errorf("%w: status %q is unknown (%s)", ErrInvalidInput, c.To, strings.Join(alert.Statuses, ", "))
	}
	if strings.TrimSpace(c.User) == "" {
		return fmt.Errorf("%w: the acting user is unknown", ErrInvalidInput)
	}
	if c.Time.IsZero() {
		return fmt.Errorf("%w: time is zero", ErrInvalidInput)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"note", c.Note, MaxNoteLen}, {"assignee", c.Assignee, MaxActorLen}, {"user", c.User, MaxActorLen}, {"role", c.Role, MaxActorLen}} {
		if err := checkText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if c.Exception != nil && c.To != alert.StatusDismissed {
		return fmt.Errorf("%w: an exception can only come with a dismissal, not with %s", ErrInvalidInput, c.To)
	}
	return nil
}

func validateException(x alert.Exception) error {
	if strings.TrimSpace(x.Detector) == "" {
		return fmt.Errorf("%w: exception has no detector", ErrInvalidInput)
	}
	known := false
	for _, s := range alert.Scopes {
		known = known || s == x.Scope
	}
	if x.Scope == "" || strings.TrimSpace(x.Value) == "" {
		return fmt.Errorf("%w: exception has no scope (one of %s, with a value)", ErrInvalidInput, strings.Join(alert.Scopes, ", "))
	}
	if !known {
		return fmt.Errorf("%w: exception scope %q is unknown (%s)", ErrInvalidInput, x.Scope, strings.Join(alert.Scopes, ", "))
	}
	if strings.TrimSpace(x.Reason) == "" {
		return fmt.Errorf("%w: exception has no reason", ErrInvalidInput)
	}
	if strings.TrimSpace(x.CreatedBy) == "" {
		return fmt.Errorf("%w: exception has no author", ErrInvalidInput)
	}
	if x.CreatedAt.IsZero() || !x.ExpiresAt.After(x.CreatedAt) {
		return fmt.Errorf("%w: exception must expire after it is created", ErrInvalidInput)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"reason", x.Reason, MaxNoteLen}, {"detector", x.Detector, MaxActorLen}, {"value", x.Value, MaxActorLen}, {"createdBy", x.CreatedBy, MaxActorLen}} {
		if err := checkText("exception "+f.name, f.v, f.max); err != nil {
			return err
		}
	}
	return nil
}

// SetAlertStatus moves an alert to a status and appends the change to its
// history, in one transaction (with the exception a dismissal creates).
// An unknown alert is ErrNotFound; bad input is ErrInvalidInput. Nothing
// is written when it fails.
// A write the file refuses is named by cause (disk full, read-only, ...),
// as a page commit's is (explainWrite).
func (s *Store) SetAlertStatus(ctx context.Context, c StatusChange) (alert.Change, error) {
	ch, err := s.setAlertStatus(ctx, c)
	return ch, s.explainWrite(err)
}

func (s *Store) setAlertStatus(ctx context.Context, c StatusChange) (alert.Change, error) {
	c, err := PrepareStatusChange(c)
	if err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return alert.Change{}, ErrClosed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM alerts WHERE id = ?", c.AlertID).Scan(&n); err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	if n == 0 {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w: no alert with id %q", ErrNotFound, c.AlertID)
	}
	from, assignee := alert.StatusOpen, ""
	err = tx.QueryRowContext(ctx, "SELECT status, assignee FROM alert_triage WHERE alert_id = ?", c.AlertID).Scan(&from, &assignee)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	ch := NextTriage(c, from, assignee)
	assignee = ch.Assignee
	if x := c.Exception; x != nil {
		id, err := insertException(ctx, tx, *x)
		if err != nil {
			return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
		}
		ch.ExceptionID = id
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO alert_triage (alert_id, status, assignee, note, updated_at, updated_by)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(alert_id) DO UPDATE SET status = excluded.status, assignee = excluded.assignee,
		note = excluded.note, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		c.AlertID, c.To, assignee, c.Note, ms(ch.Time), c.User); err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO alert_history (alert_id, time, user, role, from_status, to_status, note, assignee, exception_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.AlertID, ms(ch.Time), c.User, c.Role, from, c.To, c.Note, assignee, ch.ExceptionID)
	if err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	ch.ID, _ = r.LastInsertId()
	if err := tx.Commit(); err != nil {
		return alert.Change{}, fmt.Errorf("store: set alert status: %w", err)
	}
	return ch, nil
}

func insertException(ctx context.Context, tx *sql.Tx, x alert.Exception) (int64, error) {
	r, err := tx.ExecContext(ctx, `INSERT INTO alert_exceptions (detector, scope, value, reason, alert_id, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, x.Detector, x.Scope, x.Value, x.Reason, x.AlertID, x.CreatedBy, ms(x.CreatedAt), ms(x.ExpiresAt))
	if err != nil {
		return 0, fmt.Errorf("exception: %w", err)
	}
	return r.LastInsertId()
}

// AddException stores an exception and returns it with its id.
// A write the file refuses is named by cause, as a page commit's is.
func (s *Store) AddException(ctx context.Context, x alert.Exception) (alert.Exception, error) {
	x, err := s.addException(ctx, x)
	return x, s.explainWrite(err)
}

func (s *Store) addException(ctx context.Context, x alert.Exception) (alert.Exception, error) {
	if err := validateException(x); err != nil {
		return alert.Exception{}, fmt.Errorf("store: add exception: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return alert.Exception{}, ErrClosed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: add exception: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	id, err := insertException(ctx, tx, x)
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: add exception: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return alert.Exception{}, fmt.Errorf("store: add exception: %w", err)
	}
	x.ID = id
	x.CreatedAt, x.ExpiresAt = fromMS(ms(x.CreatedAt)), fromMS(ms(x.ExpiresAt))
	return x, nil
}

// RemoveException marks an exception removed (it stays listed as removed).
// An unknown or already removed exception is ErrNotFound.
// A write the file refuses is named by cause, as a page commit's is.
func (s *Store) RemoveException(ctx context.Context, id int64, by string, at time.Time) (alert.Exception, error) {
	x, err := s.removeException(ctx, id, by, at)
	return x, s.explainWrite(err)
}

func (s *Store) removeException(ctx context.Context, id int64, by string, at time.Time) (alert.Exception, error) {
	if err := ValidateRemover(by); err != nil {
		return alert.Exception{}, fmt.Errorf("store: remove exception: %w", err)
	}
	s.mu.Lock()
	r, err := s.w.ExecContext(ctx, "UPDATE alert_exceptions SET removed_at = ?, removed_by = ? WHERE id = ? AND removed_at = 0",
		ms(at), by, id)
	s.mu.Unlock()
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: remove exception: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return alert.Exception{}, fmt.Errorf("store: remove exception: %w: no exception %d in force", ErrNotFound, id)
	}
	return s.Exception(ctx, id)
}

// Exception returns one exception by id (ErrNotFound when unknown).
func (s *Store) Exception(ctx context.Context, id int64) (alert.Exception, error) {
	x, err := ScanException(s.r.QueryRowContext(ctx, "SELECT "+ExceptionCols+" FROM alert_exceptions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return alert.Exception{}, fmt.Errorf("store: exception: %w: no exception %d", ErrNotFound, id)
	}
	if err != nil {
		return alert.Exception{}, fmt.Errorf("store: exception: %w", err)
	}
	return x, nil
}

// ExceptionQuery selects exceptions, newest first.
type ExceptionQuery struct {
	// ActiveAt, when set, keeps only the exceptions in force at that time;
	// zero lists every exception, expired and removed ones included.
	ActiveAt time.Time
	Limit    int
}

// Exceptions lists exceptions.
func (s *Store) Exceptions(ctx context.Context, q ExceptionQuery) ([]alert.Exception, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	var w where
	if !q.ActiveAt.IsZero() {
		w.add("removed_at = 0 AND expires_at > ?", ms(q.ActiveAt))
	}
	// #nosec G202 -- only code-built conditions (where.add with constant text) are joined; every value is a bound ? argument
	rows, err := s.r.QueryContext(ctx, "SELECT "+ExceptionCols+" FROM alert_exceptions"+w.sql()+" ORDER BY id DESC LIMIT ?", append(w.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	defer rows.Close()
	out, err := ScanExceptions(rows)
	if err != nil {
		return nil, fmt.Errorf("store: exceptions: %w", err)
	}
	return out, nil
}

// ExceptionsVersion changes whenever an exception is added or removed (by
// this process or another one on the same database): the pipeline reloads
// its exceptions when it differs from the one it loaded.
func (s *Store) ExceptionsVersion(ctx context.Context) (string, error) {
	var maxID, removed, maxRemoved int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0), COALESCE(SUM(removed_at <> 0), 0), COALESCE(MAX(removed_at), 0)
		FROM alert_exceptions`).Scan(&maxID, &removed, &maxRemoved); err != nil {
		return "", fmt.Errorf("store: exceptions version: %w", err)
	}
	return ExceptionsVersionOf(maxID, removed, maxRemoved), nil
}

// addExceptionHits adds a commit's suppressed-alert counts to exceptions
// (id -> hits) in the commit's transaction.
func addExceptionHits(ctx context.Context, tx *sql.Tx, hits map[int64]int64, at time.Time) error {
	for id, n := range hits {
		if _, err := tx.ExecContext(ctx, "UPDATE alert_exceptions SET hits = hits + ?, last_hit = MAX(last_hit, ?) WHERE id = ?", n, ms(at), id); err != nil {
			return fmt.Errorf("store: commit: exception hits: %w", err)
		}
	}
	return nil
}

// HistoryQuery selects triage history, newest first.
type HistoryQuery struct {
	AlertID  string // empty: every alert
	From, To time.Time
	Limit    int
}

// AlertHistory returns triage changes, newest first.
func (s *Store) AlertHistory(ctx context.Context, q HistoryQuery) ([]alert.Change, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	var w where
	if q.AlertID != "" {
		w.add("alert_id = ?", q.AlertID)
	}
	w.add("time BETWEEN ? AND ?", lo, hi)
	// #nosec G202 -- only code-built conditions (where.add with constant text) are joined; every value is a bound ? argument
	rows, err := s.r.QueryContext(ctx, `SELECT id, alert_id, time, user, role, from_status, to_status, note, assignee, exception_id
		FROM alert_history`+w.sql()+" ORDER BY time DESC, id DESC LIMIT ?", append(w.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: alert history: %w", err)
	}
	defer rows.Close()
	out, err := ScanHistory(rows)
	if err != nil {
		return nil, fmt.Errorf("store: alert history: %w", err)
	}
	return out, nil
}

// TriagedAlert is an alert with its triage state (Alert.Status is set).
type TriagedAlert struct {
	alert.Alert
	Triage alert.Triage
}

// TriageQuery selects alerts with their triage state, newest first.
type TriageQuery struct {
	From, To   time.Time
	Detector   string
	Severities []string // any of; empty: all
	Actor      string
	Statuses   []string // any of; empty: all
	Limit      int
}

// QueryTriagedAlerts returns alerts (on alert time) with their triage
// state; an alert never triaged is open.
func (s *Store) QueryTriagedAlerts(ctx context.Context, q TriageQuery) ([]TriagedAlert, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	w, err := q.where()
	if err != nil {
		return nil, err
	}
	out, err := s.queryTriaged(ctx, w, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: query triaged alerts: %w", err)
	}
	return out, nil
}

// where is the filter of q on the alerts (a) joined with their triage (t).
func (q TriageQuery) where() (where, error) {
	var w where
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return w, err
	}
	w.add("a.time BETWEEN ? AND ?", lo, hi)
	if q.Detector != "" {
		w.add("a.detector = ?", q.Detector)
	}
	if q.Actor != "" {
		w.add("a.actor = ?", q.Actor)
	}
	inList := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		w.add(col+" IN (?"+strings.Repeat(",?", len(vals)-1)+")", args...)
	}
	inList("a.severity", LowerAll(q.Severities))
	if err := ValidateStatuses(q.Statuses); err != nil {
		return w, err
	}
	inList("COALESCE(t.status, 'open')", q.Statuses)
	return w, nil
}

// queryTriaged reads alerts joined with their triage state, newest first.
func (s *Store) queryTriaged(ctx context.Context, w where, limit int) ([]TriagedAlert, error) {
	// #nosec G202 -- only code-built conditions (where.add with constant text) are joined; every value is a bound ? argument
	rows, err := s.r.QueryContext(ctx, `SELECT a.id, a.json, COALESCE(t.status, 'open'), COALESCE(t.assignee, ''), COALESCE(t.note, ''),
		COALESCE(t.updated_at, 0), COALESCE(t.updated_by, '') FROM alerts a LEFT JOIN alert_triage t ON t.alert_id = a.id`+
		w.sql()+" ORDER BY a.time DESC, a.id LIMIT ?", append(w.args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return ScanTriagedAlerts(rows)
}

// AlertTriage returns one alert with its triage state (open when never
// triaged); ErrNotFound when no such alert is stored.
func (s *Store) AlertTriage(ctx context.Context, id string) (TriagedAlert, error) {
	var w where
	w.add("a.id = ?", id)
	out, err := s.queryTriaged(ctx, w, 1)
	if err != nil {
		return TriagedAlert{}, fmt.Errorf("store: alert triage: %w", err)
	}
	if len(out) == 0 {
		return TriagedAlert{}, fmt.Errorf("store: alert triage: %w: no alert with id %q", ErrNotFound, id)
	}
	return out[0], nil
}

// statusFilter adds "the alert's triage status is one of statuses" to w
// (for queries over the alerts table, unaliased).
func statusFilter(w *where, statuses []string) error {
	if len(statuses) == 0 {
		return nil
	}
	if err := ValidateStatuses(statuses); err != nil {
		return err
	}
	args := make([]any, len(statuses))
	for i, st := range statuses {
		args[i] = st
	}
	w.add("COALESCE((SELECT t.status FROM alert_triage t WHERE t.alert_id = alerts.id), 'open') IN (?"+strings.Repeat(",?", len(statuses)-1)+")", args...)
	return nil
}
