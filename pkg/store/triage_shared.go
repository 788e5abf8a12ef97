package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// Triage logic shared by every backend that implements Triager (SQLite
// here, pkg/store/postgres): input checks and the status transition, so
// that both apply the same rules and give the same errors.

// PrepareStatusChange checks a status change and completes the exception
// a dismissal creates (its AlertID, CreatedBy and CreatedAt). Errors wrap
// ErrInvalidInput.
func PrepareStatusChange(c StatusChange) (StatusChange, error) {
	if err := c.validate(); err != nil {
		return StatusChange{}, err
	}
	if c.Exception != nil {
		x := *c.Exception
		x.AlertID, x.CreatedBy, x.CreatedAt = c.AlertID, c.User, c.Time
		if err := validateException(x); err != nil {
			return StatusChange{}, err
		}
		c.Exception = &x
	}
	return c, nil
}

// ValidateException checks an exception before it is stored (ErrInvalidInput).
func ValidateException(x alert.Exception) error { return validateException(x) }

// ValidateRemover checks who removes an exception (ErrInvalidInput).
func ValidateRemover(by string) error {
	if strings.TrimSpace(by) == "" {
		return fmt.Errorf("%w: the acting user is unknown", ErrInvalidInput)
	}
	return checkText("user", by, MaxActorLen)
}

// ValidateStatuses checks a status filter (ErrInvalidQuery).
func ValidateStatuses(statuses []string) error {
	for _, st := range statuses {
		if !alert.ValidStatus(st) {
			return fmt.Errorf("store: %w: status %q is unknown (%s)", ErrInvalidQuery, st, strings.Join(alert.Statuses, ", "))
		}
	}
	return nil
}

// NextTriage is the change a status change makes to an alert whose
// current status and assignee are from and assignee (open and "" when it
// was never triaged): an explicit assignee replaces the current one, and
// acknowledging an unassigned alert assigns it to the acting user.
func NextTriage(c StatusChange, from, assignee string) alert.Change {
	switch {
	case c.Assignee != "":
		assignee = c.Assignee
	case assignee == "" && c.To == alert.StatusAcknowledged:
		assignee = c.User
	}
	return alert.Change{AlertID: c.AlertID, Time: c.Time.UTC(), User: c.User, Role: c.Role,
		From: from, To: c.To, Note: c.Note, Assignee: assignee}
}

// LowerAll lower-cases a severity filter (severities are stored lower case).
func LowerAll(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.ToLower(v)
	}
	return out
}

// ExceptionsVersionOf formats ExceptionsVersion from the highest exception
// id, the number of removed exceptions and the latest removal time.
func ExceptionsVersionOf(maxID, removed, maxRemoved int64) string {
	return fmt.Sprintf("%d/%d/%d", maxID, removed, maxRemoved)
}

// ExceptionCols are the columns ScanException reads, in order (both
// backends name them alike).
const ExceptionCols = `id, detector, scope, value, reason, alert_id, created_by, created_at, expires_at, removed_at, removed_by, hits, last_hit`

// ScanException decodes one row of ExceptionCols.
func ScanException(sc interface{ Scan(...any) error }) (alert.Exception, error) {
	var x alert.Exception
	var created, expires, removed, last int64
	err := sc.Scan(&x.ID, &x.Detector, &x.Scope, &x.Value, &x.Reason, &x.AlertID, &x.CreatedBy, &created, &expires, &removed, &x.RemovedBy, &x.Hits, &last)
	x.CreatedAt, x.ExpiresAt, x.RemovedAt, x.LastHit = fromMS(created), fromMS(expires), fromMS(removed), fromMS(last)
	return x, err
}

// ScanExceptions decodes rows of ExceptionCols.
func ScanExceptions(rows AlertRows) ([]alert.Exception, error) {
	var out []alert.Exception
	for rows.Next() {
		x, err := ScanException(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// ScanHistory decodes rows of (id, alert_id, time, user, role,
// from_status, to_status, note, assignee, exception_id).
func ScanHistory(rows AlertRows) ([]alert.Change, error) {
	var out []alert.Change
	for rows.Next() {
		var c alert.Change
		var t int64
		if err := rows.Scan(&c.ID, &c.AlertID, &t, &c.User, &c.Role, &c.From, &c.To, &c.Note, &c.Assignee, &c.ExceptionID); err != nil {
			return nil, err
		}
		c.Time = fromMS(t)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ScanTriagedAlerts decodes rows of (id, json, status, assignee, note,
// updated_at, updated_by): alerts with their triage state.
func ScanTriagedAlerts(rows AlertRows) ([]TriagedAlert, error) {
	var out []TriagedAlert
	for rows.Next() {
		var ta TriagedAlert
		var id string
		var js []byte
		var upd int64
		tr := &ta.Triage
		if err := rows.Scan(&id, &js, &tr.Status, &tr.Assignee, &tr.Note, &upd, &tr.UpdatedBy); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(js, &ta.Alert); err != nil {
			return nil, fmt.Errorf("alert %s: %w", id, err)
		}
		tr.AlertID, tr.UpdatedAt = id, fromMS(upd)
		ta.Alert.Status = tr.Status
		out = append(out, ta)
	}
	return out, rows.Err()
}
