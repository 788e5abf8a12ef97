package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// Triager is the triage part of the store: alert status with its
// history, and exceptions. Both backends (SQLite, PostgreSQL) implement
// it; a backend that did not would serve alerts without triage state and
// the plugin would answer triage requests with ErrTriageUnsupported. The
// contract suite's triage cases run against every backend that does. A backend keeps triage state apart from the
// alert rows, so the engine's upsert of an alert never overwrites it, and
// keeps it when alerts are pruned.
type Triager interface {
	// SetAlertStatus moves an alert to a status and appends the change to
	// its history in one transaction (with the exception a dismissal
	// creates). ErrNotFound for an unknown alert, ErrInvalidInput for bad
	// input; nothing is written when it fails.
	SetAlertStatus(ctx context.Context, c StatusChange) (alert.Change, error)
	AlertTriage(ctx context.Context, id string) (TriagedAlert, error)
	QueryTriagedAlerts(ctx context.Context, q TriageQuery) ([]TriagedAlert, error)
	AlertHistory(ctx context.Context, q HistoryQuery) ([]alert.Change, error)

	AddException(ctx context.Context, x alert.Exception) (alert.Exception, error)
	RemoveException(ctx context.Context, id int64, by string, at time.Time) (alert.Exception, error)
	Exception(ctx context.Context, id int64) (alert.Exception, error)
	Exceptions(ctx context.Context, q ExceptionQuery) ([]alert.Exception, error)
	// ExceptionsVersion changes whenever an exception is added or removed
	// by any process on the database.
	ExceptionsVersion(ctx context.Context) (string, error)
}

var _ Triager = (*Store)(nil)

// ErrTriageUnsupported is wrapped when a backend does not implement
// Triager (every backend of this build does).
var ErrTriageUnsupported = errors.New("alert triage is not supported by this storage backend yet")

// AsTriager returns the backend's triage side, or ErrTriageUnsupported.
func AsTriager(b Backend) (Triager, error) {
	if t, ok := b.(Triager); ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w (%s)", ErrTriageUnsupported, b.Describe())
}
