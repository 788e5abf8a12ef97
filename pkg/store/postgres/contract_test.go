package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// pgDB: one schema per test; every org's handles share it.
func pgDB(t *testing.T) func(org string) store.Backend { return opener(t, pgtest.Schema(t)) }

// opener opens the org's handles on dsn, closed at the test's end.
func opener(t *testing.T, dsn string) func(org string) store.Backend {
	return func(org string) store.Backend {
		s, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Org: org, MaxConns: 4})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestContractPostgres(t *testing.T) { storetest.Run(t, pgDB) }

// The contract through PgBouncer in transaction pooling mode: each case on
// a fresh database behind the bouncer, with the DSN option
// docs/operations.md gives for it. Without the option the open fails
// with a message that names it.
func TestContractPostgresThroughPgBouncer(t *testing.T) {
	b := pgtest.StartBouncer(t)
	plain := strings.Replace(b.Database(t), "&default_query_exec_mode=simple_protocol", "", 1)
	if s, err := postgres.Open(context.Background(), postgres.Config{DSN: plain, Org: storetest.OrgA}); err == nil {
		s.Close()
		t.Fatal("opened through PgBouncer in transaction pooling without default_query_exec_mode")
	} else if !strings.Contains(err.Error(), "connection pooler refused") || !strings.Contains(err.Error(), "default_query_exec_mode=simple_protocol") {
		t.Fatalf("open through PgBouncer without the option: %v", err)
	}
	storetest.Run(t, func(t *testing.T) func(org string) store.Backend { return opener(t, b.Database(t)) })
}
