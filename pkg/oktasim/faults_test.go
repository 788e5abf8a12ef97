package oktasim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func (e *simEnv) firstNext(t *testing.T) string {
	t.Helper()
	r := e.get(t, "/api/v1/logs?limit=2")
	if r.status != 200 {
		t.Fatalf("first page %d", r.status)
	}
	return r.links()["next"]
}

func TestFaultRateLimitStorm(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "f", 3, t0.Add(-time.Minute), time.Second, "x")
	if err := e.sim.Inject(Fault{Kind: FaultRateLimit, Count: 3, ResetAfter: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r := e.get(t, "/api/v1/logs")
		if r.status != 429 || r.oktaError(t).ErrorCode != CodeRateLimit {
			t.Fatalf("storm %d: %d", i, r.status)
		}
		if hdrInt(t, r, "X-Rate-Limit-Remaining") != 0 || hdrInt(t, r, "X-Rate-Limit-Reset") != t0.Add(5*time.Second).Unix() ||
			hdrInt(t, r, "X-Rate-Limit-Limit") != 60 {
			t.Fatalf("storm headers %v", r.header)
		}
	}
	r := e.get(t, "/api/v1/logs")
	if r.status != 200 || hdrInt(t, r, "X-Rate-Limit-Remaining") != 59 {
		t.Fatalf("after storm (storm must not consume the bucket): %d %v", r.status, r.header.Get("X-Rate-Limit-Remaining"))
	}
	st := e.sim.Stats()
	if st.Faults[FaultRateLimit] != 3 || st.RateLimited != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultRateLimitNoReset(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.sim.Inject(Fault{Kind: FaultRateLimitNoReset}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/api/v1/logs")
	if r.status != 429 || r.header.Get("X-Rate-Limit-Reset") != "" || r.header.Get("X-Rate-Limit-Limit") != "" || r.header.Get("Date") == "" {
		t.Fatalf("no-reset 429: %d %v", r.status, r.header)
	}
}

func TestFaultConcurrencyInjected(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.sim.Inject(Fault{Kind: FaultConcurrency}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/api/v1/logs")
	if r.status != 429 || r.header.Get("X-Rate-Limit-Limit") != "0" || r.header.Get("X-Rate-Limit-Remaining") != "0" || r.header.Get("X-Rate-Limit-Reset") == "" {
		t.Fatalf("concurrency 429: %d %v", r.status, r.header)
	}
	if st := e.sim.Stats(); st.ConcurrencyRejected != 1 || st.Faults[FaultConcurrency] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func (s *Server) inflight(bucket string) int {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	return s.rl.inflight[bucket]
}

func TestRealConcurrencyLimitWithSlowFault(t *testing.T) {
	e := newEnv(t, Options{RateLimitEvents: true})
	if err := e.sim.Inject(Fault{Kind: FaultSlow, Delay: time.Second}); err != nil {
		t.Fatal(err)
	}
	done := make(chan resp, 1)
	go func() { done <- e.get(t, "/api/v1/logs") }()
	testwait.Until(t, 30*time.Second, "the slow request to be in flight", func() bool { return e.sim.inflight(logsPath) > 0 })
	r := e.get(t, "/api/v1/logs")
	if r.status != 429 || r.header.Get("X-Rate-Limit-Limit") != "0" || r.header.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("second in-flight request: %d %v", r.status, r.header)
	}
	// Management endpoints have their own in-flight allowance.
	if r := e.get(t, "/api/v1/users"); r.status != 404 {
		t.Fatalf("mgmt during logs in-flight: %d", r.status)
	}
	if first := <-done; first.status != 200 {
		t.Fatalf("slow request: %d", first.status)
	}
	if st := e.sim.Stats(); st.ConcurrencyRejected != 1 || st.Faults[FaultSlow] != 1 {
		t.Fatalf("stats %+v", st)
	}
	// The violation is written to the System Log (RateLimitEvents).
	if e.sim.EventCount() != 1 {
		t.Fatalf("want one core.concurrency.org.limit.violation event, have %d", e.sim.EventCount())
	}
	if r := e.get(t, "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "core.concurrency.org.limit.violation"`)); len(r.uuids(t)) != 1 {
		t.Fatalf("concurrency event not served: %s", r.body)
	}
	// Unlimited when disabled.
	e2 := newEnv(t, Options{MaxConcurrentLogs: -1})
	if err := e2.sim.Inject(Fault{Kind: FaultSlow, Delay: 500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	go func() { done <- e2.get(t, "/api/v1/logs") }()
	testwait.Until(t, 30*time.Second, "the slow request to be in flight", func() bool { return e2.sim.inflight(logsPath) > 0 })
	if r := e2.get(t, "/api/v1/logs"); r.status != 200 {
		t.Fatalf("disabled concurrency limit: %d", r.status)
	}
	<-done
}

func TestFaultServerErrors(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.sim.Inject(Fault{Kind: FaultServerError}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Inject(Fault{Kind: FaultUnavailable}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/api/v1/logs")
	if r.status != 500 || r.oktaError(t).ErrorCode != CodeInternal || !strings.Contains(string(r.body), "took too long") {
		t.Fatalf("500: %d %s", r.status, r.body)
	}
	r = e.get(t, "/api/v1/logs")
	if r.status != 503 {
		t.Fatalf("503: %d %s", r.status, r.body)
	}
	r.oktaError(t)
	if r := e.get(t, "/api/v1/logs"); r.status != 200 {
		t.Fatalf("after faults: %d", r.status)
	}
	st := e.sim.Stats()
	if st.Faults[FaultServerError] != 1 || st.Faults[FaultUnavailable] != 1 || st.ByStatus[500] != 1 || st.ByStatus[503] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultTruncatedBody(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "t", 20, t0.Add(-time.Minute), time.Second, "x")
	if err := e.sim.Inject(Fault{Kind: FaultTruncated}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/logs", nil)
	req.Header.Set("Authorization", "SSWS "+testToken)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("want unexpected EOF, got %v after %d bytes", err, len(b))
	}
	if res.StatusCode != 200 || res.ContentLength <= int64(len(b)) {
		t.Fatalf("status %d content-length %d read %d", res.StatusCode, res.ContentLength, len(b))
	}
	if r := e.get(t, "/api/v1/logs"); r.status != 200 || len(r.uuids(t)) != 20 {
		t.Fatalf("after truncation: %d", r.status)
	}
	if st := e.sim.Stats(); st.Faults[FaultTruncated] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultMalformedBody(t *testing.T) {
	for _, n := range []int{0, 5} {
		e := newEnv(t, Options{})
		addN(t, e.sim, "m", n, t0.Add(-time.Minute), time.Second, "x")
		if err := e.sim.Inject(Fault{Kind: FaultMalformed}); err != nil {
			t.Fatal(err)
		}
		r := e.get(t, "/api/v1/logs")
		var v []json.RawMessage
		if r.status != 200 || json.Unmarshal(r.body, &v) == nil {
			t.Fatalf("n=%d: want 200 with invalid JSON, got %d %s", n, r.status, r.body)
		}
		if r.links()["next"] == "" {
			t.Fatalf("malformed page keeps its Link headers")
		}
	}
}

func TestFaultEmptyPage(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "e", 5, t0.Add(-time.Minute), time.Second, "x")
	next := e.firstNext(t)
	if err := e.sim.Inject(Fault{Kind: FaultEmptyPage}); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, next)
	if string(r.body) != "[]" || r.links()["next"] != next {
		t.Fatalf("empty page fault: %s next %q want %q", r.body, r.links()["next"], next)
	}
	r = e.get(t, next)
	if got := r.uuids(t); !equalStrings(got, []string{"e-002", "e-003"}) {
		t.Fatalf("after empty-page fault: %v", got)
	}
	// Bounded requests are not hit by the empty-page fault.
	if err := e.sim.Inject(Fault{Kind: FaultEmptyPage}); err != nil {
		t.Fatal(err)
	}
	b := e.get(t, "/api/v1/logs?since="+url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))+"&until="+url.QueryEscape(t0.Format(time.RFC3339)))
	if len(b.uuids(t)) != 5 || e.sim.PendingFaults() != 1 {
		t.Fatalf("bounded request consumed the empty-page fault")
	}
}

func TestFaultCursorExpired(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "c", 5, t0.Add(-time.Minute), time.Second, "x")
	if err := e.sim.Inject(Fault{Kind: FaultCursorExpired}); err != nil {
		t.Fatal(err)
	}
	next := e.firstNext(t) // no `after`: untouched
	r := e.get(t, next)
	if r.status != 400 || r.oktaError(t).ErrorCode != CodeValidation || !strings.Contains(string(r.body), "after") {
		t.Fatalf("expired cursor: %d %s", r.status, r.body)
	}
	// Recovery with since works.
	if r := e.get(t, "/api/v1/logs?since="+url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))); r.status != 200 {
		t.Fatalf("recovery: %d", r.status)
	}
}

func TestFaultTokenRevoked(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.sim.Inject(Fault{Kind: FaultTokenRevoked}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		r := e.get(t, "/api/v1/logs")
		if r.status != 401 || r.oktaError(t).ErrorSummary != "Invalid token provided" {
			t.Fatalf("revoked %d: %d", i, r.status)
		}
	}
	if st := e.sim.Stats(); st.Faults[FaultTokenRevoked] != 1 || st.ByStatus[401] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultTargetingAndProbability(t *testing.T) {
	e := newEnv(t, Options{DefaultLimit: 10000, RateLimitPerMinute: 10000})
	// Default path: logs only; mgmt untouched.
	if err := e.sim.Inject(Fault{Kind: FaultServerError}); err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, "/api/v1/users"); r.status != 404 {
		t.Fatalf("mgmt hit by a logs fault: %d", r.status)
	}
	if r := e.get(t, "/api/v1/logs"); r.status != 500 {
		t.Fatalf("logs fault: %d", r.status)
	}
	// "*" hits any path, including the token endpoint.
	if err := e.sim.Inject(Fault{Kind: FaultUnavailable, Path: "*", Count: 2}); err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, "/api/v1/users"); r.status != 503 {
		t.Fatalf("* on mgmt: %d", r.status)
	}
	if r := e.do(t, http.MethodPost, tokenPath, ""); r.status != 503 {
		t.Fatalf("* on token: %d", r.status)
	}
	// Prefix targeting.
	if err := e.sim.Inject(Fault{Kind: FaultServerError, Path: "/api/v1/policies"}); err != nil {
		t.Fatal(err)
	}
	if r := e.get(t, "/api/v1/logs"); r.status != 200 {
		t.Fatalf("logs hit by a policies fault: %d", r.status)
	}
	if r := e.get(t, "/api/v1/policies?type=OKTA_SIGN_ON"); r.status != 500 {
		t.Fatalf("policies fault: %d", r.status)
	}
	// Probability 1 with a count.
	if err := e.sim.Inject(Fault{Kind: FaultServerError, Probability: 1, Count: 2}); err != nil {
		t.Fatal(err)
	}
	codes := []int{e.get(t, "/api/v1/logs").status, e.get(t, "/api/v1/logs").status, e.get(t, "/api/v1/logs").status}
	if codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("probabilistic count: %v", codes)
	}
	// Probability 0.5, unlimited: some hit, some not; ClearFaults stops it.
	if err := e.sim.Inject(Fault{Kind: FaultServerError, Probability: 0.5}); err != nil {
		t.Fatal(err)
	}
	hits := 0
	for i := 0; i < 200; i++ {
		if e.get(t, "/api/v1/logs").status == 500 {
			hits++
		}
	}
	if hits < 50 || hits > 150 {
		t.Fatalf("p=0.5 gave %d/200", hits)
	}
	e.sim.ClearFaults()
	for i := 0; i < 20; i++ {
		if e.get(t, "/api/v1/logs").status != 200 {
			t.Fatal("fault after ClearFaults")
		}
	}
	for _, bad := range []Fault{{Kind: "nope"}, {Kind: FaultSlow, Probability: 2}, {Kind: FaultSlow, Count: -1}} {
		if err := e.sim.Inject(bad); err == nil {
			t.Fatalf("Inject(%+v) accepted", bad)
		}
	}
}
