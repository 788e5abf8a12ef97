package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// TestExporterRegistryLintClean: the exporter's own registry (contract set
// plus Go and process collectors) passes client_golang's linter, and every
// known detector × severity pair is exposed from the start at 0.
func TestExporterRegistryLintClean(t *testing.T) {
	reg, m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	// Exercise every recorder so that every family has at least one series.
	m.EventsIngested(3)
	m.Detection("password_spray", "high")
	m.OktaRequest("logs", 200)
	m.OktaRequest("token", 0)
	m.RateLimitRemaining(57)
	m.PollLag(12 * time.Second)
	m.PollSuccess(time.Now())
	m.BackfillProgress(0.5)
	m.Rejected("malformed")
	m.PostureScore("baseline", 50)
	m.CheckPassing("okta.password.min_length", false)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	pairs := map[string]float64{}
	for _, f := range fams {
		byName[f.GetName()] = len(f.GetMetric())
		if f.GetName() != "oktaguard_detections_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			var d, s string
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "detector":
					d = l.GetValue()
				case "severity":
					s = l.GetValue()
				}
			}
			pairs[d+"/"+s] = mt.GetCounter().GetValue()
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "oktaguard_build_info",
		"oktaguard_events_ingested_total", "oktaguard_okta_requests_total", "oktaguard_events_rejected_total"} {
		if byName[name] == 0 {
			t.Errorf("%s missing from the exporter's registry", name)
		}
	}
	if len(detect.Detectors()) == 0 {
		t.Fatal("no detectors registered")
	}
	for _, d := range detect.Detectors() {
		for _, s := range metrics.Severities {
			v, ok := pairs[d.ID+"/"+s]
			want := 0.0
			if d.ID == "password_spray" && s == "high" {
				want = 1
			}
			if !ok || v != want {
				t.Errorf("oktaguard_detections_total{detector=%q,severity=%q} = %v (present %v), want %v", d.ID, s, v, ok, want)
			}
		}
	}
	if want := len(detect.Detectors()) * len(metrics.Severities); len(pairs) != want {
		t.Errorf("%d detector/severity series, want %d", len(pairs), want)
	}
}

func TestReadiness(t *testing.T) {
	s := config.Defaults()
	s.Okta.PollInterval = 30 * time.Second
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		name string
		st   pipeline.Status
		ok   bool
		why  string
	}{
		{"backfilling", pipeline.Status{BackfillProgress: 0.42}, false, "backfill in progress (42%)"},
		{"backfilling, recent poll", pipeline.Status{BackfillProgress: 0.9, LastPollSuccess: now}, false, "backfill in progress (90%)"},
		{"backfilling, failing", pipeline.Status{BackfillProgress: 0.1, LastError: "okta: request failed", LastErrorAt: now},
			false, "backfill in progress (10%); last poll failed: okta: request failed"},
		{"backfilling, failed then recovered", pipeline.Status{BackfillProgress: 0.2, LastError: "okta: 503", LastErrorAt: now.Add(-time.Minute), LastPollSuccess: now},
			false, "backfill in progress (20%)"},
		{"never polled", pipeline.Status{BackfillDone: true}, false, "no successful poll yet"},
		{"fresh", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-90 * time.Second)}, true, "ready"},
		{"at the limit", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-2 * time.Minute)}, true, "ready"},
		{"old error, fresh poll", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-time.Second), LastError: "okta: 503"}, true, "ready"},
		{"stale", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-3 * time.Minute), LastError: "okta: 503"}, false, "last successful poll 3m0s ago (limit 2m0s): okta: 503"},
		{"stale, no error", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-121 * time.Second)}, false, "last successful poll 2m1s ago (limit 2m0s)"},
		{"store check running", pipeline.Status{BackfillDone: true, LastPollSuccess: now, StoreIntegrity: store.Integrity{State: store.IntegrityChecking}}, true, "ready"},
		{"store corrupt", pipeline.Status{BackfillDone: true, LastPollSuccess: now, StoreIntegrity: store.Integrity{State: store.IntegrityCorrupt,
			Err: fmt.Errorf("store /x/og.db: %w: quick_check found: page 3 damaged", store.ErrCorrupt)}}, false, "store /x/og.db: store is corrupt: quick_check found: page 3 damaged"},
	} {
		ok, why := readiness(s, c.st, now)
		if ok != c.ok || why != c.why {
			t.Errorf("%s: got %v %q, want %v %q", c.name, ok, why, c.ok, c.why)
		}
	}
	for iv, want := range map[time.Duration]time.Duration{
		5 * time.Minute:  15 * time.Minute,
		time.Minute:      3 * time.Minute,
		30 * time.Second: 2 * time.Minute,
		time.Second:      2 * time.Minute,
	} {
		s.Okta.PollInterval = iv
		if d := readyMaxPollAge(s); d != want {
			t.Errorf("poll interval %v: max poll age %v, want %v", iv, d, want)
		}
	}
}

// idlePipeline is a pipeline that is never run (its org does not exist),
// so its status stays "backfill in progress".
func idlePipeline(t testing.TB, listen string) (config.Settings, *pipeline.Pipeline) {
	t.Helper()
	s := config.Defaults()
	s.Okta.OrgURL = "http://127.0.0.1:9"
	s.Okta.APIToken = simToken
	s.Storage.Path = filepath.Join(t.TempDir(), "og.db")
	s.Posture.Enabled = false
	s.Listen = listen
	p, err := pipeline.New(s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return s, p
}

// startExporter runs serveHTTP in the background; stop cancels it and
// returns its result.
func startExporter(t *testing.T, s config.Settings, p *pipeline.Pipeline, log *slog.Logger) (stop func() error) {
	t.Helper()
	reg, _, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, s, p, reg, log) }()
	var once sync.Once
	var res error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case res = <-done:
			case <-time.After(30 * time.Second):
				res = fmt.Errorf("serveHTTP did not return after cancel")
			}
		})
		return res
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	var err error
	if !testwait.For(30*time.Second, func() bool {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("exporter never listened on %s: %v", addr, err)
	}
}

func httpGet(t *testing.T, c *http.Client, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestExporterEndpoints: /healthz, /readyz (503 with the reason while the
// backfill has not run), /metrics, the index page, 404 elsewhere; a
// cancelled context shuts the server down and frees the port.
func TestExporterEndpoints(t *testing.T) {
	listen := freePort(t)
	s, p := idlePipeline(t, listen)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	stop := startExporter(t, s, p, log)
	waitListening(t, listen)
	c := &http.Client{Timeout: 30 * time.Second}
	base := "http://" + listen

	if code, _, body := httpGet(t, c, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	code, h, body := httpGet(t, c, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "backfill in progress (0%)") ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("/readyz before any poll: %d %q %q, want 503 with the reason", code, h.Get("Content-Type"), body)
	}
	code, h, body = httpGet(t, c, base+"/metrics")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics: %d %q", code, h.Get("Content-Type"))
	}
	// build_info names the version, the VCS revision (unknown in a test binary) and the Go version.
	if re := regexp.MustCompile(`(?m)^oktaguard_build_info\{goversion="` + regexp.QuoteMeta(runtime.Version()) + `",revision="[^"]+",version="dev"\} 1$`); !re.MatchString(body) {
		t.Errorf("/metrics lacks oktaguard_build_info with goversion, revision and version")
	}
	for _, want := range []string{"oktaguard_events_ingested_total 0",
		`oktaguard_detections_total{detector="password_spray",severity="critical"} 0`, "go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, simToken) {
		t.Error("the API token appears in /metrics")
	}
	if code, _, body := httpGet(t, c, base+"/"); code != 200 || !strings.Contains(body, `href="/metrics"`) || !strings.Contains(body, `href="/readyz"`) {
		t.Errorf("index: %d %q", code, body)
	}
	if code, _, _ := httpGet(t, c, base+"/nope"); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}

	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
		conn.Close()
		t.Fatal("still listening after the context was cancelled")
	}
	if !strings.Contains(logs.String(), "Listening on") || !strings.Contains(logs.String(), "component=exporter") {
		t.Errorf("no structured start-up log line:\n%s", logs.String())
	}
}

// TestExporterStartErrors: a bad web config file stops serve before it
// listens, with an error naming the file; a taken port is an error naming
// the address; an empty listen address disables the exporter.
func TestExporterStartErrors(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	reg, _, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}

	missingCert := filepath.Join(dir, "web-missing-cert.yml")
	if err := os.WriteFile(missingCert, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "nope.crt")+"\n  key_file: "+filepath.Join(dir, "nope.key")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badHash := filepath.Join(dir, "web-bad-hash.yml")
	if err := os.WriteFile(badHash, []byte("basic_auth_users:\n  prometheus: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badYAML := filepath.Join(dir, "web-bad-yaml.yml")
	if err := os.WriteFile(badYAML, []byte("tls_server_config: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknownKey := filepath.Join(dir, "web-unknown-key.yml")
	if err := os.WriteFile(unknownKey, []byte("basic_auth_user:\n  prometheus: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{missingCert, badHash, badYAML, unknownKey, filepath.Join(dir, "absent.yml")} {
		listen := freePort(t)
		s, p := idlePipeline(t, listen)
		s.WebConfigFile = f
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := serveHTTP(ctx, s, p, reg, log)
		cancel()
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("web config %s: error %v, want one naming the file", filepath.Base(f), err)
		}
		if conn, derr := net.DialTimeout("tcp", listen, time.Second); derr == nil {
			conn.Close()
			t.Errorf("web config %s: listening despite the error", filepath.Base(f))
		}
	}

	// The port is taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, p := idlePipeline(t, ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := serveHTTP(ctx, s, p, reg, log); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("taken port: %v, want an error naming %s", err, ln.Addr())
	}

	// Disabled: returns nil when the context ends.
	s, p = idlePipeline(t, "")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := serveHTTP(ctx2, s, p, reg, log); err != nil {
		t.Errorf("disabled exporter: %v", err)
	}
}

// writeTLS writes a self-signed certificate for 127.0.0.1 and returns
// the paths and a pool trusting it.
func writeTLS(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "oktaguard-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// writeWebConfig writes an exporter-toolkit web config with TLS and one
// basic-auth user (bcrypt hash of pass).
func writeWebConfig(t *testing.T, dir, user, pass string) (path string, pool *x509.CertPool) {
	t.Helper()
	certFile, keyFile, pool := writeTLS(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "web.yml")
	body := fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n", certFile, keyFile, user, hash)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, pool
}

// tlsGet is a GET through a client trusting pool, with optional basic auth.
func tlsGet(client *http.Client, url, user, pass string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	if user != "" || pass != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// checkTLSRefusals: wrong or missing credentials get 401 on every
// endpoint, plain HTTP to the TLS port never gets the metrics, and a
// client that does not trust the certificate cannot connect.
func checkTLSRefusals(t *testing.T, client *http.Client, listen, user, pass string) {
	t.Helper()
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		for _, c := range []struct{ user, pass string }{{user, "wrong"}, {"", ""}, {"admin", pass}, {user, ""}} {
			code, body, err := tlsGet(client, "https://"+listen+path, c.user, c.pass)
			if err != nil || code != http.StatusUnauthorized || strings.Contains(body, "oktaguard_") {
				t.Errorf("%s with %q/%q: %d %v, want 401", path, c.user, c.pass, code, err)
			}
		}
	}
	plain := &http.Client{Timeout: 10 * time.Second}
	if code, body, err := tlsGet(plain, "http://"+listen+"/metrics", user, pass); err == nil && (code != http.StatusBadRequest || strings.Contains(body, "oktaguard_")) {
		t.Errorf("plain HTTP to the TLS port: %d %q, want a failure", code, body)
	}
	if _, _, err := tlsGet(plain, "https://"+listen+"/metrics", user, pass); err == nil {
		t.Error("a client not trusting the certificate connected")
	}
}

// TestExporterTLSBasicAuthPromtool: the in-process exporter with a web
// config (TLS + basic auth) over a running pipeline: authenticated scrapes
// show the simulator's event count and pass `promtool check metrics`;
// wrong credentials get 401; plain HTTP fails; the token appears in
// neither the scrape nor the logs; net/http's own errors are logged
// through slog.
func TestExporterTLSBasicAuthPromtool(t *testing.T) {
	sim, url := startTestSim(t, 800)
	dir := t.TempDir()
	listen := freePort(t)
	cfgPath := writeConfig(t, dir, url, simToken, listen)
	webCfg, pool := writeWebConfig(t, dir, "prometheus", "s3cret-scrape")
	s, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s.WebConfigFile = webCfg
	reg, m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := pipeline.New(s, pipeline.Options{Logger: log, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runDone, httpDone := make(chan error, 1), make(chan error, 1)
	go func() { runDone <- p.Run(ctx) }()
	go func() { httpDone <- serveHTTP(ctx, s, p, reg, log) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("pipeline: %v", err)
		}
		if err := <-httpDone; err != nil {
			t.Errorf("exporter: %v", err)
		}
	}
	defer stop()

	// Generous timeout: exporter-toolkit checks unknown users against a
	// bcrypt hash, which is slow under the race detector.
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	want := fmt.Sprintf("oktaguard_events_ingested_total %d", sim.EventCount())
	var body, why string
	var code int
	if !testwait.For(90*time.Second, func() bool {
		code, body, err = tlsGet(client, "https://"+listen+"/metrics", "prometheus", "s3cret-scrape")
		return err == nil && code == 200 && strings.Contains(body, want)
	}) {
		t.Fatalf("metrics over TLS never showed %q: %d %v\n%s", want, code, err, body)
	}
	if !testwait.For(30*time.Second, func() bool {
		code, why, err = tlsGet(client, "https://"+listen+"/readyz", "prometheus", "s3cret-scrape")
		return err == nil && code == 200 && why == "ready\n"
	}) {
		t.Fatalf("readyz over TLS: %d %q %v", code, why, err)
	}
	checkTLSRefusals(t, client, listen, "prometheus", "s3cret-scrape")
	promtoolCheckMetrics(t, body)
	stop()
	if strings.Contains(body, simToken) || strings.Contains(logs.String(), simToken) {
		t.Fatal("the API token leaked into /metrics or the logs")
	}
	if !strings.Contains(logs.String(), "TLS handshake error") || !strings.Contains(logs.String(), "component=exporter") {
		t.Errorf("net/http's TLS handshake error is not in the structured log:\n%s", logs.String())
	}
}

// promtoolCheckMetrics runs `promtool check metrics` on a scrape body
// (skipped, with a message, when promtool is not installed).
func promtoolCheckMetrics(t *testing.T, body string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not on PATH: skipping `promtool check metrics` (CI installs Debian's prometheus package)")
		return
	}
	if !strings.Contains(body, "oktaguard_") {
		t.Fatalf("not a scrape of the exporter: %.200q", body)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// syncWriter serialises writes from concurrent loggers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// text is what was written so far, read under the writers' lock (w must
// be a *bytes.Buffer).
func (s *syncWriter) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*bytes.Buffer).String()
}

// TestExporterServesUntilPageCommitted: on the stop signal the exporter
// keeps answering while the pipeline finishes the System Log request in
// flight and commits its page; only then does it shut down.
func TestExporterServesUntilPageCommitted(t *testing.T) {
	sim, _ := startTestSim(t, 300)
	var armed atomic.Bool
	inFlight := make(chan struct{})
	// The armed request is held until the test has seen the exporter
	// answer during the shutdown.
	release := make(chan struct{})
	var releaseOnce sync.Once
	answer := func() { releaseOnce.Do(func() { close(release) }) }
	okta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/logs" && armed.CompareAndSwap(true, false) {
			close(inFlight)
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	defer okta.Close()
	defer answer()

	dir := t.TempDir()
	listen := freePort(t)
	s, err := config.Load(writeConfig(t, dir, okta.URL, simToken, listen))
	if err != nil {
		t.Fatal(err)
	}
	reg, m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(s, pipeline.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	type httpResult struct {
		err             error
		pipelineRunning bool
	}
	httpDone := make(chan httpResult, 1)
	go func() { runDone <- p.Run(ctx) }()
	go func() {
		err := serveHTTP(ctx, s, p, reg, slog.New(slog.DiscardHandler))
		httpDone <- httpResult{err, p.Status().Running}
	}()
	waitListening(t, listen)
	if !testwait.For(60*time.Second, func() bool { return p.Status().EventsIngested == int64(sim.EventCount()) }) {
		t.Fatalf("backfill: %d of %d events", p.Status().EventsIngested, sim.EventCount())
	}

	// New events, and the next System Log request hangs until answered.
	before := sim.EventCount()
	if err := sim.Add(freshEvents(25)...); err != nil {
		t.Fatal(err)
	}
	armed.Store(true)
	select {
	case <-inFlight:
	case <-time.After(60 * time.Second):
		t.Fatal("no System Log request after the new events")
	}
	cancel()
	// While that request is in flight the exporter still answers.
	c := &http.Client{Timeout: 10 * time.Second}
	if code, _, body := httpGet(t, c, "http://"+listen+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz during shutdown: %d %q", code, body)
	}
	if p.Status().EventsIngested != int64(before) {
		t.Fatal("the held page was committed before its request was answered")
	}
	answer()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("pipeline: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the pipeline did not stop")
	}
	var res httpResult
	select {
	case res = <-httpDone:
	case <-time.After(60 * time.Second):
		t.Fatal("the exporter did not stop")
	}
	if res.err != nil || res.pipelineRunning {
		t.Fatalf("exporter stopped with %v while the pipeline was running: %v", res.err, res.pipelineRunning)
	}
	if got := p.Status().EventsIngested; got != int64(before+25) {
		t.Fatalf("the page in flight was not committed: %d events ingested, want %d", got, before+25)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "oktaguard_events_ingested_total" && f.GetMetric()[0].GetCounter().GetValue() != float64(before+25) {
			t.Fatalf("oktaguard_events_ingested_total = %v, want %d", f.GetMetric()[0].GetCounter().GetValue(), before+25)
		}
	}
	if conn, err := net.DialTimeout("tcp", listen, time.Second); err == nil {
		conn.Close()
		t.Fatal("still listening after the shutdown")
	}
}

// freshEvents are n minimal sign-in events published now.
func freshEvents(n int) []json.RawMessage {
	var out []json.RawMessage
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		out = append(out, json.RawMessage(fmt.Sprintf(`{"uuid":"fresh-%d-%d","published":%q,"eventType":"user.session.start",`+
			`"actor":{"id":"00u1","alternateId":"alice@example.com","type":"User"},"outcome":{"result":"SUCCESS"},`+
			`"client":{"ipAddress":"198.51.100.7"}}`, now.UnixNano(), i, now.Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))))
	}
	return out
}
