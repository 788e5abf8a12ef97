package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Error classes of a failed open, for health checks and the CLI.
var (
	ErrBadDSN       = errors.New("invalid storage DSN")
	ErrUnreachable  = errors.New("PostgreSQL is unreachable")
	ErrNoDatabase   = errors.New("database does not exist")
	ErrAuth         = errors.New("PostgreSQL authentication failed")
	ErrNoPermission = errors.New("missing permission")
	// ErrNoOrg: the org is not in the database and the user may not
	// register it (a read-only follower opened before any leader).
	ErrNoOrg = errors.New("org not registered")
)

// dsnProblem says what is wrong with a DSN without echoing it (it may
// hold a password).
func dsnProblem(dsn string, err error) string {
	if strings.TrimSpace(dsn) == "" {
		return "it is empty"
	}
	msg := err.Error()
	// pgconn's message quotes the DSN (with the password masked); keep only its reason
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// explain turns a connection or migration error into a precise message
// naming the server (desc) and never the password (secret is scrubbed
// from anything the driver said).
func explain(desc, secret string, err error) error {
	scrub := func(s string) string {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "*****")
		}
		return s
	}
	// the open's own classes (migrate, bindOrg): "class: detail"
	for _, cls := range []error{ErrNoPermission, ErrNoOrg} {
		if errors.Is(err, cls) {
			return fmt.Errorf("postgres store %s: %w%s", desc, cls, scrub(strings.TrimPrefix(err.Error(), cls.Error())))
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "3D000":
			return fmt.Errorf("postgres store %s: %w: %s (create it, e.g. createdb, or fix the database name in the DSN)", desc, ErrNoDatabase, scrub(pe.Message))
		case pe.Code == "28P01" || pe.Code == "28000":
			return fmt.Errorf("postgres store %s: %w: %s (check the user and the password: storage password, secureJsonData storagePassword)", desc, ErrAuth, scrub(pe.Message))
		case pe.Code == "42501":
			return fmt.Errorf("postgres store %s: %w: %s (the user needs CREATE on the database or schema, and the pg_trgm extension must be installed or creatable: GRANT CREATE ON DATABASE ... / CREATE EXTENSION pg_trgm as a superuser)", desc, ErrNoPermission, scrub(pe.Message))
		case pe.Code == "08P01" && strings.Contains(pe.Message, "unsupported startup parameter"):
			// PgBouncer refuses startup parameters it does not track
			return fmt.Errorf("postgres store %s: a connection pooler refused the connection: %s (behind PgBouncer, add default_query_exec_mode=simple_protocol to the DSN: oktaguard then sends no plan_cache_mode and prepares no statement on the server; set search_path with ALTER ROLE ... SET, not in the DSN)", desc, scrub(pe.Message))
		case pe.Code == "0A000" || pe.Code == "58P01" || strings.Contains(pe.Message, "pg_trgm"):
			return fmt.Errorf("postgres store %s: the pg_trgm extension is not available: %s (install postgresql-contrib)", desc, scrub(pe.Message))
		}
		return fmt.Errorf("postgres store %s: %s (SQLSTATE %s)", desc, scrub(pe.Message), pe.Code)
	}
	var op *net.OpError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("postgres store %s: %w: connection refused (is the server running and listening on that host and port?)", desc, ErrUnreachable)
	case errors.As(err, new(*net.DNSError)):
		return fmt.Errorf("postgres store %s: %w: the host name does not resolve", desc, ErrUnreachable)
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &op) && op.Timeout()):
		return fmt.Errorf("postgres store %s: %w: connection timed out", desc, ErrUnreachable)
	}
	return fmt.Errorf("postgres store %s: %s", desc, scrub(err.Error()))
}
