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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
)

func TestExporterRegistryLintClean(t *testing.T) {
	reg, m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	m.EventsIngested(1)
	m.PostureScore("baseline", 50)
	m.CheckPassing("okta.password.min_length", false)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
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
		{"never polled", pipeline.Status{BackfillDone: true}, false, "no successful poll yet"},
		{"fresh", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-90 * time.Second)}, true, "ready"},
		{"stale", pipeline.Status{BackfillDone: true, LastPollSuccess: now.Add(-3 * time.Minute), LastError: "okta: 503"}, false, "last successful poll 3m0s ago (limit 2m0s): okta: 503"},
	} {
		ok, why := readiness(s, c.st, now)
		if ok != c.ok || why != c.why {
			t.Errorf("%s: got %v %q, want %v %q", c.name, ok, why, c.ok, c.why)
		}
	}
	s.Okta.PollInterval = 5 * time.Minute
	if d := readyMaxPollAge(s); d != 15*time.Minute {
		t.Errorf("3 x 5m poll interval: %v", d)
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
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestExporterTLSBasicAuthPromtool(t *testing.T) {
	sim, url := startTestSim(t, 800)
	dir := t.TempDir()
	listen := freePort(t)
	cfgPath := writeConfig(t, dir, url, simToken, listen)
	certFile, keyFile, pool := writeTLS(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-scrape"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n", certFile, keyFile, hash)), 0o600); err != nil {
		t.Fatal(err)
	}
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
	done := make(chan error, 2)
	go func() { done <- p.Run(ctx) }()
	go func() { done <- serveHTTP(ctx, s, p, reg, log) }()
	defer func() {
		cancel()
		<-done
		<-done
	}()

	// Generous timeout: exporter-toolkit checks unknown users against a cost-10
	// bcrypt hash, which is slow under the race detector.
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path, user, pass string) (*http.Response, string, error) {
		req, _ := http.NewRequest("GET", "https://"+listen+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b), nil
	}
	// Wait for ingestion through the authenticated TLS endpoint.
	want := fmt.Sprintf("oktaguard_events_ingested_total %d", sim.EventCount())
	var body string
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, b, err := get("/metrics", "prometheus", "s3cret-scrape")
		if err == nil && resp.StatusCode == 200 && strings.Contains(b, want) {
			body = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics over TLS never showed %q: %v %s", want, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, c := range []struct{ user, pass string }{{"prometheus", "wrong"}, {"", ""}, {"admin", "s3cret-scrape"}} {
		resp, _, err := get("/metrics", c.user, c.pass)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("credentials %q/%q: %v %v, want 401", c.user, c.pass, err, resp)
		}
	}
	if resp, _, err := get("/readyz", "prometheus", "s3cret-scrape"); err != nil || resp.StatusCode != 200 {
		t.Errorf("readyz over TLS: %v %v", err, resp)
	}
	// Plain HTTP to the TLS port is refused.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + listen + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.Contains(string(b), "oktaguard_") {
			t.Fatal("metrics served over plain HTTP on the TLS port")
		}
	}
	// An untrusted client certificate chain is refused.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get("https://" + listen + "/metrics"); err == nil {
		t.Fatal("a client not trusting the certificate connected")
	}
	// promtool on the live scrape.
	if promtool, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool not installed: skipping `promtool check metrics` (CI installs Debian's prometheus package)")
	} else {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	}
	if strings.Contains(body, simToken) || strings.Contains(logs.String(), simToken) {
		t.Fatal("the API token leaked into /metrics or the logs")
	}
}

// TestExporterEndToEndAttacks: simulator with labelled attacks → the real
// `oktaguard serve` binary → the scrape shows the simulator's event count
// and, per detector, the alerts the store holds; SIGTERM exits 0 and a
// restart duplicates nothing. The history spans 10 days so that baseline
// detectors are past their 7-day learning period when the attacks come.
func TestExporterEndToEndAttacks(t *testing.T) {
	org, err := demo.Start(demo.Options{Users: 40, History: 10 * 24 * time.Hour, Token: simToken, NoLive: true,
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
	dir := t.TempDir()
	listen := freePort(t)
	cfg := filepath.Join(dir, "oktaguard.yaml")
	body := fmt.Sprintf("okta:\n  orgUrl: %s\n  apiToken: ${TEST_OKTA_TOKEN}\n  pollInterval: 200ms\n  backfill: 264h\nstorage:\n  path: og.db\nposture:\n  enabled: false\nlisten: %s\nipLists:\n", org.URL, listen)
	for cat, entries := range org.Lists {
		body += "  " + cat + ":\n"
		for _, e := range entries {
			body += "    - " + strconv.Quote(e) + "\n"
		}
	}
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0])
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Env = append(os.Environ(), "OKTAGUARD_RUN_MAIN=1", "OKTAGUARD_ARGS=serve --config "+cfg, "TEST_OKTA_TOKEN="+simToken)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	scrape := func() (map[string]float64, float64, bool) {
		resp, err := http.Get("http://" + listen + "/metrics")
		if err != nil {
			return nil, 0, false
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(resp.Body)
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		det := map[string]float64{}
		if f := fams["oktaguard_detections_total"]; f != nil {
			for _, m := range f.Metric {
				for _, l := range m.Label {
					if l.GetName() == "detector" {
						det[l.GetValue()] += m.GetCounter().GetValue()
					}
				}
			}
		}
		var ing float64
		if f := fams["oktaguard_events_ingested_total"]; f != nil && len(f.Metric) == 1 {
			ing = f.Metric[0].GetCounter().GetValue()
		}
		return det, ing, true
	}
	ready := func() bool {
		resp, err := http.Get("http://" + listen + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}

	cmd, stderr := run()
	defer cmd.Process.Kill()
	deadline := time.Now().Add(2 * time.Minute)
	var det map[string]float64
	var ing float64
	for {
		var ok bool
		det, ing, ok = scrape()
		if ok && ready() && int(ing) == org.Sim.EventCount() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingested %v of %d events\nstderr: %s", ing, org.Sim.EventCount(), stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve did not exit 0 on SIGTERM: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), simToken) {
		t.Fatal("the token leaked into the logs")
	}

	st, err := store.Open(context.Background(), filepath.Join(dir, "og.db"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := st.QueryAlerts(context.Background(), store.AlertQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	stats, _ := st.Stats(context.Background())
	st.Close()
	if int(stats.Events) != org.Sim.EventCount() {
		t.Fatalf("store holds %d events, simulator %d", stats.Events, org.Sim.EventCount())
	}
	stored := map[string]float64{}
	for _, a := range alerts {
		stored[a.Detector]++
	}
	for d, n := range stored {
		if det[d] != n {
			t.Errorf("detector %s: scrape says %v, store holds %v", d, det[d], n)
		}
	}
	for d, n := range det {
		if n != stored[d] {
			t.Errorf("detector %s: scrape says %v, store holds %v", d, n, stored[d])
		}
	}
	labelled := map[string]bool{}
	for _, l := range org.History.Labels {
		if !l.Optional {
			labelled[l.Detector] = true
		}
	}
	for d := range labelled {
		if det[d] == 0 {
			t.Errorf("labelled attack for %s in the history, but no detection", d)
		}
	}
	t.Logf("%d events, detections per detector: %v", stats.Events, det)

	// Restart: resumes from the checkpoint, stores nothing twice.
	cmd, stderr = run()
	defer cmd.Process.Kill()
	deadline = time.Now().Add(time.Minute)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("restarted exporter never ready\n%s", stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, ing, _ = scrape()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restart: %v\n%s", err, stderr.String())
	}
	if ing != 0 {
		t.Fatalf("after a restart with no new events, %v events were ingested again", ing)
	}
	st, err = store.Open(context.Background(), filepath.Join(dir, "og.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s2, _ := st.Stats(context.Background()); s2.Events != stats.Events || s2.Alerts != stats.Alerts {
		t.Fatalf("restart changed the store: %+v -> %+v", stats, s2)
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
