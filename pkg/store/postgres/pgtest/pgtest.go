// Package pgtest gives tests a throwaway schema on the PostgreSQL server
// named by OKTAGUARD_TEST_PG_DSN (.ci/test starts one). Without it a test
// skips with a message, except in CI (CI=true), where PostgreSQL is
// expected and its absence fails the test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable with the test server's DSN.
const EnvDSN = "OKTAGUARD_TEST_PG_DSN"

// DSN is the test server's DSN; it skips the test (fails it in CI) when
// none is configured.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: the PostgreSQL tests must run in CI (.ci/test starts a throwaway cluster)", EnvDSN)
		}
		t.Skipf("%s is not set: no PostgreSQL server to test against (see docs/performance.md, 'PostgreSQL tests')", EnvDSN)
	}
	return dsn
}

// Schema creates a fresh schema on the test server, dropped at cleanup,
// and returns a DSN whose search_path puts it first (then public, where
// pg_trgm lives).
func Schema(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL (%s): %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"); err != nil {
		t.Fatalf("pg_trgm: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE") //nolint:errcheck // best effort
	})
	return WithParam(base, "search_path", name+",public")
}

// WithParam adds a run-time parameter to a URL or key=value DSN.
func WithParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + key + "='" + value + "'"
}

// WriterPassword is the password of the role Writer creates.
const WriterPassword = "s3cret-writer-password"

// Writer creates a fresh schema (Schema) and a login role of its own with
// WriterPassword, not a superuser (so privileges apply), allowed to use
// and create in the schema; both are dropped at cleanup. It returns the
// superuser's DSN (admin), the role's DSN without its password, the
// schema and the role.
func Writer(t testing.TB) (admin, dsn, schema, role string) {
	t.Helper()
	admin = Schema(t)
	schema = schemaOf(t, admin)
	dsn, role = loginRole(t, admin, "og_writer_", WriterPassword, []string{"GRANT USAGE, CREATE ON SCHEMA " + schema + " TO %s"},
		"DROP SCHEMA "+schema+" CASCADE") // the role owns what it created there
	return admin, dsn, schema, role
}

// ReaderPassword is the password of the role Reader creates.
const ReaderPassword = "s3cret-reader-password"

// Reader creates a login role with ReaderPassword that may only read the
// schema of admin (a Schema DSN) — USAGE on it, SELECT on its tables and,
// by default privileges, on the tables admin creates there later
// (migrations) — what docs/operations.md grants a query-only replica; it
// is dropped at cleanup. It returns the role's DSN without its password
// and the role.
func Reader(t testing.TB, admin string) (dsn, role string) {
	t.Helper()
	schema := schemaOf(t, admin)
	return loginRole(t, admin, "og_reader_", ReaderPassword, []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO %s",
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO %s",
		"ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " GRANT SELECT ON TABLES TO %s",
	})
}

// schemaOf is the first schema of dsn's search path.
func schemaOf(t testing.TB, dsn string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var schema string
	if err := c.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

// loginRole creates a login role (prefix and a random suffix) with
// password and grants (each with %s for the role), dropped at cleanup
// after its sessions and the drops first. It returns the role's DSN
// (admin's with the role as user, no password) and the role.
func loginRole(t testing.TB, admin, prefix, password string, grants []string, first ...string) (dsn, role string) {
	t.Helper()
	ctx := context.Background()
	su, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	b := make([]byte, 5)
	rand.Read(b)
	role = prefix + hex.EncodeToString(b)
	qs := []string{"CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'"}
	for _, g := range grants {
		qs = append(qs, fmt.Sprintf(g, role))
	}
	for _, q := range qs {
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
		for _, q := range append(first, "DROP OWNED BY "+role, "DROP ROLE "+role) {
			c.Exec(context.Background(), q) //nolint:errcheck // best effort
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("the test DSN must be a URL: %v", err)
	}
	u.User = url.User(role)
	return u.String(), role
}

// CPUBetween is the CPU the backends of after (BackendsCPUByPID) spent
// since before: all of it for one that started in between; one that
// ended in between is not counted (its last interval is lost: a backend
// leaving never makes the difference negative, as two sums can).
func CPUBetween(before, after map[int32]time.Duration) time.Duration {
	var d time.Duration
	for pid, a := range after {
		d += a - before[pid]
	}
	return d
}
