package postgres

import (
	"context"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// Every connection of the store plans statements with their values (a
// cached generic plan once made the failures panel 10x slower, see
// docs/performance.md); a DSN that sets plan_cache_mode wins.
func TestConnectionsPlanWithValues(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	for _, c := range []struct{ dsn, want string }{
		{dsn, "force_custom_plan"},
		{pgtest.WithParam(dsn, "plan_cache_mode", "auto"), "auto"},
	} {
		s, err := Open(ctx, Config{DSN: c.dsn, Org: "https://plan.okta.example", MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		// two connections at once: both are configured, not only the first
		c1, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m1, m2 string
		if err := c1.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&m1); err != nil {
			t.Fatal(err)
		}
		if err := c2.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&m2); err != nil {
			t.Fatal(err)
		}
		c1.Release()
		c2.Release()
		s.Close()
		if m1 != c.want || m2 != c.want {
			t.Fatalf("plan_cache_mode %q and %q, want %q", m1, m2, c.want)
		}
	}
}
