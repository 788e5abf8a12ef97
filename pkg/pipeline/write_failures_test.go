package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// A prune the real PostgreSQL server refuses (the store's role lost its
// privileges) is counted in oktaguard_store_write_failures_total under
// its class, as a refused page commit is, and its error names the cause
// without the password. Before, only page commits were counted, and the
// prune's error was the driver's (class "other").
func TestPruneFailureCounted(t *testing.T) {
	admin, dsn, schema, role := pgtest.Writer(t)
	_, url := startSim(t, oktasim.Options{})
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Password: pgtest.WriterPassword, Org: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg, m := newTestMetrics(t)
	s := testSettings(t, url, t.TempDir())
	s.Storage.Retention = 24 * time.Hour
	p, err := New(s, Options{Store: st, Metrics: m, OktaOptions: fastOkta()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.PruneNow(ctx); err != nil {
		t.Fatal(err)
	}
	su, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	if _, err := su.Exec(ctx, "REVOKE UPDATE ON ALL TABLES IN SCHEMA "+schema+" FROM "+role); err != nil {
		t.Fatal(err)
	}
	_, err = p.PruneNow(ctx)
	if err == nil || !strings.Contains(err.Error(), "permission denied: the store's user may no longer write") || strings.Contains(err.Error(), pgtest.WriterPassword) {
		t.Fatalf("prune with UPDATE revoked: %v", err)
	}
	for _, c := range metrics.StoreWriteFailureClasses {
		want := map[string]float64{"permission": 1}[c]
		if v := counterValue(t, reg, "oktaguard_store_write_failures_total", "class", c); v != want {
			t.Fatalf("class %s: %v, want %v", c, v, want)
		}
	}
}
