package store

import "errors"

// ErrConnectionLost is wrapped by the error of a write whose connection to
// a database server broke (terminated by an administrator, a server
// restart or failover, the network): the PostgreSQL backend's.
var ErrConnectionLost = errors.New("connection to the database lost")

// WriteFailureClasses are the classes of WriteFailureClass (the label
// values of oktaguard_store_write_failures_total).
var WriteFailureClasses = []string{"disk_full", "read_only", "permission", "connection_lost", "fenced", "diverged", "corrupt", "other"}

// WriteFailureClass is the class of a failed write (a page commit) of
// either backend: each backend names the cause of its own errors (SQLite
// result codes, PostgreSQL SQLSTATEs) by wrapping one of the errors above,
// and this reads which; "other" for anything else.
func WriteFailureClass(err error) string {
	switch {
	case errors.Is(err, ErrFenced):
		return "fenced"
	case errors.Is(err, ErrDiverged):
		return "diverged"
	case errors.Is(err, ErrDiskFull):
		return "disk_full"
	case errors.Is(err, ErrReadOnly):
		return "read_only"
	case errors.Is(err, ErrPermission):
		return "permission"
	case errors.Is(err, ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	}
	return "other"
}

// classed is an error that reads as msg and is its class for errors.Is.
type classed struct {
	class error
	msg   string
}

func (e classed) Error() string        { return e.msg }
func (e classed) Is(target error) bool { return target == e.class }

// Classed returns an error that reads as msg and matches class (one of the
// errors of WriteFailureClass) with errors.Is: a backend names a cause in
// its own words ("read-only server") and keeps the shared class.
func Classed(class error, msg string) error { return classed{class, msg} }
