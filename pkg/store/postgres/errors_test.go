package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

const secret = "pw-S3cret-9f81"

// Every open failure names its cause and never the password.
func TestOpenErrorsArePreciseAndSecretFree(t *testing.T) {
	base := pgtest.DSN(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	withDB := func(db string) string { c := *u; c.Path = "/" + db; return c.String() }
	withPW := func(dsn string) string {
		c, _ := url.Parse(dsn)
		c.User = url.UserPassword(c.User.Username(), secret)
		return c.String()
	}

	// a role without CREATE on a fresh schema
	schemaDSN := pgtest.Schema(t)
	conn, err := pgx.Connect(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	conn.Exec(context.Background(), "DROP ROLE IF EXISTS og_noperm")
	if _, err := conn.Exec(context.Background(), "CREATE ROLE og_noperm LOGIN PASSWORD '"+secret+"'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP ROLE IF EXISTS og_noperm") })
	np, _ := url.Parse(schemaDSN)
	np.User = url.User("og_noperm")

	for _, c := range []struct {
		name, dsn, password string
		want                error
		wantText            string
	}{
		{"bad DSN", "postgres://u:" + secret + "@host:notaport/db", "", postgres.ErrBadDSN, "invalid storage DSN"},
		{"bad DSN key", "host=127.0.0.1 bogus_key password=" + secret, "", postgres.ErrBadDSN, "invalid storage DSN"},
		{"refused", withPW("postgres://og@127.0.0.1:1/oktaguard?sslmode=disable"), "", postgres.ErrUnreachable, "connection refused"},
		{"missing database", withPW(withDB("oktaguard_missing_db")), "", postgres.ErrNoDatabase, `"oktaguard_missing_db" does not exist`},
		{"missing permission", np.String(), secret, postgres.ErrNoPermission, "permission denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := postgres.Open(context.Background(), postgres.Config{DSN: c.dsn, Password: c.password, Org: "https://a.okta.example"})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.wantText) {
				t.Fatalf("error %q, want %v containing %q", err, c.want, c.wantText)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %q", err)
			}
		})
	}
}
