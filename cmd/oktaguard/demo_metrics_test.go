package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The demo serves /metrics while it runs and prints the URL; a scrape
// during the run shows the ingestion counter.
func TestDemoServesMetrics(t *testing.T) {
	out := &lockedBuffer{}
	var errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"demo", "--duration", "20s", "--users", "40"}, strings.NewReader(""), out, &errb)
	}()
	re := regexp.MustCompile(`metrics: (http://127\.0\.0\.1:\d+/metrics)`)
	deadline := time.Now().Add(60 * time.Second)
	var body string
	for time.Now().Before(deadline) && !strings.Contains(body, "oktaguard_events_ingested_total") {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			if resp, err := http.Get(m[1]); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = string(b)
			}
		}
		select {
		case code := <-done:
			t.Fatalf("demo ended (exit %d) before /metrics was scraped:\n%s\n%s", code, out.String(), errb.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !strings.Contains(body, "oktaguard_events_ingested_total") {
		t.Fatalf("no scrape of the demo's /metrics:\n%s", out.String())
	}
	if code := <-done; code != 0 {
		t.Fatalf("demo exit %d: %s", code, errb.String())
	}
}
