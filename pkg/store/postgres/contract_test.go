package postgres_test

import (
	"context"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// pgDB: one schema per test; every org's handles share it.
func pgDB(t *testing.T) func(org string) store.Backend {
	dsn := pgtest.Schema(t)
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
