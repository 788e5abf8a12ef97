package pipeline

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
)

// rewriteFirstPage serves sim and passes the body of the first System Log
// page (the request without after=) through rewrite; every other response is
// the simulator's own.
func rewriteFirstPage(t *testing.T, sim *oktasim.Server, rewrite func([]byte) []byte) string {
	t.Helper()
	h := sim.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/logs" || r.URL.Query().Get("after") != "" {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			body = rewrite(body)
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A poisoned event (nested 20,000 levels deep: past encoding/json's depth
// limit, so a page decoded whole would fail) in the middle of a page is
// rejected alone: the events after it on the same page are stored and the
// poisoned one is counted and logged.
func TestPoisonedEventInMiddleOfPage(t *testing.T) {
	sim := oktasim.New(oktasim.Options{Token: testToken, RateLimitPerMinute: 100000})
	good := genEvents(21, 150, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
	if err := sim.Add(good...); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(-30 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	poison := `{"uuid":"poison-deep-0001","published":"` + ts + `","eventType":"user.session.start","debugContext":{"debugData":{"x":` +
		strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}}`
	var wholePageErr error
	url := rewriteFirstPage(t, sim, func(body []byte) []byte {
		els, err := event.SplitArray(body)
		if err != nil || len(els) < 10 {
			t.Errorf("simulator page: %v (%d events)", err, len(els))
			return body
		}
		mid := len(els) / 2
		out := append([]json.RawMessage{}, els[:mid]...)
		out = append(out, json.RawMessage(poison))
		out = append(out, els[mid:]...)
		var parts [][]byte
		for _, e := range out {
			parts = append(parts, e)
		}
		page := append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']')
		var whole []json.RawMessage
		wholePageErr = json.Unmarshal(page, &whole)
		return page
	})
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	if err := runUntil(t, p, 30*time.Second, func(st Status) bool { return st.BackfillDone && st.EventsIngested == 150 }); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if wholePageErr == nil {
		t.Fatal("the poisoned page decodes whole with encoding/json: the test does not poison")
	}
	if st := p.Status(); st.Rejected != 1 || st.PagesSkipped != 0 {
		t.Fatalf("rejected %d, pages skipped %d; want 1 and 0", st.Rejected, st.PagesSkipped)
	}
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 150 {
		t.Fatalf("stored %d events, want all 150 good ones", got)
	}
	if !strings.Contains(logs.String(), "uuid=poison-deep-0001") || !strings.Contains(logs.String(), "nesting too deep") {
		t.Fatalf("the poisoned event was not logged with its cause:\n%s", logs.String())
	}
}

// A page that cannot be split into events is retried MaxAttempts times,
// then stepped past on its next link: its events are counted as lost and
// logged, and the pages after it are ingested.
func TestUnsplittablePageSkippedAfterRetries(t *testing.T) {
	sim := oktasim.New(oktasim.Options{Token: testToken, RateLimitPerMinute: 100000})
	good := genEvents(22, 150, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
	if err := sim.Add(good...); err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	url := rewriteFirstPage(t, sim, func(body []byte) []byte {
		served.Add(1)
		return body[:len(body)-1] // the closing ']' is missing
	})
	dir := t.TempDir()
	logs := &syncBuffer{}
	s := testSettings(t, url, dir)
	s.Okta.MaxAttempts = 3
	p := newTestPipeline(t, s, logs)
	defer p.Close()
	if err := runUntil(t, p, 30*time.Second, func(st Status) bool { return st.PagesSkipped == 1 && st.EventsIngested == 50 }); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if served.Load() != 3 {
		t.Fatalf("the broken page was served %d times, want MaxAttempts=3", served.Load())
	}
	if got := len(storedUUIDs(t, s.Storage.Path)); got != 50 {
		t.Fatalf("stored %d events, want the 50 after the skipped page", got)
	}
	if !strings.Contains(logs.String(), "System Log page skipped") || !strings.Contains(logs.String(), "array not closed") {
		t.Fatalf("the skipped page was not logged with its cause:\n%s", logs.String())
	}
}

// Each way the decoder rejects an event is counted under a reason the
// metric declares; a published time before 1970 (which the stores'
// bucketing cannot hold) is a bad time, like one that does not parse.
func TestRejectReasons(t *testing.T) {
	for raw, want := range map[string]string{
		`{"uuid":"u","eventType":"x"}`:                                              "missing_field",
		`{"uuid":"u","published":"yesterday","eventType":"x"}`:                      "bad_time",
		`{"uuid":"u","published":"1969-12-31T23:59:59.999Z","eventType":"x"}`:       "bad_time",
		`{"uuid":"u","published":"2024-01-02T03:04:05Z","eventType":"x","actor":[}`: "malformed",
	} {
		_, err := event.Decode([]byte(raw))
		if err == nil {
			t.Fatalf("%s decoded", raw)
		}
		if got := rejectReason(err); got != want || !slices.Contains(metrics.RejectReasons, got) {
			t.Errorf("%s: reason %q, want %q (declared: %v)", raw, got, want, metrics.RejectReasons)
		}
	}
	if _, err := event.Decode([]byte(`{"uuid":"u","published":"1970-01-01T00:00:00.000Z","eventType":"x"}`)); err != nil {
		t.Fatalf("the epoch itself: %v", err)
	}
}
