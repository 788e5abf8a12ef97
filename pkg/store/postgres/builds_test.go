package postgres

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// buildLog keeps every state a build reported.
type buildLog struct {
	mu  sync.Mutex
	all []store.Build
}

func (l *buildLog) add(b store.Build) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, b)
}

func (l *buildLog) states() []store.Build {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]store.Build(nil), l.all...)
}

// migratedGeoStore builds a store at schema 7 with events over days (the
// sets are left to build by the next open's migration) with cfg.
func migratedGeoStore(t *testing.T, cfg Config, days int) Config {
	t.Helper()
	ctx := context.Background()
	old, err := openAt(ctx, cfg, geoSetsVersion-1)
	if err != nil {
		t.Fatal(err)
	}
	commitInOrder(ctx, t, old, geoSetEvents(mrand.New(mrand.NewPCG(31, 32)), "b", 2000, days))
	old.Close()
	return cfg
}

// The sets of a migrated store are built by the org's leader only; a
// failed step (an injected error carrying the password, then a revoked
// permission) is reported without the password and retried, the build
// resumes once the permission is back, stops when the leader resigns, and
// the follower that takes over finishes it.
func TestGeoBuildLeaderOnlyRetriesAndReports(t *testing.T) {
	ctx := context.Background()
	const days = 4
	adminDSN, roleDSN, schema, role := pgtest.Writer(t)
	const secret = pgtest.WriterPassword
	cfg := migratedGeoStore(t, Config{DSN: roleDSN, Password: secret, Org: "https://geob.okta.example", MaxConns: 2}, days)
	var injected, granted atomic.Bool
	var afterGrant atomic.Int32
	lcfg := cfg // the leader: the store's role, whose password the pool holds
	lcfg.buildRetryMin, lcfg.buildRetryMax = 5*time.Millisecond, 40*time.Millisecond
	lcfg.buildHook = func(ctx context.Context) error {
		if injected.CompareAndSwap(false, true) {
			return fmt.Errorf("dial: server refused user with password %s", secret)
		}
		if granted.Load() && afterGrant.Add(1) > 1 { // one step after the grant, then held until stopped
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	l, err := Open(ctx, lcfg) // migrates
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := Open(ctx, Config{DSN: adminDSN, Org: cfg.Org, MaxConns: 2}) // the follower
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var llog, flog buildLog
	l.OnBuild(llog.add)
	f.OnBuild(flog.add)
	for _, s := range []*Store{l, f} {
		if b := s.Builds(); len(b) != 1 || b[0].State != store.BuildWaiting || b[0].Remaining != days*24 || b[0].Unit != "hours" {
			t.Fatalf("before leading: %+v, want geo_sets waiting with %d hours", b, days*24)
		}
	}
	if _, err := admin.Exec(ctx, "REVOKE UPDATE ON "+schema+".geo_hours FROM "+role); err != nil {
		t.Fatal(err)
	}

	if ls, err := l.Lead(ctx, "l", time.Minute); err != nil || !ls.Leader {
		t.Fatalf("lead: %+v, %v", ls, err)
	}
	testwait.Until(t, time.Minute, "the leader's build reports the revoked permission", func() bool {
		b := l.Builds()[0]
		return b.State == store.BuildRetrying && strings.Contains(b.LastError, "permission denied") && b.Failures >= 2
	})
	if fs, err := f.Lead(ctx, "f", time.Minute); err != nil || fs.Leader || fs.Holder != "l" {
		t.Fatalf("the second instance leads: %+v, %v", fs, err)
	}
	if b := f.Builds()[0]; b.State != store.BuildWaiting || f.geoBuild.running {
		t.Fatalf("the follower's build: %+v (running %v), want waiting", b, f.geoBuild.running)
	}
	first := llog.states()[1] // [0] is the start
	if first.State != store.BuildRetrying || !strings.Contains(first.LastError, "*****") || !strings.Contains(first.LastError, "server refused user") {
		t.Fatalf("the injected failure reported as %+v", first)
	}

	// the permission back: the build resumes
	if _, err := admin.Exec(ctx, "GRANT UPDATE ON "+schema+".geo_hours TO "+role); err != nil {
		t.Fatal(err)
	}
	granted.Store(true)
	// resumed: steps done and none failing, then held by the hook. How many
	// steps is not fixed: those that start between the GRANT and
	// granted.Store run uncounted by the hook (a CI run under load waited
	// out its minute for exactly one step).
	testwait.Until(t, time.Minute, "the leader's build resumes after the grant", func() bool {
		b := l.Builds()[0]
		return afterGrant.Load() > 1 && b.State == store.BuildRunning && b.Failures == 0 &&
			b.Remaining < days*24 && b.Remaining%geoBuildHours == 0
	})
	if b := l.Builds()[0]; !strings.Contains(b.LastError, "permission denied") || b.LastErrorAt.IsZero() {
		t.Fatalf("the last error is not kept after the recovery: %+v", b)
	}

	// the leader resigns: its build stops; the other instance takes over and finishes it
	if err := l.Resign(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if b := l.Builds()[0]; b.State != store.BuildWaiting {
		t.Fatalf("after resigning: %+v, want waiting", b)
	}
	for _, b := range flog.states() {
		if b.State != store.BuildWaiting {
			t.Fatalf("the follower's build changed to %+v while following", b)
		}
	}
	if fs, err := f.Lead(ctx, "f", time.Minute); err != nil || !fs.Leader {
		t.Fatalf("take over: %+v, %v", fs, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := f.geoBuild.wait(wctx, true); err != nil {
		t.Fatal(err)
	}
	if b := f.Builds()[0]; b.State != store.BuildDone || b.Remaining != 0 || b.LastError != "" {
		t.Fatalf("after the new leader's build: %+v", b)
	}
	var lo, hi int64
	if err := f.pool.QueryRow(ctx, "SELECT geo_unbuilt_lo, geo_unbuilt_hi FROM orgs WHERE id = $1", f.org).Scan(&lo, &hi); err != nil || lo < hi {
		t.Fatalf("after the build: [%d, %d) left, %v", lo, hi, err)
	}
	checkSetsEqualRaw(ctx, t, f)
	for _, b := range llog.states() {
		if strings.Contains(b.LastError, secret) {
			t.Fatalf("a reported error holds the password: %q", b.LastError)
		}
	}
}

// Close stops a build waiting out its retry backoff at once.
func TestGeoBuildCloseStopsBackoff(t *testing.T) {
	ctx := context.Background()
	cfg := migratedGeoStore(t, Config{DSN: pgtest.Schema(t), Org: "https://geoc.okta.example", MaxConns: 2}, 1)
	cfg.buildRetryMin = time.Hour
	cfg.buildHook = func(context.Context) error { return errors.New("lock timeout") }
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lead(ctx, "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, time.Minute, "the failed step reported", func() bool {
		b := s.Builds()[0]
		return b.State == store.BuildRetrying && strings.Contains(b.LastError, "lock timeout") && b.Failures == 1
	})
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	if !testwait.For(10*time.Second, func() bool {
		select {
		case <-closed:
			return true
		default:
			return false
		}
	}) {
		t.Fatal("Close waited for the build's hour-long backoff")
	}
}
