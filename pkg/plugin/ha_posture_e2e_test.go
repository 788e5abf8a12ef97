package plugin_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// TestFollowerPostureRefreshConflictOverGRPC: two plugin processes (two
// Grafana replicas) with the same data source on one PostgreSQL store.
// The one that follows answers POST posture/refresh with 409 naming the
// leader; the leader's refresh succeeds (pipeline's
// TestFollowerRefusesPostureRefresh shows the follower calls nothing).
func TestFollowerPostureRefreshConflictOverGRPC(t *testing.T) {
	dsn := pgtest.Schema(t)
	e := newEnv(t, "ha-posture", 40, 24*time.Hour)
	e.ds.JSONData["storageDriver"] = "postgres"
	e.ds.JSONData["storageDsn"] = dsn
	bin, err := plugintest.Build()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := plugintest.Start(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p2.Kill)
	replicas := []*plugintest.Plugin{e.p, p2}
	// the first replica's instance starts (and leads) before the second's
	role := func(p *plugintest.Plugin, want string) health {
		t.Helper()
		deadline := time.NewTimer(60 * time.Second)
		defer deadline.Stop()
		poll := time.NewTicker(100 * time.Millisecond)
		defer poll.Stop()
		e2 := *e
		e2.p = p
		for {
			h := e2.health(t, e.ds)
			if h.Details["role"] == want {
				return h
			}
			select {
			case <-deadline.C:
				t.Fatalf("no %s within 60 s: %s %v", want, h.Message, h.Details)
			case <-poll.C:
			}
		}
	}
	lh := role(replicas[0], "leader")
	fh := role(replicas[1], "follower")
	if fh.Details["leader"] != lh.Details["instance"] || fh.Details["instance"] == lh.Details["instance"] {
		t.Fatalf("follower names leader %v, the leader is %v (follower %v)", fh.Details["leader"], lh.Details["instance"], fh.Details["instance"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	editor := e.ds.As("ed", "Editor")
	status, body, err := p2.CallResource(ctx, editor, "POST", "posture/refresh", nil)
	if err != nil || status != 409 || !bytes.Contains(body, []byte("follows")) || !bytes.Contains(body, []byte(lh.Details["instance"].(string))) {
		t.Fatalf("follower's posture/refresh: %d %s (%v), want 409 naming leader %v", status, body, err, lh.Details["instance"])
	}
	status, body, err = e.p.CallResource(ctx, editor, "POST", "posture/refresh", nil)
	if err != nil || status != 200 || !bytes.Contains(body, []byte("score")) {
		t.Fatalf("leader's posture/refresh: %d %s (%v)", status, body, err)
	}
}
