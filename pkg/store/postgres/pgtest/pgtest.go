// Package pgtest gives tests a throwaway schema on the PostgreSQL server
// named by OKTAGUARD_TEST_PG_DSN (.ci/test starts one). Without it a test
// skips with a message, except in CI (CI=true), where PostgreSQL is
// expected and its absence fails the test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

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
	ctx := context.Background()
	su, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	if err := su.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	rand.Read(b)
	role = "og_writer_" + hex.EncodeToString(b)
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD '" + WriterPassword + "'",
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
	return admin, u.String(), schema, role
}
