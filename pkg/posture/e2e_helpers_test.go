package posture_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

// rateHeaders adds generous X-Rate-Limit-* headers, as Okta sends on every
// management response, so the client's pacer runs at full speed when the
// org is mounted without the simulator server.
func rateHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Limit", "1000000")
		w.Header().Set("X-Rate-Limit-Remaining", "999999")
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10))
		h.ServeHTTP(w, r)
	})
}

// fetchOrg serves org over a real HTTP server and reads a snapshot through
// pkg/okta's client (SSWS token).
func fetchOrg(t *testing.T, org *orgsim.Org) (posture.Snapshot, error) {
	t.Helper()
	return fetchFrom(t, org.Handler())
}

// fetchFrom reads a snapshot from any handler standing for an org.
func fetchFrom(t *testing.T, h http.Handler) (posture.Snapshot, error) {
	t.Helper()
	srv := httptest.NewServer(rateHeaders(h))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := okta.NewClient(ctx, okta.Config{OrgURL: srv.URL, APIToken: "00test-token-not-a-secret", RateLimitShare: 1, MaxAttempts: 2},
		okta.WithRetryBackoff(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return okta.FetchSnapshot(ctx, c)
}

func newOrg(t *testing.T, profile string, mut func(*orgsim.State)) *orgsim.Org {
	t.Helper()
	org, err := orgsim.New(profile)
	if err != nil {
		t.Fatal(err)
	}
	if mut != nil {
		org.Mutate(mut)
	}
	return org
}

func evaluate(t *testing.T, profile string, snap posture.Snapshot) posture.Report {
	t.Helper()
	p, err := posture.ProfileByName(profile)
	if err != nil {
		t.Fatal(err)
	}
	return posture.Evaluate(snap, p)
}

func mustCheck(t *testing.T, r posture.Report, id string) posture.CheckResult {
	t.Helper()
	c, ok := r.Check(id)
	if !ok {
		t.Fatalf("check %s missing from report", id)
	}
	return c
}

// TestMain raises -test.parallel (unless given): the simulator tests spend
// their time sleeping in the client's per-bucket pacing (≥ 20 ms between
// requests of one bucket), not on the CPU.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "24")
	}
	os.Exit(m.Run())
}
