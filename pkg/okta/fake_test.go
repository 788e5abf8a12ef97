package okta

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOkta is a small System Log server for this package's unit tests:
// integer cursors, separate self/next Link headers, rate-limit headers
// and a scripted fault queue. (The full simulator lives in pkg/oktasim.)
type fakeOkta struct {
	t      *testing.T
	srv    *httptest.Server // nil when served in process
	url    string
	token  string
	limit  int // X-Rate-Limit-Limit
	mu     sync.Mutex
	events []json.RawMessage
	faults []func(w http.ResponseWriter, r *http.Request) bool
	hits   []time.Time
	paths  []string
	auths  []string
	// per-minute window accounting
	windowStart time.Time
	used        int
}

func newFakeOkta(t *testing.T, n int) *fakeOkta {
	f := &fakeOkta{t: t, token: "00FAKE-token-value-0123456789abcdef", limit: 6000}
	for i := 0; i < n; i++ {
		f.events = append(f.events, fakeEvent(i))
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.url = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeOktaInProcess is newFakeOkta without a socket: testClient sends
// its client's requests straight to the handler (inProcess). Inside a
// testing/synctest bubble every wait of the client (pacing, 429 blocks,
// backoff) then runs on the bubble's fake clock, which jumps ahead when
// everything waits, so a test about time asserts exact durations and
// takes none (a real server's accept loop would keep the clock still).
func newFakeOktaInProcess(t *testing.T, n int) *fakeOkta {
	f := &fakeOkta{t: t, token: "00FAKE-token-value-0123456789abcdef", limit: 6000, url: "http://127.0.0.1:9"}
	for i := 0; i < n; i++ {
		f.events = append(f.events, fakeEvent(i))
	}
	return f
}

// inProcess is a RoundTripper that answers through f.serve directly.
type inProcess struct{ f *fakeOkta }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	in := r.Clone(r.Context())
	in.Host, in.RequestURI = r.URL.Host, r.URL.RequestURI()
	rec := httptest.NewRecorder()
	p.f.serve(rec, in)
	res := rec.Result()
	res.Request = r
	return res, nil
}

func fakeEvent(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"uuid":"u-%d","published":"2025-01-01T00:00:%02d.000Z","eventType":"user.session.start","rootSessionId":"r%d","device":{"id":"d"},"target":[{"changeDetails":{"from":{"a":1}}}]}`, i, i%60, i))
}

func (f *fakeOkta) add(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < n; i++ {
		f.events = append(f.events, fakeEvent(len(f.events)))
	}
}

func (f *fakeOkta) inject(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.faults = append(f.faults, fn)
	f.mu.Unlock()
}

func (f *fakeOkta) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hits)
}

func (f *fakeOkta) rlHeaders(w http.ResponseWriter, now time.Time) {
	if now.Sub(f.windowStart) >= time.Minute {
		f.windowStart, f.used = now, 0
	}
	f.used++
	rem := f.limit - f.used
	if rem < 0 {
		rem = 0
	}
	w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(f.limit))
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(rem))
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(f.windowStart.Add(time.Minute).Unix(), 10))
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	w.Header().Set("X-Okta-Request-Id", "req-"+strconv.Itoa(len(f.hits)))
}

func (f *fakeOkta) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	f.mu.Lock()
	f.hits = append(f.hits, now)
	f.paths = append(f.paths, r.URL.RequestURI())
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	var fault func(w http.ResponseWriter, r *http.Request) bool
	if len(f.faults) > 0 {
		fault = f.faults[0]
		f.faults = f.faults[1:]
	}
	f.rlHeaders(w, now)
	f.mu.Unlock()
	if fault != nil && fault(w, r) {
		return
	}
	if r.Header.Get("Authorization") != "SSWS "+f.token {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		fmt.Fprint(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"x","errorCauses":[]}`)
		return
	}
	if r.URL.Path != "/api/v1/logs" {
		w.WriteHeader(404)
		return
	}
	q := r.URL.Query()
	limit := 100
	if l, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = l
	}
	start := 0
	if a := q.Get("after"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			fmt.Fprint(w, `{"errorCode":"E0000001","errorSummary":"Api validation failed: after"}`)
			return
		}
		start = n
	}
	f.mu.Lock()
	end := start + limit
	if end > len(f.events) {
		end = len(f.events)
	}
	if start > end {
		start = end
	}
	page := append([]json.RawMessage{}, f.events[start:end]...)
	f.mu.Unlock()
	base := "http://" + r.Host
	nq := q
	nq.Set("after", strconv.Itoa(end))
	w.Header().Add("Link", "<"+base+r.URL.RequestURI()+`>; rel="self"`)
	w.Header().Add("Link", "<"+base+"/api/v1/logs?"+nq.Encode()+`>; rel="next"`)
	w.Header().Set("Content-Type", "application/json")
	b, _ := json.Marshal(page)
	w.Write(b)
}

// testClient builds a client against f with fast backoff.
func testClient(t *testing.T, f *fakeOkta, mut func(*Config), opts ...Option) *Client {
	t.Helper()
	cfg := Config{OrgURL: f.url, APIToken: f.token, PageLimit: 10, RequestTimeout: 2 * time.Second, MaxAttempts: 4}
	if mut != nil {
		mut(&cfg)
	}
	opts = append([]Option{WithRetryBackoff(5*time.Millisecond, 40*time.Millisecond)}, opts...)
	if f.srv == nil {
		opts = append(opts, WithTransport(inProcess{f}))
	}
	c, err := NewClient(t.Context(), cfg, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// outsideBubble builds the client for a synctest test before the bubble
// starts: the SDK's client starts a cache janitor goroutine that never
// ends, which a bubble refuses to leave behind. The client's waits still
// run on the bubble's clock: they read time.Now and make their timers when
// called, inside the bubble.
func outsideBubble(t *testing.T, f *fakeOkta, opts ...Option) *Client {
	t.Helper()
	if f.srv != nil {
		t.Fatal("outsideBubble wants an in-process fake (newFakeOktaInProcess)")
	}
	return testClient(t, f, nil, opts...)
}

func uuidsOf(t *testing.T, raws []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range raws {
		var v struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatalf("bad raw event %s: %v", r, err)
		}
		out = append(out, v.UUID)
	}
	return out
}

func mustNotContainSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && strings.Contains(s, sec) {
			t.Fatalf("%s contains a secret: %q", what, s)
		}
	}
}
