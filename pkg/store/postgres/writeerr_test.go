package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// writerEnv is a store opened as a role of its own (not a superuser:
// privileges apply) with a password, in a fresh schema, and a superuser
// connection to change the server under it.
type writerEnv struct {
	admin, schema, role string
	su                  *pgx.Conn
	s                   *postgres.Store
}

const writerPassword = pgtest.WriterPassword

func newWriterEnv(t *testing.T) writerEnv {
	t.Helper()
	admin, dsn, schema, role := pgtest.Writer(t)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { su.Close(context.Background()) })
	s, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Password: writerPassword, Org: storetest.OrgA, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return writerEnv{admin: admin, schema: schema, role: role, su: su, s: s}
}

// exec runs a statement as the superuser.
func (e writerEnv) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.su.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// wantClass checks that err is of class and names want, without the password.
func wantClass(t *testing.T, name string, err error, class string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: the write succeeded", name)
	}
	if got := store.WriteFailureClass(err); got != class {
		t.Fatalf("%s: class %q, want %q: %v", name, got, class, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: %q\nlacks %q", name, err, w)
		}
	}
	if strings.Contains(err.Error(), writerPassword) {
		t.Fatalf("%s: the error leaks the password: %v", name, err)
	}
	t.Logf("%s: %v", name, err)
}

// A page commit that the real server refuses names the cause for the
// operator and wraps its class (store.WriteFailureClass, the label of
// oktaguard_store_write_failures_total), never the DSN's password: the
// server out of disk (SQLSTATE 53100, raised by a trigger in the commit's
// own INSERT: this test cannot fill the server's disk), INSERT revoked
// mid-run, default_transaction_read_only turned on for the store's user,
// the connection terminated (pg_terminate_backend) while the commit waits
// on a lock, and another instance taking the org over (fenced). After
// each, a commit succeeds again once the cause is gone. All but fenced
// were unclassified before ("other": the bare driver error).
func TestCommitFailuresClassified(t *testing.T) {
	e := newWriterEnv(t)
	admin, schema, role, su, s := e.admin, e.schema, e.role, e.su, e.s
	ctx := context.Background()
	var err error

	t0 := time.Now().UTC().Truncate(time.Hour)
	page := 0
	commit := func() error {
		page++
		_, err := s.Commit(ctx, store.Batch{Events: storetest.Events("w", page*10, 10, t0, time.Second)})
		return err
	}
	exec := func(q string, args ...any) {
		t.Helper()
		e.exec(t, q, args...)
	}
	failsAs := func(name string, err error, class string, want ...string) {
		t.Helper()
		wantClass(t, name, err, class, want...)
	}
	recovered := func(name string) {
		t.Helper()
		if err := commit(); err != nil {
			t.Fatalf("after %s was undone: %v", name, err)
		}
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}

	exec(`CREATE FUNCTION ` + schema + `.og_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file "base/1/2": No space left on device' USING ERRCODE = 'disk_full'; END $$`)
	exec("CREATE TRIGGER og_full BEFORE INSERT ON " + schema + ".checkpoint FOR EACH ROW EXECUTE FUNCTION " + schema + ".og_full()")
	exec("CREATE TRIGGER og_full_u BEFORE UPDATE ON " + schema + ".checkpoint FOR EACH ROW EXECUTE FUNCTION " + schema + ".og_full()")
	_, err = s.Commit(ctx, store.Batch{Events: storetest.Events("w", 1000, 10, t0, time.Second), Checkpoint: &store.Checkpoint{NextURL: "/api/v1/logs?after=x"}})
	failsAs("disk full", err, "disk_full", "disk full: the database server has no space left", "SQLSTATE 53100", "rolled the transaction back")
	exec("DROP TRIGGER og_full ON " + schema + ".checkpoint")
	exec("DROP TRIGGER og_full_u ON " + schema + ".checkpoint")
	recovered("disk full")

	exec("REVOKE INSERT ON ALL TABLES IN SCHEMA " + schema + " FROM " + role)
	failsAs("INSERT revoked", commit(), "permission", "permission denied: the store's user may no longer write", "SQLSTATE 42501", "GRANT")
	exec("GRANT INSERT ON ALL TABLES IN SCHEMA " + schema + " TO " + role)
	recovered("the revocation")

	exec("ALTER ROLE " + role + " SET default_transaction_read_only = on")
	postgres.ResetPool(s) // new connections take the setting
	failsAs("read-only", commit(), "read_only", "read-only server: default_transaction_read_only is on", "SQLSTATE 25006")
	exec("ALTER ROLE " + role + " RESET default_transaction_read_only")
	postgres.ResetPool(s)
	recovered("read-only")

	// the connection terminated while the commit waits on a lock
	tx, err := su.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+schema+".leases IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- commit() }()
	watch, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(ctx)
	var pid int32
	testwait.Until(t, 30*time.Second, "the commit waiting on the lock", func() bool {
		return watch.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'", role).Scan(&pid) == nil
	})
	if _, err := watch.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	failsAs("connection terminated", <-done, "connection_lost", "connection to the database lost", "no event is stored twice")
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	recovered("the termination")

	// fenced: this handle led, another instance took the org over
	if _, err := s.Lead(ctx, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	other, err := postgres.Open(ctx, postgres.Config{DSN: admin, Org: storetest.OrgA, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	exec("UPDATE " + schema + ".leases SET expires = now() - interval '1 second'")
	if l, err := other.Lead(ctx, "b", time.Minute); err != nil || !l.Leader {
		t.Fatalf("takeover: %+v, %v", l, err)
	}
	err = commit()
	failsAs("fenced", err, "fenced", "no longer holds the org's lease")
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("fenced: %v does not wrap store.ErrFenced", err)
	}
}

// The writes other than a page commit name their cause and wrap its class
// as Commit's do, never the password: prune, posture reports and
// regressions, triage (status, exceptions, hits, import) and the lease,
// each refused by the real server with its privileges revoked (SQLSTATE
// 42501) and with default_transaction_read_only on (25006); each works
// again once the cause is gone. Before, each returned the driver's error
// (class "other").
func TestOtherWritesClassified(t *testing.T) {
	e := newWriterEnv(t)
	s, ctx := e.s, context.Background()
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour)
	evs := storetest.Events("o", 0, 10, t0, time.Second)
	if _, err := s.Commit(ctx, store.Batch{Events: evs, Alerts: []alert.Alert{storetest.Alert("a1", "mfa_fatigue", "high", t0, "ann@example.com", evs[0].UUID)}}); err != nil {
		t.Fatal(err)
	}
	x, err := s.AddException(ctx, alert.Exception{Detector: "mfa_fatigue", Scope: alert.ScopeActor, Value: "bob@example.com", Reason: "test account",
		CreatedBy: "ben", CreatedAt: t0, ExpiresAt: t0.Add(1000 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lead(ctx, "i1", time.Minute); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	writes := []struct {
		name string
		run  func() error
	}{
		{"prune", func() error { _, err := s.Prune(ctx, t0.Add(-24*time.Hour)); return err }},
		{"prune alerts", func() error { _, err := s.PruneAlerts(ctx, t0.Add(-time.Hour)); return err }},
		{"posture report", func() error {
			return s.SavePostureReport(ctx, store.PostureRecord{Time: at, Profile: "default", Score: 90, JSON: []byte(`{}`),
				Checks: []store.PostureCheckStatus{{ID: "mfa", Status: "pass"}}})
		}},
		{"regression", func() error {
			return s.SaveRegression(ctx, store.Regression{Time: at, CheckID: "mfa", From: "pass", To: "fail"})
		}},
		{"alert status", func() error {
			_, err := s.SetAlertStatus(ctx, store.StatusChange{AlertID: "a1", To: alert.StatusAcknowledged, User: "ann", Time: at})
			return err
		}},
		{"add exception", func() error {
			_, err := s.AddException(ctx, alert.Exception{Detector: "mfa_fatigue", Scope: alert.ScopeActor, Value: "eve@example.com",
				Reason: "r", CreatedBy: "ben", CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
			return err
		}},
		{"import triage", func() error { _, err := s.ImportTriage(ctx, store.TriageDump{}); return err }},
		{"lead", func() error { _, err := s.Lead(ctx, "i1", time.Minute); return err }},
		{"resign", func() error { return s.Resign(ctx, "i1") }},
		{"remove exception", func() error { _, err := s.RemoveException(ctx, x.ID, "ben", at); return err }},
	}
	e.exec(t, "REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+e.schema+" FROM "+e.role)
	for _, w := range writes {
		wantClass(t, w.name+", privileges revoked", w.run(), "permission",
			"permission denied: the store's user may no longer write", "SQLSTATE 42501", "GRANT", "nothing of it was written")
	}
	e.exec(t, "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+e.schema+" TO "+e.role)
	e.exec(t, "ALTER ROLE "+e.role+" SET default_transaction_read_only = on")
	postgres.ResetPool(s)
	for _, w := range writes {
		wantClass(t, w.name+", read-only", w.run(), "read_only", "read-only server: default_transaction_read_only is on", "SQLSTATE 25006")
	}
	e.exec(t, "ALTER ROLE "+e.role+" RESET default_transaction_read_only")
	postgres.ResetPool(s)
	for _, w := range writes {
		if err := w.run(); err != nil {
			t.Fatalf("%s, once the cause is gone: %v", w.name, err)
		}
	}
}
