package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// rolledBack is what a page commit the server refused means for what was
// accepted; opRolledBack the same for any other write.
const (
	rolledBack   = "the server rolled the transaction back: nothing of it was written, and everything committed before is intact; the pages held since the last commit are fetched again"
	opRolledBack = "the server rolled it back: nothing of it was written, and everything committed before is intact"
)

// explainWrite names the cause of a failed write (a page commit) for the
// operator and wraps the class (store.WriteFailureClass): the server's
// disk full, a read-only server (a hot standby, or
// default_transaction_read_only), a permission revoked, a lost connection.
// A fenced write (store.ErrFenced), a closed handle and the context's own
// errors are returned as they are, as is anything else. Nothing the driver
// said about the connection carries the password, and it is scrubbed all
// the same.
func (s *Store) explainWrite(ctx context.Context, err error) error {
	return s.explainFailure(ctx, err, rolledBack, lostOutcome)
}

// explainOp is explainWrite for the writes other than a page commit
// (prune, posture reports and regressions, triage, the lease): the same
// causes and classes, with what a refused or broken write of one
// statement or transaction means.
func (s *Store) explainOp(ctx context.Context, err error) error {
	return s.explainFailure(ctx, err, opRolledBack, opLostOutcome)
}

// explainFailure is explainWrite with the outcomes of a refused write and
// of a lost connection.
func (s *Store) explainFailure(ctx context.Context, err error, rolledBack, lostOutcome string) error {
	if err == nil || errors.Is(err, store.ErrFenced) || errors.Is(err, store.ErrClosed) || ctx.Err() != nil {
		return err
	}
	desc := s.desc
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return fmt.Errorf("postgres store %s: %w: the database server has no space left on the volume of its data or WAL (SQLSTATE 53100: %s): free space on the server; %s", desc, store.Classed(store.ErrDiskFull, "disk full"), s.scrub(pe.Message), rolledBack)
		case pe.Code == "25006": // read_only_sql_transaction
			return fmt.Errorf("postgres store %s: %w: %s (SQLSTATE 25006: %s); %s", desc, store.Classed(store.ErrReadOnly, "read-only server"), s.readOnlyWhy(ctx), s.scrub(pe.Message), rolledBack)
		case pe.Code == "42501": // insufficient_privilege
			return fmt.Errorf("postgres store %s: %w: the store's user may no longer write (SQLSTATE 42501: %s): grant it back, e.g. GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA <schema> TO <user>; %s", desc, store.Classed(store.ErrPermission, "permission denied"), s.scrub(pe.Message), rolledBack)
		case strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03":
			// connection exception, admin_shutdown (pg_terminate_backend, a
			// fast shutdown), crash_shutdown, cannot_connect_now
			return fmt.Errorf("postgres store %s: %w: the server ended the connection (SQLSTATE %s: %s); %s", desc, store.ErrConnectionLost, pe.Code, s.scrub(pe.Message), lostOutcome)
		}
		return err
	}
	if lostConnection(err) {
		return fmt.Errorf("postgres store %s: %w: %s; %s", desc, store.ErrConnectionLost, s.scrub(err.Error()), lostOutcome)
	}
	return err
}

// lostOutcome is what a page commit whose connection broke means;
// opLostOutcome the same for any other write.
const (
	lostOutcome   = "if it broke during COMMIT the server may have stored the page, else nothing of it was written; either way the pages held since the last commit are fetched again and no event is stored twice (check the server's log and that it is up)"
	opLostOutcome = "if it broke during COMMIT the server may have applied the write, else nothing of it was written (check the server's log and that it is up)"
)

// lostConnection reports an error of the connection itself, not of a
// statement: the socket closed, reset or unreachable, or a connection that
// could not be (re)established.
func lostConnection(err error) bool {
	var op *net.OpError
	var ce *pgconn.ConnectError
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) || errors.As(err, &ce) ||
		errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}

// readOnlyWhy asks the server why it refuses writes, on a connection of
// its own: a new pool connection would fail creating its staging table.
func (s *Store) readOnlyWhy(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var standby bool
	var ro string
	c, err := pgx.ConnectConfig(cctx, s.pool.Config().ConnConfig)
	if err == nil {
		err = c.QueryRow(cctx, `SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only')`).Scan(&standby, &ro)
		c.Close(cctx)
	}
	switch {
	case err != nil:
		return "the server refuses writes: it is a hot standby (a replica, or a primary demoted by a failover), or default_transaction_read_only is on for this database or user; point the DSN at the primary (target_session_attrs=read-write) or have the setting turned off"
	case standby:
		return "the server is a hot standby (a read-only replica, or a primary demoted by a failover): point the DSN at the primary, e.g. list every host and add target_session_attrs=read-write"
	case ro == "on":
		return "default_transaction_read_only is on for this database or user: have it turned off (ALTER DATABASE <db> SET default_transaction_read_only = off, or ALTER ROLE <user> ...; new connections pick it up)"
	}
	return "the server refused a write in a read-only transaction"
}

// scrub removes the password from a driver message.
func (s *Store) scrub(msg string) string {
	if pw := s.pool.Config().ConnConfig.Password; pw != "" {
		msg = strings.ReplaceAll(msg, pw, "*****")
	}
	return msg
}
