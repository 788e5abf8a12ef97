package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
	"github.com/oktaguard/oktaguard/pkg/testsamples"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// TestMain lets tests run the real main() in a subprocess.
func TestMain(m *testing.M) {
	if os.Getenv("OKTAGUARD_RUN_MAIN") == "1" {
		os.Args = append([]string{"oktaguard"}, strings.Fields(os.Getenv("OKTAGUARD_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

const simToken = "00cmd-test-token-9f8e7d6c5b4a"

func runCmd(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code := run(context.Background(), args, stdin, &out, &errb)
	return code, out.String(), errb.String()
}

func samplesDir(t *testing.T) string {
	return testsamples.Shared(t, "samples/okta-system-log") // ../shared beside the repository
}

func TestUsageAndUnknown(t *testing.T) {
	if code, _, errs := runCmd(t, nil); code != 2 || !strings.Contains(errs, "Usage") {
		t.Fatalf("no args: %d %q", code, errs)
	}
	if code, out, errs := runCmd(t, nil, "bogus"); code != 2 || out != "" || !strings.Contains(errs, `unknown command "bogus"`) {
		t.Fatalf("unknown: %d %q %q", code, out, errs)
	}
	if code, out, errs := runCmd(t, nil, "serve"); code != 2 || out != "" || !strings.Contains(errs, "--config FILE is required") {
		t.Fatalf("serve without config: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCmd(t, nil, "replay", "--nope"); code != 2 || !strings.Contains(errs, "flag provided but not defined") {
		t.Fatalf("bad flag: %d %q", code, errs)
	}
}

func TestReplaySamplesAllFormats(t *testing.T) {
	dir := samplesDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	code, out, errs := runCmd(t, nil, append([]string{"replay"}, files...)...)
	if code != 0 {
		t.Fatalf("replay exit %d: %s", code, errs)
	}
	unique := map[string]bool{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var v struct{ UUID string }
			json.Unmarshal([]byte(l), &v)
			unique[v.UUID] = true
		}
	}
	if !strings.Contains(errs, fmt.Sprintf("replay: %d events", len(unique))) || !strings.Contains(errs, "0 parse errors") {
		t.Fatalf("summary: %q (want %d distinct events)", errs, len(unique))
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(line), &a); err != nil || a["detector"] == nil {
			t.Fatalf("stdout line is not an alert: %q", line)
		}
	}

	// The same events as a gzip'd JSON array on stdin, plus a broken line.
	raw, _ := os.ReadFile(files[0])
	var arr []json.RawMessage
	firstUnique := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		arr = append(arr, json.RawMessage(l))
		var v struct{ UUID string }
		json.Unmarshal([]byte(l), &v)
		firstUnique[v.UUID] = true
	}
	b, _ := json.Marshal(arr)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(b)
	zw.Close()
	code, _, errs = runCmd(t, &gz, "replay", "-")
	if code != 0 || !strings.Contains(errs, fmt.Sprintf("replay: %d events", len(firstUnique))) {
		t.Fatalf("gzip stdin: %d %q", code, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, append(raw, []byte("{\"uuid\":\"x\",\"published\":\"not a time\",\"eventType\":\"a\"}\n{broken\n")...), 0o600)
	code, _, errs = runCmd(t, nil, "replay", bad)
	if code != 0 || !strings.Contains(errs, "2 parse errors") || !strings.Contains(errs, "skipped") {
		t.Fatalf("parse errors: %d %q", code, errs)
	}
	code, out, errs = runCmd(t, nil, "replay", filepath.Join(t.TempDir(), "missing.jsonl"))
	if code != 1 || out != "" || !strings.Contains(errs, "no such file") {
		t.Fatalf("missing file: %d %q %q", code, out, errs)
	}
}

func TestReplayDetectsGeneratedAttacks(t *testing.T) {
	ds, err := traffic.Generate(traffic.Config{Seed: 3, Users: 40, Days: 12, Attacks: true})
	if err != nil {
		t.Fatal(err)
	}
	var in bytes.Buffer
	for _, e := range ds.Events {
		in.Write(e)
		in.WriteByte('\n')
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	var lists strings.Builder
	lists.WriteString("ipLists:\n")
	for cat, entries := range ds.Lists.Map() {
		if len(entries) == 0 {
			continue
		}
		fmt.Fprintf(&lists, "  %s:\n", cat)
		for _, e := range entries {
			fmt.Fprintf(&lists, "    - %q\n", e)
		}
	}
	os.WriteFile(cfg, []byte(lists.String()), 0o600)
	code, out, errs := runCmd(t, &in, "replay", "--config", cfg, "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got := map[string]bool{}
	ids := map[string]bool{}
	grown := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var a struct {
			ID, Detector string
			Count        int
			EventIDs     []string
		}
		if json.Unmarshal([]byte(line), &a) == nil {
			got[a.Detector] = true
			// one incident is one alert, written once in its final form
			if ids[a.ID] {
				t.Errorf("alert %s written twice", a.ID)
			}
			ids[a.ID] = true
			if a.Count < 1 {
				t.Errorf("alert %s (%s) has count %d", a.ID, a.Detector, a.Count)
			}
			if a.Count > 1 {
				grown++
			}
		}
	}
	if grown == 0 {
		t.Error("no alert grouped more than one match: the attacks repeat, so some incident must have grown")
	}
	known := map[string]bool{}
	for _, d := range detect.Detectors() {
		known[d.ID] = true
	}
	for _, l := range ds.Labels {
		if known[l.Detector] && !l.Optional && !got[l.Detector] {
			t.Errorf("no %s alert although the dataset has a labelled %s attack", l.Detector, l.Scenario)
		}
	}
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeConfig(t *testing.T, dir, url, token, listen string) string {
	p := filepath.Join(dir, "oktaguard.yaml")
	body := fmt.Sprintf(`okta:
  orgUrl: %s
  apiToken: ${TEST_OKTA_TOKEN}
  pollInterval: 100ms
  pageLimit: 200
storage:
  path: data/og.db
posture:
  enabled: false
listen: %s
`, url, listen)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Setenv("TEST_OKTA_TOKEN", token)
	t.Cleanup(func() { os.Unsetenv("TEST_OKTA_TOKEN") })
	return p
}

func startTestSim(t *testing.T, n int) (*oktasim.Server, string) {
	org, _ := orgsim.New("mixed")
	sim := oktasim.New(oktasim.Options{Token: simToken, RateLimitPerMinute: 100000, Mgmt: org, DefaultLimit: 100000})
	ds, err := traffic.Generate(traffic.Config{Seed: 5, Users: 40, Days: 3, Start: time.Now().Add(-4 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	evs := ds.Events
	if len(evs) > n {
		evs = evs[:n]
	}
	if err := sim.Add(evs...); err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, url
}

// TestServeSIGTERMExportAndMetrics runs serve as a child process: it logs
// the backfill's progress, "backfill done" and then its periodic summary
// (--summary-every 1s), its /metrics count every event, /readyz is 200,
// and SIGTERM ends it with exit 0. The child's output is read while it
// runs, through a lockedBuffer (a bytes.Buffer written by exec's copying
// goroutine and read by the test was a data race under -race).
func TestServeSIGTERMExportAndMetrics(t *testing.T) {
	sim, url := startTestSim(t, 1500)
	dir := t.TempDir()
	listen := freePort(t)
	cfg := writeConfig(t, dir, url, simToken, listen)
	cmd := exec.Command(os.Args[0])
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "OKTAGUARD_RUN_MAIN=1", "OKTAGUARD_ARGS=serve --config "+cfg+" --summary-every 1s", "TEST_OKTA_TOKEN="+simToken)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	n := sim.EventCount()
	want := fmt.Sprintf("oktaguard_events_ingested_total %d", n)
	logged := func() bool {
		l := stderr.String()
		return strings.Contains(l, `msg="backfill progress"`) && strings.Contains(l, fmt.Sprintf(`msg="backfill done" events=%d `, n)) &&
			strings.Contains(l, fmt.Sprintf("msg=summary events=%d ", n))
	}
	// A deadline, not a duration: the child runs under -race on a shared
	// machine; it normally takes a few seconds.
	var body string
	testwait.For(2*time.Minute, func() bool {
		resp, err := http.Get("http://" + listen + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		return strings.Contains(body, want) && logged()
	})
	if !strings.Contains(body, want) {
		t.Fatalf("metrics never showed %q\n%s\nstderr: %s", want, body, stderr.String())
	}
	if !logged() {
		t.Fatalf("serve did not log backfill progress, backfill done (%d events) and a summary:\n%s", n, stderr.String())
	}
	if resp, err := http.Get("http://" + listen + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve did not exit 0 on SIGTERM: %v\nstderr: %s", err, stderr.String())
	}
	if stdout.String() != "" {
		t.Fatalf("serve wrote to stdout: %q", stdout.String())
	}
	if strings.Contains(stderr.String(), simToken) || strings.Contains(body, simToken) {
		t.Fatal("token leaked into logs or metrics")
	}
	if _, err := os.Stat(filepath.Join(dir, "data/og.db")); err != nil {
		t.Fatalf("store not created relative to the config: %v", err)
	}
	// export: every stored event exactly once, raw JSON, oldest first.
	code, out, errs := runCmd(t, nil, "export", "--config", cfg)
	if code != 0 {
		t.Fatalf("export exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != sim.EventCount() {
		t.Fatalf("export wrote %d lines, simulator holds %d", len(lines), sim.EventCount())
	}
	wantIDs := map[string]bool{}
	for _, u := range sim.UUIDs() {
		wantIDs[u] = true
	}
	var prev string
	for _, l := range lines {
		var v struct{ UUID, Published string }
		if err := json.Unmarshal([]byte(l), &v); err != nil || !wantIDs[v.UUID] {
			t.Fatalf("export line not a stored event: %q", l)
		}
		delete(wantIDs, v.UUID)
		if v.Published < prev {
			t.Fatalf("export not in published order: %s after %s", v.Published, prev)
		}
		prev = v.Published
	}
	if len(wantIDs) != 0 {
		t.Fatalf("%d events missing from the export", len(wantIDs))
	}
}

func TestServeRevokedTokenExitsNonZero(t *testing.T) {
	_, url := startTestSim(t, 50)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, "00revoked-token-value-123456789", "")
	code, out, errs := runCmd(t, nil, "serve", "--config", cfg)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errs, "API token invalid or revoked") || strings.Contains(errs, "00revoked") {
		t.Fatalf("stderr: %s", errs)
	}
}

func TestServeRejectsPlainHTTPToRemote(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "http://okta.example.com", simToken, "")
	code, _, errs := runCmd(t, nil, "serve", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "https is required except for a loopback") || strings.Contains(errs, simToken) {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

func TestPostureCommand(t *testing.T) {
	_, url := startTestSim(t, 10)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, url, simToken, "")
	code, out, errs := runCmd(t, nil, "posture", "--config", cfg, "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep struct {
		Score   float64
		Profile string
		Checks  []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, out)
	}
	if rep.Profile != "baseline" || len(rep.Checks) < 10 || rep.Score <= 0 || rep.Score > 100 {
		t.Fatalf("report: %+v", rep)
	}
	code, out, errs = runCmd(t, nil, "posture", "--config", cfg, "--profile", "stig")
	if code != 0 || !strings.Contains(out, "profile stig") || !strings.Contains(out, "STATUS") {
		t.Fatalf("table: %d %s %s", code, out, errs)
	}
	if code, _, errs = runCmd(t, nil, "posture", "--config", cfg, "--profile", "nist"); code != 2 || !strings.Contains(errs, "--profile") {
		t.Fatalf("bad profile: %d %s", code, errs)
	}
}

func TestSimCommandPrintsURLAndToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"sim", "--addr", "127.0.0.1:0", "--users", "40", "--days", "10", "--token", simToken, "--live=false"}, nil, out, errb)
	}()
	testwait.For(30*time.Second, func() bool { return strings.Contains(out.String(), "apiToken:") }) // checked below
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "orgUrl: http://127.0.0.1:") || !strings.Contains(out.String(), "apiToken: "+simToken) {
		t.Fatalf("stdout %q", out.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestDemoRunsAndSummarises(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	code, out, errs := runCmd(t, nil, "demo", "--duration", "8s", "--users", "40", "--db", db)
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, errs)
	}
	for _, want := range []string{"simulated Okta org at http://127.0.0.1:", "metrics: http://127.0.0.1:", "ingested", "Summary after", "DETECTOR", "store: " + db, "Where to look next:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	var ingested, held int
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "events ingested:") {
			fmt.Sscanf(strings.TrimSpace(line), "events ingested: %d (simulator holds %d)", &ingested, &held)
		}
	}
	// How much is ingested in 8s depends on the machine (and -race); the
	// full backfill is asserted by the pipeline tests.
	if ingested == 0 || ingested > held {
		t.Fatalf("demo ingested %d of %d events:\n%s", ingested, held, out)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("--db not kept: %v", err)
	}
}
