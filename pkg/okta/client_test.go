package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func TestNormalizeOrgURL(t *testing.T) {
	ok := []struct{ in, want string }{
		{"https://example.okta.com", "https://example.okta.com"},
		{"  https://Example.okta.com/  ", "https://example.okta.com"},
		{"example.okta.com", "https://example.okta.com"},
		{"example.okta.com//", "https://example.okta.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://127.5.6.7:1", "http://127.5.6.7:1"},
		{"http://localhost:9000/", "http://localhost:9000"},
		{"http://[::1]:9000", "http://[::1]:9000"},
		{"https://10.0.0.1:8443", "https://10.0.0.1:8443"},
	}
	for _, c := range ok {
		u, err := NormalizeOrgURL(c.in)
		if err != nil {
			t.Errorf("NormalizeOrgURL(%q): %v", c.in, err)
			continue
		}
		if u.String() != c.want {
			t.Errorf("NormalizeOrgURL(%q) = %q, want %q", c.in, u, c.want)
		}
	}
	bad := []struct{ in, mention string }{
		{"", "empty"},
		{"http://example.okta.com", "https is required except for a loopback"},
		{"http://10.0.0.1", "https is required"},
		{"http://localhost.evil.com", "https is required"},
		{"ftp://example.okta.com", "only https"},
		{"https://example.okta.com/oauth2/default", "must not have a path"},
		{"https://example.okta.com?x=1", "query"},
		{"https://user:pw@example.okta.com", "user info"},
		{"https://example-admin.okta.com", "-admin"},
		{"https://", "no host"},
		{"https://:443", "no host"},
		{"https://x.okta.com:", "empty port"},
	}
	for _, c := range bad {
		_, err := NormalizeOrgURL(c.in)
		if err == nil {
			t.Errorf("NormalizeOrgURL(%q): no error", c.in)
			continue
		}
		if !errors.Is(err, ErrOrgURL) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("NormalizeOrgURL(%q) = %v, want mention of %q", c.in, err, c.mention)
		}
		if strings.Contains(err.Error(), "pw@") {
			t.Errorf("error leaks user info: %v", err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := Config{OrgURL: "https://x.okta.com", APIToken: "tok-secret-123"}.WithDefaults()
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		name    string
		mut     func(*Config)
		mention string
	}{
		{"no creds", func(c *Config) { c.APIToken = "" }, "no credentials"},
		{"both", func(c *Config) { c.OAuth = &OAuthConfig{ClientID: "x"} }, "not both"},
		{"backfill too long", func(c *Config) { c.Backfill = 91 * 24 * time.Hour }, "more than 90 days"},
		{"share", func(c *Config) { c.RateLimitShare = 1.5 }, "rateLimitShare"},
		{"limit", func(c *Config) { c.PageLimit = 5000 }, "okta.pageLimit"},
		{"http", func(c *Config) { c.OrgURL = "http://x.okta.com" }, "okta.orgUrl"},
	}
	for _, tc := range cases {
		c := base
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: got %v, want mention %q", tc.name, err, tc.mention)
		}
		if err != nil && strings.Contains(err.Error(), "tok-secret-123") {
			t.Errorf("%s: error leaks the token", tc.name)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v", base, base, base); strings.Contains(s, "tok-secret-123") {
		t.Errorf("Config formatting leaks the token: %s", s)
	}
}

func TestPagingFollowsNextLosslessly(t *testing.T) {
	f := newFakeOkta(t, 25)
	c := testClient(t, f, nil)
	p := NewLogPoller(c)
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	page1, err := p.Poll(t.Context(), Cursor{Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.paths[0], "sortOrder=ASCENDING") || !strings.Contains(f.paths[0], "limit=10") || !strings.Contains(f.paths[0], "since=2025-01-01T00%3A00%3A00.000Z") || strings.Contains(f.paths[0], "until") {
		t.Fatalf("first request %q lacks the polling parameters", f.paths[0])
	}
	if len(page1.Events) != 10 || !page1.Full || page1.Next == "" || !strings.HasPrefix(page1.Next, f.srv.URL) {
		t.Fatalf("page1: %d events full=%v next=%q", len(page1.Events), page1.Full, page1.Next)
	}
	// Unknown fields survive (device, changeDetails, rootSessionId).
	if !bytes.Contains(page1.Events[0], []byte(`"rootSessionId":"r0"`)) || !bytes.Contains(page1.Events[0], []byte(`changeDetails`)) {
		t.Fatalf("raw event lost fields: %s", page1.Events[0])
	}
	page2, err := p.Poll(t.Context(), Cursor{Next: page1.Next})
	if err != nil {
		t.Fatal(err)
	}
	// The first page's slice must not have been overwritten by the second.
	if got := uuidsOf(t, page1.Events)[0]; got != "u-0" {
		t.Fatalf("page 1 overwritten: first uuid %q", got)
	}
	if got := uuidsOf(t, page2.Events)[0]; got != "u-10" {
		t.Fatalf("page 2 first uuid %q", got)
	}
	page3, err := p.Poll(t.Context(), Cursor{Next: page2.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(page3.Events) != 5 || page3.Full {
		t.Fatalf("page3: %d events full=%v", len(page3.Events), page3.Full)
	}
	// Empty page keeps a next link; re-polling it after new events arrive
	// must hit the server again (cache off) and return them.
	page4, err := p.Poll(t.Context(), Cursor{Next: page3.Next})
	if err != nil || len(page4.Events) != 0 || page4.Next == "" {
		t.Fatalf("page4: %v %d %q", err, len(page4.Events), page4.Next)
	}
	before := f.requests()
	f.add(3)
	page5, err := p.Poll(t.Context(), Cursor{Next: page4.Next})
	if err != nil {
		t.Fatal(err)
	}
	if f.requests() != before+1 || len(page5.Events) != 3 {
		t.Fatalf("re-poll: requests %d->%d, events %d (cache must be off)", before, f.requests(), len(page5.Events))
	}
	if rl := c.RateLimit(LogsPath); rl.Limit != 6000 || rl.Budget != 3000 {
		t.Fatalf("rate limit state %+v", rl)
	}
}

func TestRetryableFaultsRecover(t *testing.T) {
	faults := map[string]func(w http.ResponseWriter, r *http.Request) bool{
		"5xx E0000009": func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			fmt.Fprint(w, `{"errorCode":"E0000009","errorSummary":"Internal Server Error"}`)
			return true
		},
		"503 html": func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			fmt.Fprint(w, `<html>down</html>`)
			return true
		},
		"truncated body": func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "5000")
			w.WriteHeader(200)
			fmt.Fprint(w, `[{"uuid":"u-0","publ`)
			return true
		},
		"malformed json": func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `[{"uuid":"u-0"},,]`)
			return true
		},
		"slow": func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			return true
		},
		"connection reset": func(w http.ResponseWriter, r *http.Request) bool {
			hj, ok := w.(http.Hijacker)
			if !ok {
				return false
			}
			conn, _, _ := hj.Hijack()
			conn.Close()
			return true
		},
		"429 without reset": func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Del("X-Rate-Limit-Reset")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
			return true
		},
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			f := newFakeOkta(t, 5)
			var logs bytes.Buffer
			c := testClient(t, f, func(c *Config) { c.RequestTimeout = 300 * time.Millisecond },
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			f.inject(fault)
			f.inject(fault)
			page, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now().Add(-time.Hour)})
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			if got := uuidsOf(t, page.Events); len(got) != 5 || got[0] != "u-0" {
				t.Fatalf("events %v", got)
			}
			if f.requests() != 3 {
				t.Fatalf("want 3 requests (2 faults + success), got %d", f.requests())
			}
			mustNotContainSecret(t, "logs", logs.String(), f.token)
			if !strings.Contains(logs.String(), "/api/v1/logs") {
				t.Fatalf("retries were not logged: %s", logs.String())
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	f := newFakeOkta(t, 5)
	c := testClient(t, f, nil)
	for i := 0; i < 10; i++ {
		f.inject(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(500)
			fmt.Fprint(w, `{"errorCode":"E0000009","errorSummary":"took too long"}`)
			return true
		})
	}
	_, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrRetriesExhausted) || !strings.Contains(err.Error(), "E0000009") || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("err = %v", err)
	}
	if f.requests() != 4 {
		t.Fatalf("requests = %d, want MaxAttempts=4", f.requests())
	}
}

func fail500(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(500)
	fmt.Fprint(w, `{"errorCode":"E0000009","errorSummary":"took too long"}`)
	return true
}

func TestGetRawOnceDoesNotRetry(t *testing.T) {
	f := newFakeOkta(t, 5)
	c := testClient(t, f, nil)
	for i := 0; i < 4; i++ {
		f.inject(fail500)
	}
	var page []json.RawMessage
	_, err := c.GetRawOnce(t.Context(), "/api/v1/logs?limit=1", &page)
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") || errors.Is(err, ErrRetriesExhausted) {
		t.Fatalf("err = %v, want the classified 500", err)
	}
	if f.requests() != 1 {
		t.Fatalf("requests = %d, want 1", f.requests())
	}
}

// TestDrainStopsRetriesAfterParentEnds: a draining request finishes its
// attempt in flight but starts no retry once its parent context ends, and
// returns that attempt's failure, not a bare context error.
func TestDrainStopsRetriesAfterParentEnds(t *testing.T) {
	f := newFakeOkta(t, 5)
	c := testClient(t, f, nil)
	parent, cancel := context.WithCancel(t.Context())
	f.inject(func(w http.ResponseWriter, r *http.Request) bool {
		cancel() // the shutdown starts while this attempt is in flight
		return fail500(w, r)
	})
	for i := 0; i < 4; i++ {
		f.inject(fail500)
	}
	start := time.Now()
	_, err := NewLogPoller(c).PollDraining(t.Context(), parent, Cursor{Since: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("err = %v, want the attempt's 500", err)
	}
	if f.requests() != 1 {
		t.Fatalf("requests = %d: retried after the parent ended", f.requests())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %s", d)
	}
}

// TestDeadlineNamesTheLastFailure: a deadline hit while retrying wraps
// what the retries were about, so callers can classify it.
func TestDeadlineNamesTheLastFailure(t *testing.T) {
	f := newFakeOktaInProcess(t, 5)
	c := outsideBubble(t, f)
	synctest.Test(t, func(t *testing.T) {
		f.inject(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("X-Rate-Limit-Remaining", "0")
			w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(time.Now().Add(30*time.Second).Unix()))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
			return true
		})
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := NewLogPoller(c).Poll(ctx, Cursor{Since: time.Now()})
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("err = %v, want the deadline wrapping the 429 being waited out", err)
		}
		if took := time.Since(start); took != time.Second {
			t.Fatalf("gave up after %s, want at the 1 s deadline (the 429's wait is 31 s)", took)
		}
	})
}

func Test429HonoursResetAgainstServerDate(t *testing.T) {
	f := newFakeOktaInProcess(t, 3)
	c := outsideBubble(t, f)
	synctest.Test(t, func(t *testing.T) {
		f.inject(func(w http.ResponseWriter, r *http.Request) bool {
			// Server clock is an hour ahead of ours: only Reset-Date counts.
			d := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
			w.Header().Set("Date", d.Format(http.TimeFormat))
			w.Header().Set("X-Rate-Limit-Remaining", "0")
			w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(d.Unix()+1))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(429)
			fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
			return true
		})
		if _, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if len(f.hits) != 2 {
			t.Fatalf("hits %d", len(f.hits))
		}
		// reset - date + 1s = 2s, on the bubble's clock exactly
		if gap := f.hits[1].Sub(f.hits[0]); gap != 2*time.Second {
			t.Fatalf("retry after %s, want 2s (Reset - Date + 1s)", gap)
		}
	})
}

func TestUnauthorizedIsClearAndNotRetried(t *testing.T) {
	f := newFakeOkta(t, 3)
	var logs bytes.Buffer
	bad := "00BAD-revoked-token-abcdefghijklmnop"
	c := testClient(t, f, func(c *Config) { c.APIToken = bad }, WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	_, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "API token invalid or revoked") || !strings.Contains(msg, "E0000011") || !strings.Contains(msg, "401") {
		t.Fatalf("unclear message: %s", msg)
	}
	mustNotContainSecret(t, "error", msg, bad, f.token)
	mustNotContainSecret(t, "logs", logs.String(), bad)
	if f.requests() != 1 {
		t.Fatalf("401 was retried: %d requests", f.requests())
	}
}

func TestInsufficientScopeNamesScope(t *testing.T) {
	f := newFakeOkta(t, 3)
	c := testClient(t, f, nil)
	f.inject(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="http://x/oauth2/v1/authorize", realm="http://x", scope="okta.logs.read", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="/api/v1/logs"`)
		w.WriteHeader(403)
		return true
	})
	_, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()})
	if !errors.Is(err, ErrInsufficientScope) || !strings.Contains(err.Error(), "okta.logs.read") {
		t.Fatalf("err = %v", err)
	}
}

func TestCursorErrors(t *testing.T) {
	f := newFakeOkta(t, 3)
	c := testClient(t, f, nil)
	p := NewLogPoller(c)
	for _, next := range []string{
		f.srv.URL + "/api/v1/logs?after=garbage&limit=10",
		"https://other.okta.com/api/v1/logs?after=1",
		f.srv.URL + "/api/v1/users?after=1",
		"::not a url",
	} {
		_, err := p.Poll(t.Context(), Cursor{Next: next})
		if !errors.Is(err, ErrCursor) {
			t.Errorf("cursor %q: err = %v, want ErrCursor", next, err)
		}
	}
	// Only the first reached the server; a foreign host is never contacted.
	if f.requests() != 1 {
		t.Fatalf("requests = %d", f.requests())
	}
}

// TestPacingKeepsShare drives the pacer with a fake clock: a client that
// starts every request as early as the pacer allows never starts more than
// its budget (share 0.5 of 600/min = 300) in any one-minute window, and a
// start a millisecond before the pacer's slot is refused. (It measured the
// gaps between request arrivals at a fake server before: scheduling delays
// of the requests in flight, not the pacer, made that fail under load.)
func TestPacingKeepsShare(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(at time.Time) { mu.Lock(); clock = at; mu.Unlock() }
	p := newPacer(0.5, time.Minute, 0, time.Millisecond, time.Millisecond, now)
	h := http.Header{"X-Rate-Limit-Limit": {"600"}, "X-Rate-Limit-Remaining": {"599"}}
	refused, cancel := context.WithCancel(t.Context())
	cancel() // wait with a cancelled context: nil when the slot is open, an error when it would have to sleep
	var starts []time.Time
	for i := 0; i < 1000; i++ {
		p.mu.Lock()
		slot := p.nextAt
		p.mu.Unlock()
		if i > 0 {
			set(slot.Add(-time.Millisecond))
			if err := p.wait(refused); err == nil {
				t.Fatalf("request %d started 1ms before its slot", i)
			}
		}
		if slot.After(now()) {
			set(slot)
		}
		if err := p.wait(refused); err != nil {
			t.Fatalf("request %d refused at its slot: %v", i, err)
		}
		starts = append(starts, now())
		p.observe(200, h, now())
	}
	if b := p.budgetLocked(); b != 300 {
		t.Fatalf("budget %d, want 300", b)
	}
	for i, j := 0, 0; i < len(starts); i++ {
		for j < len(starts) && starts[j].Sub(starts[i]) < time.Minute {
			j++
		}
		if n := j - i; n > 300 {
			t.Fatalf("%d request starts in the minute after %s; share allows 300", n, starts[i].Format(time.TimeOnly))
		}
	}
	// ... and not far below it: at least 85 % of the budget (the pacer keeps a
	// margin of 2 % + 20 ms per request: 224 ms, not 200 ms, here)
	if n := len(starts) - 1; starts[n].Sub(starts[0]) > time.Duration(float64(n)/300*float64(time.Minute)/0.85) {
		t.Fatalf("%d starts took %s: pacing far below the share", n+1, starts[n].Sub(starts[0]))
	}
	// The client reports the same budget after a real response.
	f := newFakeOkta(t, 20)
	f.limit = 600
	c := testClient(t, f, nil)
	if _, err := NewLogPoller(c).Poll(t.Context(), Cursor{Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if rl := c.RateLimit(LogsPath); rl.Budget != 300 {
		t.Fatalf("budget %d, want 300", rl.Budget)
	}
}

// TestPacingSpacesFromTheSend: a request that goes out late after its slot
// (a busy concurrency semaphore, a loaded scheduler) pushes the next slot
// back, so the two arrive at least one spacing apart.
func TestPacingSpacesFromTheSend(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	p := newPacer(0.5, time.Minute, 0, time.Millisecond, time.Millisecond, now)
	p.observe(200, http.Header{"X-Rate-Limit-Limit": {"600"}}, now())
	if err := p.wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	spacing := p.spacingLocked()
	late := clock.Add(5 * time.Second)
	mu.Lock()
	clock = late
	mu.Unlock()
	p.sent(late)
	p.mu.Lock()
	next := p.nextAt
	p.mu.Unlock()
	if want := late.Add(spacing); !next.Equal(want) {
		t.Fatalf("next slot %s after a send at %s; want %s (one spacing of %s after the send)", next.Format(time.StampMilli), late.Format(time.StampMilli), want.Format(time.StampMilli), spacing)
	}
}

func TestReserveWaitsForReset(t *testing.T) {
	f := newFakeOktaInProcess(t, 30)
	c := outsideBubble(t, f)
	synctest.Test(t, func(t *testing.T) {
		f.inject(func(w http.ResponseWriter, r *http.Request) bool {
			d := time.Now().UTC().Truncate(time.Second)
			w.Header().Set("Date", d.Format(http.TimeFormat))
			w.Header().Set("X-Rate-Limit-Remaining", "10") // <= 10% of 6000
			w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(d.Unix()+1))
			return false
		})
		p := NewLogPoller(c)
		pg, err := p.Poll(t.Context(), Cursor{Since: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Poll(t.Context(), Cursor{Next: pg.Next}); err != nil {
			t.Fatal(err)
		}
		// Remaining at the reserve: the next request waits for the reset
		// (1 s after Date) and one second more, on the bubble's clock
		// exactly (it starts on a whole second).
		if gap := f.hits[1].Sub(f.hits[0]); gap != 2*time.Second {
			t.Fatalf("second request after %s although Remaining was at the reserve; want 2s (Reset - Date + 1s)", gap)
		}
	})
}

func TestOneRequestInFlight(t *testing.T) {
	f := newFakeOkta(t, 3)
	inflight, maxIn := 0, 0
	ch := make(chan struct{}, 10)
	for i := 0; i < 5; i++ {
		f.inject(func(w http.ResponseWriter, r *http.Request) bool {
			f.mu.Lock()
			inflight++
			if inflight > maxIn {
				maxIn = inflight
			}
			f.mu.Unlock()
			// Hold the request until a second one arrives (the failure)
			// or 100 ms pass: the absence of a concurrent request cannot
			// be waited for, only given time to show.
			testwait.For(100*time.Millisecond, func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return inflight > 1
			})
			f.mu.Lock()
			inflight--
			f.mu.Unlock()
			ch <- struct{}{}
			return false
		})
	}
	c := testClient(t, f, nil)
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() {
			var v []json.RawMessage
			_, err := c.GetRaw(context.Background(), "/api/v1/logs?limit=1", &v)
			errs <- err
		}()
	}
	for i := 0; i < 5; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if maxIn != 1 {
		t.Fatalf("max in flight %d", maxIn)
	}
}

func TestGetRawRefusesForeignHost(t *testing.T) {
	f := newFakeOkta(t, 1)
	c := testClient(t, f, nil)
	var v json.RawMessage
	if _, err := c.GetRaw(t.Context(), "https://evil.example.com/api/v1/users", &v); err == nil || !strings.Contains(err.Error(), "not the configured org") {
		t.Fatalf("err = %v", err)
	}
	if _, err := c.GetRaw(t.Context(), "/api/v1/logs", nil); err != nil {
		t.Fatalf("nil v: %v", err)
	}
	var notPtr []json.RawMessage
	if _, err := c.GetRaw(t.Context(), "/api/v1/logs", notPtr); err == nil {
		t.Fatal("non-pointer accepted")
	}
}

func TestParseLinks(t *testing.T) {
	got := parseLinks([]string{`<https://x/api/v1/logs?a=1>; rel="self", <https://x/api/v1/logs?after=2>; rel="next"`})
	if got["self"] != "https://x/api/v1/logs?a=1" || got["next"] != "https://x/api/v1/logs?after=2" {
		t.Fatalf("comma-joined: %v", got)
	}
	got = parseLinks([]string{`<https://x/s>; rel="self"`, `<https://x/n>; rel="next"`})
	if got["self"] != "https://x/s" || got["next"] != "https://x/n" {
		t.Fatalf("separate: %v", got)
	}
	if got := parseLinks([]string{`garbage`, ``}); len(got) != 0 {
		t.Fatalf("garbage: %v", got)
	}
}

func TestAuthParam(t *testing.T) {
	h := `Bearer realm="x", scope="okta.users.read", error="insufficient_scope", error_description="no"`
	if authParam(h, "scope") != "okta.users.read" || authParam(h, "error") != "insufficient_scope" || authParam(h, "missing") != "" {
		t.Fatal("authParam")
	}
}

// GetRaw refuses a target that is not a non-nil pointer before any request
// (a programming error is not retried as a bad body).
func TestGetRawNeedsPointer(t *testing.T) {
	f := newFakeOkta(t, 5)
	c := testClient(t, f, nil)
	var nilSlice *[]json.RawMessage
	for _, v := range []any{[]json.RawMessage{}, nilSlice, 3} {
		if _, err := c.GetRaw(t.Context(), "/api/v1/logs", v); err == nil || !strings.Contains(err.Error(), "needs a non-nil pointer") {
			t.Errorf("%T: err = %v", v, err)
		}
	}
	if n := f.requests(); n != 0 {
		t.Fatalf("%d requests made", n)
	}
	var got []json.RawMessage
	if _, err := c.GetRaw(t.Context(), "/api/v1/logs", &got); err != nil {
		t.Fatalf("pointer: %v", err)
	}
}
