package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo, with its defaults (60 s, 60 users), shows a live attack: once
// its backfill is done the simulator starts attacks, the live poller picks
// their events up and a detector fires on them (a "LIVE ALERT" line: an
// alert on an event published after the backfill). Its /metrics, scraped
// after that, counts more events than the backfill held: the count grew
// while live.
func TestDemoShowsLiveAttackAndServesMetrics(t *testing.T) {
	out := &lockedBuffer{}
	var errb lockedBuffer
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		done <- run(context.Background(), []string{"demo"}, strings.NewReader(""), out, &errb)
	}()
	urlRe := regexp.MustCompile(`metrics: (http://127\.0\.0\.1:\d+/metrics)`)
	backfillRe := regexp.MustCompile(`backfill done \((\d+) events\)`)
	liveRe := regexp.MustCompile(`(?m)^  LIVE ALERT .*$`)
	ingestedRe := regexp.MustCompile(`(?m)^oktaguard_events_ingested_total(?:\{[^}]*\})? (\d+)$`)
	var backfilled, scraped int
	var liveLine string
	// The demo itself ends after its default 60 s (counted from when the
	// simulated org is ready): everything must happen before it exits.
	for scraped == 0 {
		o := out.String()
		if m := backfillRe.FindStringSubmatch(o); m != nil && backfilled == 0 {
			backfilled, _ = strconv.Atoi(m[1])
		}
		if liveLine == "" && backfilled > 0 {
			if loc := backfillRe.FindStringIndex(o); loc != nil {
				liveLine = liveRe.FindString(o[loc[1]:])
			}
		}
		if m := urlRe.FindStringSubmatch(o); m != nil && liveLine != "" {
			if resp, err := http.Get(m[1]); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if mm := ingestedRe.FindStringSubmatch(string(b)); mm != nil {
					if n, _ := strconv.Atoi(mm[1]); n > backfilled {
						scraped = n
					}
				}
			}
		}
		if scraped > 0 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("demo ended (exit %d) after %s before a live alert and a /metrics scrape counting live events (backfill %d events, live alert %q, scraped %d):\n%s\n%s",
				code, time.Since(start).Round(time.Second), backfilled, liveLine, scraped, out.String(), errb.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Logf("after %s: %s; /metrics counts %d events (backfill %d)", time.Since(start).Round(time.Second), strings.TrimSpace(liveLine), scraped, backfilled)
	if code := <-done; code != 0 {
		t.Fatalf("demo exit %d: %s", code, errb.String())
	}
	o := out.String()
	sum := regexp.MustCompile(`live: (\d+) events after the backfill, live alerts (\d+) \(`).FindStringSubmatch(o)
	if sum == nil || sum[1] == "0" || sum[2] == "0" {
		t.Fatalf("summary lacks the live phase's events and alerts:\n%s", o)
	}
}
