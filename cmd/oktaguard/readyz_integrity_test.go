package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// A store with damaged pages opens (the integrity check runs after the
// open), then /readyz answers 503 naming the file and the damage, the
// metric says corrupt, and the log says so once.
func TestReadyzReportsCorruptStore(t *testing.T) {
	_, url := startTestSim(t, 200)
	dir := t.TempDir()
	path := filepath.Join(dir, "og.db")
	storetest.CorruptSQLite(t, path)
	listen := freePort(t)
	s := config.Defaults()
	s.Okta.OrgURL = url
	s.Okta.APIToken = simToken
	s.Okta.PollInterval = 100 * time.Millisecond
	s.Storage.Path = path
	s.Posture.Enabled = false
	s.Listen = listen
	logs := &syncWriter{w: &bytes.Buffer{}}
	log := slog.New(slog.NewTextHandler(logs, nil))
	reg, m, err := newMetrics()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(s, pipeline.Options{Metrics: m, Logger: log})
	if err != nil {
		t.Fatalf("a store with damaged pages must open (the check runs after): %v", err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, s, p, reg, log) }()
	waitListening(t, listen)
	c := &http.Client{Timeout: 30 * time.Second}
	var code int
	var body string
	testwait.Until(t, 2*time.Minute, "/readyz to report the damage", func() bool {
		code, _, body = httpGet(t, c, "http://"+listen+"/readyz")
		return strings.Contains(body, "quick_check found")
	})
	want := "store " + path + ": store is corrupt: quick_check found: "
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, want) || !strings.Contains(body, "restore a backup") {
		t.Fatalf("/readyz %d %q, want 503 starting %q", code, body, want)
	}
	_, _, metricsBody := httpGet(t, c, "http://"+listen+"/metrics")
	for _, line := range []string{`oktaguard_store_integrity{state="corrupt"} 1`, `oktaguard_store_integrity{state="ok"} 0`, `oktaguard_store_integrity{state="checking"} 0`} {
		if !strings.Contains(metricsBody, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if l := logs.text(); !strings.Contains(l, "store integrity check found damage") || !strings.Contains(l, path) {
		t.Errorf("log does not report the damage:\n%s", l)
	}
	cancel()
	<-done
}
