package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

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
	admin := pgtest.Schema(t)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	var schema string
	if err := su.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// the store runs as its own role (not a superuser: privileges apply)
	b := make([]byte, 5)
	rand.Read(b)
	role := "og_writer_" + hex.EncodeToString(b)
	const password = "s3cret-writer-password"
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'",
		"GRANT USAGE, CREATE ON SCHEMA " + schema + " TO " + role,
	} {
		if _, err := su.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role) //nolint:errcheck // best effort
		c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")                                                  //nolint:errcheck // best effort
		c.Exec(context.Background(), "DROP OWNED BY "+role)                                                             //nolint:errcheck // best effort
		c.Exec(context.Background(), "DROP ROLE "+role)                                                                 //nolint:errcheck // best effort
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("the test DSN must be a URL: %v", err)
	}
	u.User = url.User(role)
	s, err := postgres.Open(ctx, postgres.Config{DSN: u.String(), Password: password, Org: storetest.OrgA, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	t0 := time.Now().UTC().Truncate(time.Hour)
	page := 0
	commit := func() error {
		page++
		_, err := s.Commit(ctx, store.Batch{Events: storetest.Events("w", page*10, 10, t0, time.Second)})
		return err
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := su.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	failsAs := func(name string, err error, class string, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: the commit succeeded", name)
		}
		if got := store.WriteFailureClass(err); got != class {
			t.Fatalf("%s: class %q, want %q: %v", name, got, class, err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s: %q\nlacks %q", name, err, w)
			}
		}
		if strings.Contains(err.Error(), password) {
			t.Fatalf("%s: the error leaks the password: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
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
