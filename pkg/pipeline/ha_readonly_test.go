package pipeline

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// An instance whose PostgreSQL user may only read (USAGE on the schema,
// SELECT on its tables: docs/operations.md's query-only replica) opens
// the org another instance leads and follows it: its status (the
// plugin's health) names it a follower of the leader, read-only, with no
// lease error. Before, it could not open the store (the open registered
// the org and sealed user buckets: writes).
func TestReadOnlyInstanceFollows(t *testing.T) {
	admin := pgtest.Schema(t)
	_, url := startSim(t, oktasim.Options{})
	ctx := context.Background()
	owner, err := postgres.Open(ctx, postgres.Config{DSN: admin, Org: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if l, err := owner.Lead(ctx, "owner", time.Hour); err != nil || !l.Leader {
		t.Fatalf("owner's lead: %+v %v", l, err)
	}
	dsn, _ := pgtest.Reader(t, admin)
	st, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Password: pgtest.ReaderPassword, Org: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := New(testSettings(t, url, t.TempDir()), Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OktaOptions: fastOkta(), InstanceID: "reader", LeaseRetry: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	// the role is set by the first lease attempt that does not fail
	testwait.Until(t, 30*time.Second, "a role", func() bool { return p.Status().Role != "" || p.Status().LastError != "" })
	if s := p.Status(); s.Role != RoleFollower || s.Leader != "owner" || !s.ReadOnly || s.LastError != "" {
		t.Fatalf("status: role %q, leader %q, read-only %v, last error %q; want a read-only follower of owner", s.Role, s.Leader, s.ReadOnly, s.LastError)
	}
}
