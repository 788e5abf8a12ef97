package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// TestReadyzListsRejectedInputs: a ready exporter whose IP list has bad
// lines answers /readyz 200 ("ready", ingestion works) followed by one
// "warning:" line per rejected input, naming file:line. (Failed list and
// GeoIP reloads reach the same Status.InputProblems:
// pipeline's TestRejectedInputsLoggedCountedAndShown and
// TestGeoIPReloadFailureLoggedCountedAndShown.)
func TestReadyzListsRejectedInputs(t *testing.T) {
	_, url := startTestSim(t, 200)
	dir := t.TempDir()
	list := filepath.Join(dir, "risky.txt")
	if err := os.WriteFile(list, []byte("198.51.100.0/24\n300.1.1.1\n1.2.3.4/99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	s := config.Defaults()
	s.Okta.OrgURL = url
	s.Okta.APIToken = simToken
	s.Okta.PollInterval = 100 * time.Millisecond
	s.Storage.Path = filepath.Join(dir, "og.db")
	s.Posture.Enabled = false
	s.Listen = listen
	s.IPLists = map[string][]string{"risky": {list}}
	p, err := pipeline.New(s, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	stop := startExporter(t, s, p, slog.New(slog.NewTextHandler(&syncWriter{w: &bytes.Buffer{}}, nil)))
	defer stop()
	waitListening(t, listen)
	c := &http.Client{Timeout: 30 * time.Second}
	var code int
	var body string
	readyz := func() bool {
		code, _, body = httpGet(t, c, "http://"+listen+"/readyz")
		return code == 200
	}
	testwait.Until(t, 2*time.Minute, "/readyz 200", readyz)
	want := "ready\nwarning: ipLists.risky " + list + ": 2 lines ignored (" + list + ":2: not an IP, CIDR, IP range or AS number; " + list + `:3: bad CIDR "1.2.3.4/99")` + "\n"
	if body != want {
		t.Fatalf("/readyz body:\n%q\nwant\n%q", body, want)
	}

}
