package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// e2eVersion is stamped into the test binary and must come back in
// oktaguard_build_info.
const e2eVersion = "e2e-test-1.2.3"

// buildOktaguard compiles the real command into dir (no test hooks).
func buildOktaguard(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, serr := os.Stat(goTool); serr != nil {
			t.Fatalf("the go tool that runs this test is needed to build the binary: %v", err)
		}
	}
	bin := filepath.Join(dir, "oktaguard")
	cmd := exec.Command(goTool, "build", "-o", bin, "-ldflags", "-X main.version="+e2eVersion, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProc is one running `oktaguard serve`.
type serveProc struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
	done           chan error
}

func startServe(t *testing.T, bin, token string, args ...string) *serveProc {
	t.Helper()
	p := &serveProc{cmd: exec.Command(bin, append([]string{"serve"}, args...)...), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &syncWriter{w: p.stdout}, &syncWriter{w: p.stderr}
	// The token reaches the process only through the environment; the
	// config file says ${OKTAGUARD_E2E_TOKEN}.
	p.cmd.Env = append(os.Environ(), "OKTAGUARD_E2E_TOKEN="+token)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited reports whether the process has ended (and with what).
func (p *serveProc) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// terminate sends SIGTERM and requires exit code 0 within a bound that
// only catches a hang (finishing the page in flight takes far less).
func (p *serveProc) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("serve did not exit 0 on SIGTERM: %v\nstderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve still running 20s after SIGTERM\nstderr:\n%s", p.stderr.String())
	}
	if p.stdout.Len() != 0 {
		t.Fatalf("serve wrote to stdout: %q", p.stdout.String())
	}
}

// sample is one series of a scrape.
type sample struct {
	labels map[string]string
	value  float64
}

// scrapeResult is one parsed /metrics response.
type scrapeResult struct {
	body string
	fams map[string][]sample
}

func (s scrapeResult) value(name string, labels ...string) (float64, bool) {
next:
	for _, m := range s.fams[name] {
		for i := 0; i+1 < len(labels); i += 2 {
			if m.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m.value, true
	}
	return 0, false
}

// sumBy adds a family's values per value of one label.
func (s scrapeResult) sumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range s.fams[name] {
		if v, ok := m.labels[label]; ok {
			out[v] += m.value
		}
	}
	return out
}

func scrape(client *http.Client, url, user, pass string) (scrapeResult, int, error) {
	code, body, err := tlsGet(client, url, user, pass)
	if err != nil || code != 200 {
		return scrapeResult{}, code, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return scrapeResult{}, code, fmt.Errorf("parse scrape: %w", err)
	}
	res := scrapeResult{body: body, fams: map[string][]sample{}}
	for name, f := range parsed {
		for _, m := range f.GetMetric() {
			sm := sample{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				sm.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				sm.value = m.Counter.GetValue()
			case m.Gauge != nil:
				sm.value = m.Gauge.GetValue()
			case m.Untyped != nil:
				sm.value = m.Untyped.GetValue()
			}
			res.fams[name] = append(res.fams[name], sm)
		}
	}
	return res, code, nil
}

// storeCounts opens the store (the process has exited) and returns the
// event count, every stored uuid and the alerts per detector.
func storeCounts(t *testing.T, path string) (int64, []string, map[string]float64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.QueryEvents(ctx, store.EventQuery{From: time.Unix(0, 0), To: time.Now().Add(24 * time.Hour), Limit: store.DefaultMaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.UUID)
	}
	alerts, err := st.QueryAlerts(ctx, store.AlertQuery{From: time.Unix(0, 0), To: time.Now().Add(24 * time.Hour), Limit: store.DefaultMaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(alerts)) != stats.Alerts {
		t.Fatalf("QueryAlerts returned %d alerts, Stats says %d", len(alerts), stats.Alerts)
	}
	per := map[string]float64{}
	for _, a := range alerts {
		per[a.Detector]++
	}
	return stats.Events, ids, per
}

// sameUUIDs requires the store to hold exactly the simulator's uuids,
// each once.
func sameUUIDs(t *testing.T, stored, sim []string) {
	t.Helper()
	seen := map[string]int{}
	for _, u := range stored {
		seen[u]++
	}
	for u, n := range seen {
		if n > 1 {
			t.Errorf("uuid %s stored %d times", u, n)
		}
	}
	want := map[string]bool{}
	for _, u := range sim {
		want[u] = true
		if seen[u] == 0 {
			t.Errorf("uuid %s of the simulator is not stored", u)
		}
	}
	for u := range seen {
		if !want[u] {
			t.Errorf("stored uuid %s is not the simulator's", u)
		}
	}
}

// freshCopies returns n events copied from the history with new uuids,
// published now (live traffic arriving while serve is down).
func freshCopies(t *testing.T, org *demo.Org, n int) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		var m map[string]any
		if err := json.Unmarshal(org.History.Events[i*7%len(org.History.Events)], &m); err != nil {
			t.Fatal(err)
		}
		m["uuid"] = fmt.Sprintf("e2e-restart-%04d", i)
		m["published"] = now.Add(time.Duration(i) * time.Millisecond).Format(time.RFC3339Nano)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestExporterEndToEndAttacks: simulator with labelled attacks → the real
// `oktaguard serve` binary (go build) → the scrape shows the simulator's
// event count, the detections per detector equal to the alerts the store
// holds (and > 0 for every labelled attack), posture and Okta request
// metrics, and passes promtool; SIGTERM exits 0; new events arrive while
// it is down; the restart — with --listen and --web.config.file (TLS and
// basic auth) — ingests exactly the new ones, duplicates nothing, refuses
// wrong credentials; the token is never in a scrape or the logs.
//
// The history spans 10 days so that baseline detectors are past their
// 7-day learning period when the attacks come.
func TestExporterEndToEndAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildOktaguard(t, dir)
	const token = "00e2e-exporter-token-5d4c3b2a1f0e"
	org, err := demo.Start(demo.Options{Users: 40, History: 10 * 24 * time.Hour, Token: token, NoLive: true,
		RateLimitPerMinute: 100000, MgmtRateLimit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	defer org.Close()
	// The engine releases events from its reorder buffer as event time
	// advances; without live traffic, one later event moves it past the
	// history's last attack.
	if err := org.Sim.Add(json.RawMessage(`{"uuid":"watermark-1","published":"` + time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339Nano) +
		`","eventType":"user.session.end","actor":{"alternateId":"system@okta.com","type":"SystemPrincipal"},"outcome":{"result":"SUCCESS"}}`)); err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	cfg := filepath.Join(dir, "oktaguard.yaml")
	body := fmt.Sprintf("okta:\n  orgUrl: %s\n  apiToken: ${OKTAGUARD_E2E_TOKEN}\n  pollInterval: 200ms\n  backfill: 264h\n"+
		"storage:\n  path: og.db\nposture:\n  profile: baseline\nlisten: %s\nipLists:\n", org.URL, listen)
	for cat, entries := range org.Lists {
		body += "  " + cat + ":\n"
		for _, e := range entries {
			body += "    - " + strconv.Quote(e) + "\n"
		}
	}
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "og.db")
	plain := &http.Client{Timeout: 30 * time.Second}

	// --- First run: plain HTTP on the config's listen address.
	proc := startServe(t, bin, token, "--config", cfg, "--log-level", "debug")
	var last scrapeResult
	sawNotReady := ""
	if !testwait.For(3*time.Minute, func() bool {
		if done, err := proc.exited(); done {
			t.Fatalf("serve exited early: %v\nstderr:\n%s", err, proc.stderr.String())
		}
		res, _, err := scrape(plain, "http://"+listen+"/metrics", "", "")
		if err != nil {
			return false
		}
		last = res
		code, why, _ := tlsGet(plain, "http://"+listen+"/readyz", "", "")
		if code == http.StatusServiceUnavailable && sawNotReady == "" {
			sawNotReady = why
		}
		ing, _ := res.value("oktaguard_events_ingested_total")
		_, posture := res.value("oktaguard_posture_score", "profile", "baseline")
		return code == 200 && posture && int(ing) == org.Sim.EventCount()
	}) {
		ing, _ := last.value("oktaguard_events_ingested_total")
		t.Fatalf("after 3 min: ingested %v of %d events (posture scored: %v)\nstderr:\n%s", ing, org.Sim.EventCount(),
			strings.Contains(last.body, "oktaguard_posture_score"), proc.stderr.String())
	}
	if sawNotReady != "" {
		t.Logf("/readyz before the backfill finished: 503 %q", strings.TrimSpace(sawNotReady))
	}
	first := last
	promtoolCheckMetrics(t, first.body)
	checkFirstScrape(t, first)
	proc.terminate(t)
	if strings.Contains(proc.stderr.String(), token) {
		t.Fatal("the API token leaked into the logs")
	}

	events1, ids1, stored1 := storeCounts(t, dbPath)
	if int(events1) != org.Sim.EventCount() {
		t.Fatalf("store holds %d events, simulator %d", events1, org.Sim.EventCount())
	}
	sameUUIDs(t, ids1, org.Sim.UUIDs())
	det1 := first.sumBy("oktaguard_detections_total", "detector")
	compareDetections(t, "first run", det1, stored1)
	labelled := map[string]bool{}
	for _, l := range org.History.Labels {
		if !l.Optional {
			labelled[l.Detector] = true
		}
	}
	if len(labelled) == 0 {
		t.Fatal("the simulated history has no labelled attacks")
	}
	for d := range labelled {
		if det1[d] == 0 {
			t.Errorf("labelled attack for %s in the history, but oktaguard_detections_total{detector=%q} is 0", d, d)
		}
	}
	t.Logf("first run: %d events; detections: %v", events1, nonZero(det1))

	// --- While serve is down, new events arrive.
	const newEvents = 40
	if err := org.Sim.Add(freshCopies(t, org, newEvents)...); err != nil {
		t.Fatal(err)
	}

	// --- Restart with --listen and --web.config.file: TLS + basic auth.
	listen2 := freePort(t)
	webCfg, pool := writeWebConfig(t, dir, "prometheus", "e2e-scrape-pass")
	proc = startServe(t, bin, token, "--config", cfg, "--listen", listen2, "--web.config.file", webCfg)
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if !testwait.For(2*time.Minute, func() bool {
		if done, err := proc.exited(); done {
			t.Fatalf("restarted serve exited early: %v\nstderr:\n%s", err, proc.stderr.String())
		}
		res, _, err := scrape(client, "https://"+listen2+"/metrics", "prometheus", "e2e-scrape-pass")
		if err != nil {
			return false
		}
		last = res
		code, _, _ := tlsGet(client, "https://"+listen2+"/readyz", "prometheus", "e2e-scrape-pass")
		ing, _ := res.value("oktaguard_events_ingested_total")
		return code == 200 && ing >= newEvents
	}) {
		ing, _ := last.value("oktaguard_events_ingested_total")
		t.Fatalf("restarted exporter: ingested %v of %d new events\nstderr:\n%s", ing, newEvents, proc.stderr.String())
	}
	// Let it poll three more times (System Log requests seen by the
	// simulator): nothing else may be counted.
	polled := org.Sim.Stats().ByEndpoint["/api/v1/logs"]
	testwait.Until(t, time.Minute, "three more System Log polls of the restarted exporter", func() bool {
		return org.Sim.Stats().ByEndpoint["/api/v1/logs"] >= polled+3
	})
	second, code, err := scrape(client, "https://"+listen2+"/metrics", "prometheus", "e2e-scrape-pass")
	if err != nil || code != 200 {
		t.Fatalf("scrape after the restart: %d %v", code, err)
	}
	if ing, _ := second.value("oktaguard_events_ingested_total"); ing != newEvents {
		t.Errorf("after the restart %v events were counted, want exactly the %d new ones", ing, newEvents)
	}
	if conn, err := plain.Get("http://" + listen + "/metrics"); err == nil {
		conn.Body.Close()
		t.Errorf("--listen %s did not replace the config's listen %s", listen2, listen)
	}
	checkTLSRefusals(t, client, listen2, "prometheus", "e2e-scrape-pass")
	promtoolCheckMetrics(t, second.body)
	proc.terminate(t)
	if strings.Contains(proc.stderr.String(), token) || strings.Contains(second.body, token) {
		t.Fatal("the API token leaked into the logs or /metrics after the restart")
	}

	events2, ids2, stored2 := storeCounts(t, dbPath)
	if int(events2) != org.Sim.EventCount() || events2 != events1+newEvents {
		t.Fatalf("after the restart the store holds %d events; simulator %d, first run %d + %d new", events2, org.Sim.EventCount(), events1, newEvents)
	}
	sameUUIDs(t, ids2, org.Sim.UUIDs())
	// The store's new alerts are exactly what the second process counted.
	det2 := second.sumBy("oktaguard_detections_total", "detector")
	delta := map[string]float64{}
	for d, n := range stored2 {
		delta[d] = n - stored1[d]
	}
	compareDetections(t, "restart", det2, delta)
}

// checkFirstScrape asserts the pipeline drove every recorder that a run
// with posture and no faults exercises.
func checkFirstScrape(t *testing.T, s scrapeResult) {
	t.Helper()
	if strings.Contains(s.body, "00e2e-exporter-token") {
		t.Fatal("the API token appears in /metrics")
	}
	if v, ok := s.value("oktaguard_build_info", "version", e2eVersion); !ok || v != 1 {
		t.Errorf("oktaguard_build_info{version=%q} = %v %v", e2eVersion, v, ok)
	}
	if v, _ := s.value("oktaguard_backfill_progress_ratio"); v != 1 {
		t.Errorf("oktaguard_backfill_progress_ratio = %v after the backfill", v)
	}
	if v, _ := s.value("oktaguard_last_poll_success_timestamp_seconds"); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("oktaguard_last_poll_success_timestamp_seconds = %v, not recent", v)
	}
	if v, ok := s.value("oktaguard_poll_lag_seconds"); !ok || v < 0 || v > 3600 {
		t.Errorf("oktaguard_poll_lag_seconds = %v %v", v, ok)
	}
	if v, _ := s.value("oktaguard_okta_rate_limit_remaining"); v <= 0 {
		t.Errorf("oktaguard_okta_rate_limit_remaining = %v, want the simulator's X-Rate-Limit-Remaining", v)
	}
	if v, _ := s.value("oktaguard_okta_requests_total", "endpoint", "logs", "status_class", "2xx"); v < 2 {
		t.Errorf("okta_requests_total{endpoint=logs,2xx} = %v", v)
	}
	if v, _ := s.value("oktaguard_okta_requests_total", "endpoint", "management", "status_class", "2xx"); v < 1 {
		t.Errorf("okta_requests_total{endpoint=management,2xx} = %v although posture was evaluated", v)
	}
	if v, _ := s.value("oktaguard_posture_score", "profile", "baseline"); v <= 0 || v > 100 {
		t.Errorf("oktaguard_posture_score{profile=baseline} = %v", v)
	}
	checks := s.sumBy("oktaguard_posture_check_passing", "check")
	if len(checks) == 0 {
		t.Error("no oktaguard_posture_check_passing series after a posture evaluation")
	}
	for c, v := range checks {
		if v != 0 && v != 1 {
			t.Errorf("oktaguard_posture_check_passing{check=%q} = %v", c, v)
		}
	}
	for _, r := range metrics.RejectReasons {
		if _, ok := s.value("oktaguard_events_rejected_total", "reason", r); !ok {
			t.Errorf("oktaguard_events_rejected_total{reason=%q} missing", r)
		}
	}
	n := len(s.fams["oktaguard_detections_total"])
	if want := len(detect.Detectors()) * len(metrics.Severities); n < want {
		t.Errorf("%d detector/severity series, want every one of the %d pairs", n, want)
	}
}

func compareDetections(t *testing.T, when string, scraped, stored map[string]float64) {
	t.Helper()
	for d, n := range stored {
		if scraped[d] != n {
			t.Errorf("%s: detector %s: scrape says %v, store holds %v", when, d, scraped[d], n)
		}
	}
	for d, n := range scraped {
		if n != stored[d] {
			t.Errorf("%s: detector %s: scrape says %v, store holds %v", when, d, n, stored[d])
		}
	}
}

func nonZero(m map[string]float64) string {
	var parts []string
	for k, v := range m {
		if v != 0 {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
