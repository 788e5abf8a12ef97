package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func storeHasAll(p *Pipeline, sim *oktasim.Server) func(Status) bool {
	return func(st Status) bool {
		ids := sim.UUIDs()
		have, err := p.Store().HasEvents(context.Background(), ids)
		return err == nil && len(have) == len(ids) && st.BackfillDone
	}
}

func TestBackfillSevenDaysThenLive(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	now := time.Now()
	if err := sim.Add(genEvents(1, 2500, now.Add(-7*24*time.Hour+time.Hour), now.Add(-time.Minute))...); err != nil {
		t.Fatal(err)
	}
	// Older than the backfill window: must not be fetched... but the
	// simulator filters polling by persistence time, as Okta does, so
	// everything added is in scope; the backfill is 168h.
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	updates, cancelSub := p.Subscribe(1000)
	defer cancelSub()

	var progress []float64
	if err := runUntil(t, p, 60*time.Second, func(st Status) bool {
		progress = append(progress, st.BackfillProgress)
		return allStored(sim)(st)
	}); err != nil {
		t.Fatal(err)
	}
	st := p.Status()
	if st.Pages < 25 {
		t.Fatalf("backfill used %d pages, want >= 25 (2500 events / 100)", st.Pages)
	}
	if st.BackfillProgress != 1 || !st.BackfillDone || st.EventsIngested != 2500 {
		t.Fatalf("status after backfill: %+v", st)
	}
	if st.Lag <= 0 || st.Lag > time.Hour {
		t.Fatalf("lag %s", st.Lag)
	}
	sawPartial := false
	for _, r := range progress {
		if r > 0 && r < 1 {
			sawPartial = true
		}
	}
	if !sawPartial {
		t.Logf("progress samples: %v", progress)
	}
	var got int
	for len(updates) > 0 {
		u := <-updates
		got += len(u.Events)
	}
	if got != 2500 {
		t.Fatalf("subscribers saw %d events", got)
	}

	// Live: events arrive while polling, each batch after the previous one
	// is stored (so each is read by a later poll than the one before).
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for i := 0; i < 5; i++ {
		sim.Add(genEvents(uint64(100+i), 30, time.Now().Add(-time.Second), time.Now())...)
		waitStatus(t, p, fmt.Sprintf("live batch %d", i+1), storeHasAll(p, sim))
	}
	// The store holds a batch a moment before the status counts it (the
	// counter moves after the commit returns): wait for the count, then
	// require it exact (no event counted twice).
	st = waitStatus(t, p, "status counts the live batches", func(st Status) bool { return st.EventsIngested >= 2500+5*30 })
	if st.EventsIngested != 2500+5*30 {
		t.Fatalf("after the live batches: %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.Close()
	assertExactlyOnce(t, sim, s.Storage.Path)
	assertNoSecret(t, "logs", logs.String())
}

func TestExactlyOnceAfterEachFault(t *testing.T) {
	faults := []oktasim.Fault{
		{Kind: oktasim.FaultRateLimit, Count: 3, ResetAfter: time.Second},
		{Kind: oktasim.FaultRateLimitNoReset, Count: 3},
		{Kind: oktasim.FaultConcurrency, Count: 2},
		{Kind: oktasim.FaultServerError, Count: 3},
		{Kind: oktasim.FaultUnavailable, Count: 2},
		{Kind: oktasim.FaultSlow, Count: 2, Delay: 1500 * time.Millisecond},
		{Kind: oktasim.FaultTruncated, Count: 2},
		{Kind: oktasim.FaultMalformed, Count: 2},
		{Kind: oktasim.FaultEmptyPage, Count: 3},
		{Kind: oktasim.FaultCursorExpired, Count: 1},
	}
	for _, f := range faults {
		t.Run(string(f.Kind), func(t *testing.T) {
			sim, url := startSim(t, oktasim.Options{})
			now := time.Now()
			sim.Add(genEvents(2, 600, now.Add(-48*time.Hour), now.Add(-time.Hour))...)
			dir := t.TempDir()
			logs := &syncBuffer{}
			s := testSettings(t, url, dir)
			s.Okta.RequestTimeout = 500 * time.Millisecond
			p := newTestPipeline(t, s, logs)
			defer p.Close()
			// Let the first pages through, then inject mid-backfill.
			if err := runUntil(t, p, 20*time.Second, func(st Status) bool { return st.EventsIngested >= 200 }); err != nil {
				t.Fatal(err)
			}
			if err := sim.Inject(f); err != nil {
				t.Fatal(err)
			}
			// Out-of-order / late events: old published, new persistence time.
			sim.Add(genEvents(3, 50, now.Add(-30*24*time.Hour), now.Add(-29*24*time.Hour))...)
			if err := runUntil(t, p, 40*time.Second, storeHasAll(p, sim)); err != nil {
				t.Fatal(err)
			}
			stats := sim.Stats()
			if stats.Faults[f.Kind] == 0 {
				t.Fatalf("fault %s was never served (stats %+v)", f.Kind, stats.Faults)
			}
			if f.Kind == oktasim.FaultCursorExpired && p.Status().CursorRecoveries == 0 {
				t.Fatal("cursor expiry did not trigger a recovery")
			}
			p.Close()
			assertExactlyOnce(t, sim, s.Storage.Path)
			assertNoSecret(t, "logs", logs.String())
		})
	}
}

func TestUnauthorizedStopsWithClearError(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	sim.Add(genEvents(4, 10, time.Now().Add(-time.Hour), time.Now())...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	s.Okta.APIToken = "00WRONG-token-value-abcdefghij"
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	err := runUntil(t, p, 10*time.Second, func(Status) bool { return false })
	if !errors.Is(err, okta.ErrUnauthorized) || !strings.Contains(err.Error(), "API token invalid or revoked") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "00WRONG") || strings.Contains(logs.String(), "00WRONG") {
		t.Fatal("the wrong token leaked into an error or log")
	}
	if st := p.Status(); !strings.Contains(st.LastError, "API token invalid or revoked") {
		t.Fatalf("status LastError %q", st.LastError)
	}
}

func TestRevokedTokenMidRun(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	sim.Add(genEvents(5, 400, time.Now().Add(-time.Hour), time.Now())...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	if err := runUntil(t, p, 10*time.Second, func(st Status) bool { return st.EventsIngested >= 100 }); err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject(oktasim.Fault{Kind: oktasim.FaultTokenRevoked}); err != nil {
		t.Fatal(err)
	}
	err := runUntil(t, p, 10*time.Second, func(Status) bool { return false })
	if !errors.Is(err, okta.ErrUnauthorized) || !strings.Contains(err.Error(), "API token invalid or revoked") {
		t.Fatalf("err = %v", err)
	}
	assertNoSecret(t, "error", err.Error())
	assertNoSecret(t, "logs", logs.String())
}

// TestPacingStaysUnderShare: against the simulator's real-clock windows
// the pipeline never exceeds its share and is never rate limited. It runs
// until the simulator has answered 16 System Log requests (at least three
// full windows at the share), not for a fixed time; that the pacer does not
// fall far below its share is TestPacingKeepsShare's (pkg/okta), on a fake
// clock, because a lower bound on a wall-clock rate fails on a loaded
// machine.
func TestPacingStaysUnderShare(t *testing.T) {
	// 1-second windows: org bucket 20/window, the simulator's principal
	// ceiling (header Limit) 10; our share 0.5 allows 5 per window.
	sim, url := startSim(t, oktasim.Options{RateLimitPerMinute: 20, RateLimitWindow: time.Second})
	sim.Add(genEvents(6, 2000, time.Now().Add(-time.Hour), time.Now())...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	s.Okta.RateLimitWindow = time.Second
	s.Okta.PageLimit = 20
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	if err := runUntil(t, p, 30*time.Second, func(st Status) bool { return sim.Stats().ByEndpoint["/api/v1/logs"] >= 16 }); err != nil {
		t.Fatal(err)
	}
	stats := sim.Stats()
	if stats.MaxLogsPerWindowAny > 5 {
		t.Fatalf("simulator saw %d requests in one window; share allows 5", stats.MaxLogsPerWindowAny)
	}
	if stats.RateLimited != 0 {
		t.Fatalf("%d requests were rate limited", stats.RateLimited)
	}
	if st := p.Status(); st.RateLimitLimit != 10 || st.RateLimitBudget != 5 {
		t.Fatalf("rate limit status %+v", st)
	}
}

func TestRestartResumesFromCheckpoint(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	sim.Add(genEvents(7, 500, time.Now().Add(-24*time.Hour), time.Now())...)
	dir := t.TempDir()
	s := testSettings(t, url, dir)
	logs := &syncBuffer{}
	// batches of three pages: the first run stops mid-backfill (one batch
	// of the default bound could hold all 500 events)
	p, err := New(s, Options{OktaOptions: fastOkta(), BatchEvents: 300, BatchAge: time.Hour, BatchCommitBudget: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, p, 20*time.Second, func(st Status) bool { return st.EventsIngested >= 200 }); err != nil {
		t.Fatal(err)
	}
	first := p.Status().EventsIngested
	p.Close()
	served := sim.Stats().EventsServed
	p2 := newTestPipeline(t, s, logs)
	defer p2.Close()
	if err := runUntil(t, p2, 20*time.Second, storeHasAll(p2, sim)); err != nil {
		t.Fatal(err)
	}
	// The second run continued from the checkpoint: it fetched only what
	// the first had not committed.
	if re := sim.Stats().EventsServed - served; re > int64(500-first)+100 {
		t.Fatalf("restart re-read %d events; the first run had committed %d of 500", re, first)
	}
	p2.Close()
	assertExactlyOnce(t, sim, s.Storage.Path)
}

// TestHelperProcess is the child of TestKillBeforeCommit: it runs the
// pipeline and SIGKILLs itself just before committing page N.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("OKTAGUARD_PIPELINE_HELPER") != "1" {
		t.Skip("helper process only")
	}
	killAt, _ := strconv.Atoi(os.Getenv("OKTAGUARD_KILL_BEFORE_COMMIT"))
	batchEvents, _ := strconv.Atoi(os.Getenv("OKTAGUARD_BATCH_EVENTS"))
	logs := &syncBuffer{}
	s := testSettings(t, os.Getenv("OKTAGUARD_SIM_URL"), os.Getenv("OKTAGUARD_DIR"))
	// no age or pace bound: the commits fall where BatchEvents puts them, whatever the load
	p, err := New(s, Options{OktaOptions: fastOkta(), BatchEvents: batchEvents, BatchAge: time.Hour, BatchCommitBudget: time.Hour, BeforeCommit: func(n int) {
		if killAt > 0 && n == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never reached: kill(2) of oneself with SIGKILL does not return; never go on into the commit
		}
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	_ = logs
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p.Run(ctx)
	os.Exit(0)
}

// TestKillBeforeCommitThenRestart: the helper is killed with SIGKILL
// after fetching and processing page 4, before its commit: one page per
// commit, and with batching (pages 1-3 are one commit of 300 events, page
// 4 is held for the next). Exactly pages 1-3 are stored; a restart stores
// the rest once.
func TestKillBeforeCommitThenRestart(t *testing.T) {
	for _, batch := range []int{1, 300} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			sim, url := startSim(t, oktasim.Options{})
			sim.Add(genEvents(8, 800, time.Now().Add(-72*time.Hour), time.Now())...)
			dir := t.TempDir()
			runKilledHelper(t, url, dir, 4, batch)
			s := testSettings(t, url, dir)
			if got := len(storedUUIDs(t, s.Storage.Path)); got != 300 {
				t.Fatalf("after the kill the store holds %d events, want 300 (3 committed pages)", got)
			}
			logs := &syncBuffer{}
			p := newTestPipeline(t, s, logs)
			defer p.Close()
			if err := runUntil(t, p, 20*time.Second, storeHasAll(p, sim)); err != nil {
				t.Fatal(err)
			}
			if st := p.Status(); st.EventsIngested != 500 {
				t.Fatalf("restart ingested %d new events, want 500", st.EventsIngested)
			}
			p.Close()
			assertExactlyOnce(t, sim, s.Storage.Path)
		})
	}
}

// runKilledHelper runs TestHelperProcess on the simulator at url and the
// store in dir, committing batchEvents at a time, and checks that it died
// of SIGKILL before committing (or holding) page killAt.
func runKilledHelper(t *testing.T, url, dir string, killAt, batchEvents int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "OKTAGUARD_PIPELINE_HELPER=1", fmt.Sprintf("OKTAGUARD_KILL_BEFORE_COMMIT=%d", killAt),
		fmt.Sprintf("OKTAGUARD_BATCH_EVENTS=%d", batchEvents), "OKTAGUARD_SIM_URL="+url, "OKTAGUARD_DIR="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("helper did not die: %v\n%s", err, out)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper exit %v, want SIGKILL\n%s", err, out)
	}
}

func TestPostureRelevant(t *testing.T) {
	for _, et := range []string{"policy.lifecycle.update", "policy.rule.update", "zone.update", "user.account.privilege.grant", "system.api_token.create", "system.idp.lifecycle.update"} {
		if !PostureRelevant(et) {
			t.Errorf("%s should be posture-relevant", et)
		}
	}
	for _, et := range []string{"user.session.start", "user.authentication.sso", "system.org.rate_limit.warning", ""} {
		if PostureRelevant(et) {
			t.Errorf("%s should not be posture-relevant", et)
		}
	}
}

func TestPostureEvaluatedAndStored(t *testing.T) {
	org, err := orgsim.New("weak")
	if err != nil {
		t.Fatal(err)
	}
	sim, url := startSim(t, oktasim.Options{Mgmt: org, DefaultLimit: 100000})
	sim.Add(genEvents(9, 50, time.Now().Add(-time.Hour), time.Now())...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	s.Posture.Enabled = true
	s.Posture.Profile = "baseline"
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	// Evaluated on start.
	if err := runUntil(t, p, 30*time.Second, func(st Status) bool { return !st.PostureAt.IsZero() && st.BackfillDone }); err != nil {
		t.Fatal(err)
	}
	rep, ok := p.LatestPosture()
	if !ok || rep.Profile != "baseline" || len(rep.Checks) == 0 || rep.Score <= 0 || rep.Score >= 100 {
		t.Fatalf("report: ok=%v score=%v checks=%d", ok, rep.Score, len(rep.Checks))
	}
	rec, ok, err := p.Store().LatestPostureReport(context.Background(), "baseline")
	if err != nil || !ok || rec.Score != rep.Score || len(rec.Checks) != len(rep.Checks) {
		t.Fatalf("stored report: %v %v %+v", err, ok, rec.Score)
	}
	// A strong org scores higher on refresh.
	before := rep.Score
	org.SetPasswordMinLength(16)
	rep2, err := p.RefreshPosture(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Score < before {
		t.Fatalf("score fell from %v to %v after strengthening the password policy", before, rep2.Score)
	}
	assertNoSecret(t, "logs", logs.String())
}

func TestRetentionPrunes(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	now := time.Now()
	sim.Add(genEvents(10, 100, now.Add(-40*24*time.Hour), now.Add(-35*24*time.Hour))...)
	sim.Add(genEvents(11, 100, now.Add(-2*time.Hour), now.Add(-time.Hour))...)
	dir := t.TempDir()
	s := testSettings(t, url, dir)
	s.Storage.Retention = 30 * 24 * time.Hour
	logs := &syncBuffer{}
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	if err := runUntil(t, p, 20*time.Second, func(st Status) bool { return st.BackfillDone && st.EventsIngested == 200 }); err != nil {
		t.Fatal(err)
	}
	// The loop prunes at start, usually before anything is stored; on a
	// loaded machine its first run can come after the first commits and
	// delete some of the old events itself. Prune now: together the two
	// delete exactly the 100 events older than 30 days.
	n, err := p.PruneNow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64 // every prune that deleted something logs it, this one too
	for _, m := range regexp.MustCompile(`msg="retention pruning" deleted_events=(\d+)`).FindAllStringSubmatch(logs.String(), -1) {
		k, _ := strconv.ParseInt(m[1], 10, 64)
		total += k
	}
	if total != 100 {
		t.Fatalf("pruned %d now, %d in all; want the 100 events older than 30 days", n, total)
	}
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 100 {
		t.Fatalf("%d events left", got)
	}
}

func TestBadEventsCountedLoggedOnceAndSkipped(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	good := genEvents(13, 150, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
	ts := time.Now().Add(-30 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	bad := []json.RawMessage{
		json.RawMessage(`{"uuid":"bad-no-type-0001","published":"` + ts + `","actor":{"id":"x"}}`),
		json.RawMessage(`{"uuid":"bad-actor-type-0002","published":"` + ts + `","eventType":"user.session.start","actor":"not an object"}`),
	}
	sim.Add(good[:70]...)
	sim.Add(bad...)
	sim.Add(good[70:]...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	// The event whose actor is a string is kept (actor treated as absent,
	// counted as degraded); only the one without an eventType is rejected.
	if err := runUntil(t, p, 20*time.Second, func(st Status) bool { return st.BackfillDone && st.EventsIngested == 151 }); err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.Rejected != 1 || st.Degraded != 1 {
		t.Fatalf("rejected %d, degraded %d; want 1 and 1", st.Rejected, st.Degraded)
	}
	// Polling the same pages again (lost cursor) must not log them twice.
	if err := sim.Inject(oktasim.Fault{Kind: oktasim.FaultCursorExpired}); err != nil {
		t.Fatal(err)
	}
	if err := runUntil(t, p, 20*time.Second, func(st Status) bool { return st.CursorRecoveries == 1 && st.Rejected == 2 }); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 151 {
		t.Fatalf("stored %d, want the 150 good events and the degraded one", got)
	}
	for _, u := range []string{"bad-no-type-0001"} {
		if n := strings.Count(logs.String(), "uuid="+u+" "); n != 1 {
			t.Fatalf("rejected event %s logged %d times, want once:\n%s", u, n, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "reason=missing_field") {
		t.Fatalf("rejection reason not logged:\n%s", logs.String())
	}
}

// TestShutdownFinishesPageInFlight: the pipeline is stopped while a slow
// System Log request is in flight and the page before it is held for a
// batch (backfill: full pages); the request finishes within the grace and
// both pages are committed.
func TestShutdownFinishesPageInFlight(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	sim.Add(genEvents(14, 300, time.Now().Add(-time.Hour), time.Now())...)
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	// after page 1 is held, the request for page 2 is slow
	p, err := New(s, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), OktaOptions: fastOkta(), BatchAge: time.Hour,
		BeforeCommit: func(n int) {
			if n == 1 {
				if err := sim.Inject(oktasim.Fault{Kind: oktasim.FaultSlow, Delay: time.Second}); err != nil {
					t.Error(err)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// The slow request is in flight once the simulator has taken its fault.
	if !testwait.For(20*time.Second, func() bool { return sim.Stats().Faults[oktasim.FaultSlow] > 0 }) {
		t.Fatal("the slow request never reached the simulator")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := p.Status(); st.EventsIngested != 200 || st.Pages != 2 {
		t.Fatalf("after the shutdown: ingested %d, pages %d; want the held page and the one in flight (200, 2)", st.EventsIngested, st.Pages)
	}
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 200 {
		t.Fatalf("store holds %d events, want 200", got)
	}
}

// postureRun is a pipeline running over a simulated org with posture
// enabled (hourly, 100 ms debounce), after its start evaluation; the
// test's cleanup stops it and checks that Run ended cleanly.
type postureRun struct {
	org   *orgsim.Org
	sim   *oktasim.Server
	p     *Pipeline
	ctx   context.Context
	first Status
}

func startPostureRun(t *testing.T, profile string, seed uint64) *postureRun {
	t.Helper()
	org, err := orgsim.New(profile)
	if err != nil {
		t.Fatal(err)
	}
	sim, url := startSim(t, oktasim.Options{Mgmt: org, DefaultLimit: 100000})
	sim.Add(genEvents(seed, 20, time.Now().Add(-time.Hour), time.Now())...)
	s := testSettings(t, url, t.TempDir())
	s.Posture.Enabled = true
	s.Posture.Interval = time.Hour
	p, err := New(s, Options{OktaOptions: fastOkta(), PostureDebounce: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		p.Close()
	})
	first := waitStatus(t, p, "the start evaluation", func(st Status) bool { return !st.PostureAt.IsZero() && st.BackfillDone })
	return &postureRun{org: org, sim: sim, p: p, ctx: ctx, first: first}
}

func TestPostureReevaluatedAfterRelevantEvent(t *testing.T) {
	r := startPostureRun(t, "mixed", 15)
	p, first := r.p, r.first
	waitFor := func(what string, cond func(Status) bool) Status { return waitStatus(t, p, what, cond) }
	// A routine sign-in does not trigger an evaluation...
	r.sim.Add(genEvents(16, 5, time.Now(), time.Now())...)
	ingested := waitFor("the sign-ins", func(st Status) bool { return st.EventsIngested == 25 })
	// one more page: the sign-ins' page has finished its commit, notice included
	waitFor("the next page", func(st Status) bool { return st.Pages > ingested.Pages })
	if n := p.posture.requested.Load(); n != 0 {
		t.Fatalf("%d early evaluations requested by unrelated events", n)
	}
	if st := p.Status(); !st.PostureAt.Equal(first.PostureAt) {
		t.Fatal("posture re-evaluated after unrelated events")
	}
	// ...a policy change does.
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	r.sim.Add(json.RawMessage(`{"uuid":"policy-change-1","published":"` + ts + `","eventType":"policy.lifecycle.update","actor":{"id":"00uadmin","type":"User","alternateId":"admin@example.com"},"outcome":{"result":"SUCCESS"}}`))
	waitFor("the re-evaluation", func(st Status) bool { return st.PostureAt.After(first.PostureAt) })
	if n := p.posture.requested.Load(); n != 1 {
		t.Fatalf("%d early evaluations requested, want 1 (the policy change)", n)
	}
}

// TestPostureRegressionLinkedToCause: weakening the password policy after
// the first evaluation records a regression of okta.password.min_length,
// linked to the policy-change event and its actor.
func TestPostureRegressionLinkedToCause(t *testing.T) {
	r := startPostureRun(t, "strong", 17)
	p, ctx := r.p, r.ctx
	if regs, _ := p.Store().Regressions(ctx, time.Time{}, time.Now().Add(time.Hour)); len(regs) != 0 {
		t.Fatalf("regressions before any change: %+v", regs)
	}
	r.org.SetPasswordMinLength(6)
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	r.sim.Add(json.RawMessage(`{"uuid":"pw-policy-weakened","published":"` + ts + `","eventType":"policy.lifecycle.update",` +
		`"displayMessage":"Update policy","actor":{"id":"00uevil","type":"User","alternateId":"mallory@example.com"},` +
		`"target":[{"id":"00pdefault","type":"PolicyEntity","alternateId":"unknown","displayName":"Default Policy"}],"outcome":{"result":"SUCCESS"}}`))
	waitStatus(t, p, "the re-evaluation", func(st Status) bool { return st.PostureAt.After(r.first.PostureAt) })
	regs, err := p.Store().Regressions(ctx, time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// One check-level regression (no resource) and one per weakened policy.
	var check, resources int
	for _, r := range regs {
		if r.CheckID != "okta.password.min_length" {
			continue
		}
		if r.From != "pass" || r.To != "fail" || r.EventID != "pw-policy-weakened" || r.Actor != "mallory@example.com" {
			t.Fatalf("regression not linked to its cause: %+v", r)
		}
		if r.Resource == "" {
			check++
		} else {
			resources++
		}
	}
	if check != 1 || resources == 0 {
		t.Fatalf("okta.password.min_length: %d check-level and %d resource regressions: %+v", check, resources, regs)
	}
}

func TestResourceName(t *testing.T) {
	for in, want := range map[string]string{
		`policy "Contractors" (00p1)`: "contractors",
		"app: Salesforce":             "salesforce",
		"":                            "",
	} {
		if got := resourceName(in); got != want {
			t.Errorf("resourceName(%q) = %q, want %q", in, got, want)
		}
	}
}

// waitStatus waits until the pipeline's status meets cond (20 s at most).
func waitStatus(t *testing.T, p *Pipeline, what string, cond func(Status) bool) Status {
	t.Helper()
	var st Status
	if !testwait.For(20*time.Second, func() bool { st = p.Status(); return cond(st) }) {
		t.Fatalf("timed out waiting for %s: %+v", what, st)
	}
	return st
}
