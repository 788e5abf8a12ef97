//go:build linux

package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// TestServeStoreFillsDuringIngestion: the real `oktaguard serve` binary
// finishes its backfill; then its store can no longer grow (a file size
// limit put on the running process with prlimit, so every write past 64
// KiB fails with EFBIG, as on a full volume) while new events arrive. The
// commit fails with the cause in the log, polls stop counting as
// successful (so /readyz and the stalled-ingestion alert see it), nothing
// of the new events is stored; once the limit is lifted the same pages
// are fetched again and every event is stored exactly once.
func TestServeStoreFillsDuringIngestion(t *testing.T) {
	dir := t.TempDir()
	bin := buildOktaguard(t, dir)
	const token = "00e2e-diskfull-token-7a6b5c4d3e"
	org, err := demo.Start(demo.Options{Users: 40, History: 24 * time.Hour, Token: token, NoLive: true,
		RateLimitPerMinute: 100000, MgmtRateLimit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	defer org.Close()
	listen := freePort(t)
	cfg := filepath.Join(dir, "oktaguard.yaml")
	body := fmt.Sprintf("okta:\n  orgUrl: %s\n  apiToken: ${OKTAGUARD_E2E_TOKEN}\n  pollInterval: 200ms\n  backfill: 48h\n"+
		"storage:\n  path: og.db\nlisten: %s\n", org.URL, listen)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	proc := startServe(t, bin, token, "--config", cfg)
	stderr := proc.cmd.Stderr.(*syncWriter).text // read while serve writes
	ingested := func() float64 {
		res, _, err := scrape(client, "http://"+listen+"/metrics", "", "")
		if err != nil {
			return -1
		}
		v, _ := res.value("oktaguard_events_ingested_total")
		return v
	}
	waitServe := func(what string, limit time.Duration, cond func() bool) {
		t.Helper()
		exited := false
		held := testwait.For(limit, func() bool {
			exited, _ = proc.exited()
			return exited || cond()
		})
		if exited {
			_, err := proc.exited()
			t.Fatalf("serve exited while waiting for %s: %v\nstderr:\n%s", what, err, stderr())
		}
		if !held {
			t.Fatalf("after %s: no %s\nstderr:\n%s", limit, what, stderr())
		}
	}
	history := org.Sim.EventCount()
	waitServe("backfill", 3*time.Minute, func() bool { return int(ingested()) == history })

	// The store can no longer grow.
	pid := proc.cmd.Process.Pid
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, nil, &old); err != nil {
		t.Fatal(err)
	}
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 64 << 10, Max: old.Max}, nil); err != nil {
		t.Fatal(err)
	}
	const newEvents = 600
	fresh := freshCopies(t, org, newEvents)
	if err := org.Sim.Add(fresh...); err != nil {
		t.Fatal(err)
	}
	wantLog := "commit failed, the pages held since the last commit will be fetched again"
	wantCause := "disk full: this process may not write files beyond 65536 bytes (ulimit -f / RLIMIT_FSIZE): raise the limit; the transaction was rolled back: nothing of it was written, and everything committed before is intact"
	waitServe("failed commit naming its cause", 2*time.Minute, func() bool {
		for _, line := range strings.Split(stderr(), "\n") {
			if strings.Contains(line, wantLog) && strings.Contains(line, wantCause) {
				return true
			}
		}
		return false
	})
	// While the limit holds, polls go on (the pages are fetched again)
	// but none is stored: the success gauge stands still and nothing new
	// is counted.
	res, _, err := scrape(client, "http://"+listen+"/metrics", "", "")
	if err != nil {
		t.Fatal(err)
	}
	stalled, _ := res.value("oktaguard_last_poll_success_timestamp_seconds")
	polled := org.Sim.Stats().ByEndpoint["/api/v1/logs"]
	waitServe("three more polls", time.Minute, func() bool { return org.Sim.Stats().ByEndpoint["/api/v1/logs"] >= polled+3 })
	res, _, err = scrape(client, "http://"+listen+"/metrics", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res.value("oktaguard_last_poll_success_timestamp_seconds"); v != stalled {
		t.Errorf("oktaguard_last_poll_success_timestamp_seconds moved from %v to %v while no page could be stored", stalled, v)
	}
	if v, _ := res.value("oktaguard_events_ingested_total"); int(v) != history {
		t.Errorf("%v events counted while the store could not grow, want the %d of the backfill", v, history)
	}

	// Space is back: the same pages are fetched again and stored once.
	if err := unix.Prlimit(pid, unix.RLIMIT_FSIZE, &old, nil); err != nil {
		t.Fatal(err)
	}
	waitServe("the new events stored", 2*time.Minute, func() bool { return int(ingested()) == history+newEvents })
	proc.terminate(t)
	if strings.Contains(stderr(), token) {
		t.Fatal("the API token leaked into the logs")
	}
	events, ids, _ := storeCounts(t, filepath.Join(dir, "og.db"))
	if int(events) != org.Sim.EventCount() {
		t.Fatalf("store holds %d events, simulator %d", events, org.Sim.EventCount())
	}
	sameUUIDs(t, ids, org.Sim.UUIDs())
}
