package oktasim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func hdrInt(t *testing.T, r resp, k string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(r.header.Get(k), 10, 64)
	if err != nil {
		t.Fatalf("header %s=%q: %v", k, r.header.Get(k), err)
	}
	return v
}

func TestCommonHeadersOnEveryResponse(t *testing.T) {
	e := newEnv(t, Options{})
	for _, r := range []resp{
		e.get(t, "/api/v1/logs"),
		e.do(t, http.MethodGet, "/api/v1/logs", "SSWS wrong"),
		e.do(t, http.MethodGet, "/api/v1/logs", ""),
		e.get(t, "/api/v1/logs?limit=5000"),
		e.get(t, "/api/v1/groups"),
	} {
		if r.header.Get("X-Okta-Request-Id") == "" {
			t.Errorf("status %d: no X-Okta-Request-Id", r.status)
		}
		d, err := http.ParseTime(r.header.Get("Date"))
		if err != nil || !d.Equal(t0) {
			t.Errorf("status %d: Date %q (want simulator clock %v)", r.status, r.header.Get("Date"), t0)
		}
		for _, k := range []string{"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} {
			hdrInt(t, r, k)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("status %d: content type %q", r.status, ct)
		}
	}
}

func TestRateLimitPrincipalShareAndWindow(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 10}) // principal ceiling 5
	var last resp
	for i := 0; i < 5; i++ {
		last = e.get(t, "/api/v1/logs")
		if last.status != 200 {
			t.Fatalf("request %d: %d", i, last.status)
		}
		if got := hdrInt(t, last, "X-Rate-Limit-Limit"); got != 5 {
			t.Fatalf("Limit %d want the principal ceiling 5", got)
		}
		if got := hdrInt(t, last, "X-Rate-Limit-Remaining"); got != int64(4-i) {
			t.Fatalf("request %d: Remaining %d", i, got)
		}
	}
	reset := hdrInt(t, last, "X-Rate-Limit-Reset")
	if reset != t0.Add(time.Minute).Unix() {
		t.Fatalf("Reset %d want %d", reset, t0.Add(time.Minute).Unix())
	}
	r := e.get(t, "/api/v1/logs")
	if r.status != 429 || r.oktaError(t).ErrorCode != CodeRateLimit {
		t.Fatalf("over the share: %d %s", r.status, r.body)
	}
	if hdrInt(t, r, "X-Rate-Limit-Remaining") != 0 || hdrInt(t, r, "X-Rate-Limit-Reset") != reset {
		t.Fatalf("429 headers: %v", r.header)
	}
	// A second principal has its own share of the same org bucket.
	e.sim.AddToken("second-token")
	for i := 0; i < 5; i++ {
		if r := e.do(t, http.MethodGet, "/api/v1/logs", "SSWS second-token"); r.status != 200 {
			t.Fatalf("second principal request %d: %d", i, r.status)
		}
	}
	// The org bucket (10) is now exhausted for a third principal.
	e.sim.AddToken("third-token")
	if r := e.do(t, http.MethodGet, "/api/v1/logs", "SSWS third-token"); r.status != 429 {
		t.Fatalf("org bucket exhausted: %d", r.status)
	}
	// Other endpoints have their own buckets.
	if r := e.get(t, "/api/v1/users"); r.status != 404 || hdrInt(t, r, "X-Rate-Limit-Limit") != 300 {
		t.Fatalf("users bucket: %d limit %s", r.status, r.header.Get("X-Rate-Limit-Limit"))
	}
	// The window resets.
	e.clock.Advance(time.Minute)
	r = e.get(t, "/api/v1/logs")
	if r.status != 200 || hdrInt(t, r, "X-Rate-Limit-Remaining") != 4 {
		t.Fatalf("after reset: %d remaining %s", r.status, r.header.Get("X-Rate-Limit-Remaining"))
	}
	st := e.sim.Stats()
	if st.RateLimited != 2 || st.ByStatus[429] != 2 {
		t.Fatalf("stats 429s: %+v", st)
	}
	if st.MaxLogsPerWindow[PrincipalForToken(testToken)] != 6 {
		t.Fatalf("sliding max %v", st.MaxLogsPerWindow)
	}
}

func TestPrincipalShareOverrideAndFullShare(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 10, PrincipalShare: 1})
	r := e.get(t, "/api/v1/logs")
	if hdrInt(t, r, "X-Rate-Limit-Limit") != 10 {
		t.Fatalf("share 1: %s", r.header.Get("X-Rate-Limit-Limit"))
	}
	e.sim.SetPrincipalShare(PrincipalForToken(testToken), 0.2)
	r = e.get(t, "/api/v1/logs")
	if hdrInt(t, r, "X-Rate-Limit-Limit") != 2 || hdrInt(t, r, "X-Rate-Limit-Remaining") != 0 {
		t.Fatalf("override 0.2: %v", r.header)
	}
	if r := e.get(t, "/api/v1/logs"); r.status != 429 {
		t.Fatalf("override not enforced: %d", r.status)
	}
}

func TestSlidingWindowStat(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 1000})
	// 10 requests at t0, 10 at t0+50s, 10 at t0+70s: the busiest sliding
	// minute holds 20 (t0..t0+50s and t0+50s..t0+70s).
	for _, at := range []time.Duration{0, 50 * time.Second, 20 * time.Second} {
		e.clock.Advance(at)
		for i := 0; i < 10; i++ {
			e.get(t, "/api/v1/logs")
		}
	}
	if got := e.sim.Stats().MaxLogsPerWindowAny; got != 20 {
		t.Fatalf("sliding max %d want 20", got)
	}
	byMin := e.sim.Stats().LogsByMinute
	if byMin[t0] != 20 || byMin[t0.Add(time.Minute)] != 10 || len(byMin) != 2 {
		t.Fatalf("per-minute counts %v", byMin)
	}
}

func TestRealClockWindow(t *testing.T) {
	// Real clock, short window: the limit holds and lifts after the window.
	s := New(Options{Token: testToken, RateLimitPerMinute: 4, RateLimitWindow: 300 * time.Millisecond})
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/logs", nil)
		req.Header.Set("Authorization", "SSWS "+testToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	start := time.Now()
	first := get()
	reset, _ := strconv.ParseInt(first.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	if now := time.Now().Unix(); reset < now || reset > now+2 {
		t.Fatalf("Reset %d not within the window from now %d", reset, now)
	}
	if get().StatusCode != 200 {
		t.Fatal("second request limited")
	}
	if got := get().StatusCode; got != 429 {
		t.Fatalf("third request (ceiling 2): %d", got)
	}
	// The limit lifts once the window has passed, and not before (a
	// rejected request does not count against the bucket).
	testwait.Until(t, 30*time.Second, "the limit to lift after the window", func() bool { return get().StatusCode == 200 })
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("the limit lifted after %s, inside the 300 ms window", took)
	}
}

func TestSSWSAuth(t *testing.T) {
	e := newEnv(t, Options{})
	for _, authz := range []string{"", "SSWS", "SSWS nope", "Bearer " + testToken, "Basic abc", "ssws " + testToken + "x"} {
		r := e.do(t, http.MethodGet, "/api/v1/logs", authz)
		if r.status != 401 {
			t.Fatalf("%q: status %d", authz, r.status)
		}
		oe := r.oktaError(t)
		if oe.ErrorCode != CodeInvalidToken || oe.ErrorSummary != "Invalid token provided" {
			t.Fatalf("%q: %+v", authz, oe)
		}
	}
	if r := e.do(t, http.MethodGet, "/api/v1/logs", "ssws "+testToken); r.status != 200 {
		t.Fatalf("scheme is case-insensitive: %d", r.status)
	}
	// 401s do not consume the bucket.
	if r := e.get(t, "/api/v1/logs"); hdrInt(t, r, "X-Rate-Limit-Remaining") != 58 {
		t.Fatalf("remaining %s", r.header.Get("X-Rate-Limit-Remaining"))
	}
	e.sim.RevokeToken()
	r := e.get(t, "/api/v1/logs")
	if r.status != 401 || r.oktaError(t).ErrorCode != CodeInvalidToken {
		t.Fatalf("revoked: %d %s", r.status, r.body)
	}
	e.sim.AddToken("rotated")
	if r := e.do(t, http.MethodGet, "/api/v1/logs", "SSWS rotated"); r.status != 200 {
		t.Fatalf("rotated token: %d", r.status)
	}
	e.sim.RevokeToken("rotated")
	if r := e.do(t, http.MethodGet, "/api/v1/logs", "SSWS rotated"); r.status != 401 {
		t.Fatalf("revoked rotated token: %d", r.status)
	}
}

func TestStartAndWellKnown(t *testing.T) {
	s := New(Options{OrgName: "acme"})
	if s.Token() == "" {
		t.Fatal("no generated token")
	}
	base, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != base {
		t.Fatalf("URL %q vs %q", s.URL(), base)
	}
	if _, err := s.Start(); err == nil {
		t.Fatal("second Start must fail")
	}
	res, err := http.Get(base + "/.well-known/okta-organization")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("well-known: %d", res.StatusCode)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/api/v1/logs"); err == nil {
		t.Fatal("server still serving after Close")
	}
}

func TestRateLimitSystemLogEvents(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 10, PrincipalShare: 1, RateLimitEvents: true})
	for i := 0; i < 13; i++ {
		e.get(t, "/api/v1/logs?limit=0")
	}
	types := func() map[string]int {
		e.clock.Advance(time.Minute) // new window so the poll below is allowed
		r := e.get(t, "/api/v1/logs?limit=1000&since=2026-03-01T00:00:00Z")
		var evs []struct {
			EventType string `json:"eventType"`
			Published string `json:"published"`
		}
		if err := json.Unmarshal(r.body, &evs); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		out := map[string]int{}
		for _, ev := range evs {
			out[ev.EventType]++
		}
		return out
	}
	got := types()
	if got["system.org.rate_limit.warning"] != 1 || got["system.org.rate_limit.violation"] != 1 || len(got) != 2 {
		t.Fatalf("events %v", got)
	}
	// Off by default.
	e2 := newEnv(t, Options{RateLimitPerMinute: 2, PrincipalShare: 1})
	for i := 0; i < 4; i++ {
		e2.get(t, "/api/v1/logs")
	}
	if e2.sim.EventCount() != 0 {
		t.Fatalf("events emitted with RateLimitEvents off: %v", e2.sim.UUIDs())
	}
}
