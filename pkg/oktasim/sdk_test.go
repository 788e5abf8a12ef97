package oktasim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/okta/okta-sdk-golang/v2/okta"
)

// headerRecorder wraps the simulator to observe request headers the SDK sends.
type headerRecorder struct {
	mu   sync.Mutex
	reqs []http.Header
	next http.Handler
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.reqs = append(h.reqs, r.Header.Clone())
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

func (h *headerRecorder) all() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.reqs...)
}

// sdkEnv runs the simulator on the real clock behind an httptest server.
func sdkEnv(t *testing.T, opts Options) (*Server, *httptest.Server, *headerRecorder) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := New(opts)
	rec := &headerRecorder{next: s.Handler()}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return s, ts, rec
}

func sswsClient(t *testing.T, orgURL, token string, retries int32) *okta.Client {
	t.Helper()
	_, c, err := okta.NewClient(context.Background(),
		okta.WithOrgUrl(orgURL),
		okta.WithToken(token),
		okta.WithCache(false),
		okta.WithTestingDisableHttpsCheck(true),
		okta.WithRateLimitMaxRetries(retries),
		okta.WithRateLimitMaxBackOff(5),
	)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func addRealTime(t *testing.T, s *Server, n int) []string {
	t.Helper()
	var ids []string
	now := time.Now()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sdk-%02d", i)
		ids = append(ids, id)
		if err := s.Add(ev(id, now.Add(-time.Duration(n-i)*time.Minute), "user.session.start")); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func pageUUIDs(t *testing.T, page []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, raw := range page {
		var h struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		out = append(out, h.UUID)
	}
	return out
}

func firstLogsRequest(t *testing.T, c *okta.Client) (*okta.RequestExecutor, *http.Request) {
	t.Helper()
	re := c.CloneRequestExecutor()
	since := url.QueryEscape(time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339))
	req, err := re.WithAccept("application/json").NewRequest(http.MethodGet, "/api/v1/logs?limit=2&sortOrder=ASCENDING&since="+since, nil)
	if err != nil {
		t.Fatal(err)
	}
	return re, req
}

func TestSDKPagingRawJSON(t *testing.T) {
	s, ts, _ := sdkEnv(t, Options{})
	ids := addRealTime(t, s, 5)
	c := sswsClient(t, ts.URL, testToken, 2)
	ctx := context.Background()
	re, req := firstLogsRequest(t, c)
	var page []json.RawMessage
	resp, err := re.Do(ctx, req, &page)
	if err != nil {
		t.Fatalf("first page: %v", err)
	}
	got := pageUUIDs(t, page)
	if resp.Header.Get("X-Rate-Limit-Remaining") != "59" {
		t.Fatalf("remaining %q", resp.Header.Get("X-Rate-Limit-Remaining"))
	}
	var sizes []int
	sizes = append(sizes, len(page))
	for i := 0; i < 5 && resp.HasNextPage(); i++ {
		var next []json.RawMessage // a fresh slice per page
		prevNext := resp.NextPage
		r2, err := resp.Next(ctx, &next)
		if err != nil {
			t.Fatalf("page %d: %v", i+2, err)
		}
		sizes = append(sizes, len(next))
		got = append(got, pageUUIDs(t, next)...)
		if len(next) == 0 {
			if r2.NextPage != prevNext {
				t.Fatalf("empty page changed NextPage %q -> %q", prevNext, r2.NextPage)
			}
			// A new event is delivered by re-polling the saved response.
			if err := s.Add(ev("sdk-new", time.Now(), "user.session.end")); err != nil {
				t.Fatal(err)
			}
			var after []json.RawMessage
			if _, err := resp.Next(ctx, &after); err != nil {
				t.Fatal(err)
			}
			if u := pageUUIDs(t, after); len(u) != 1 || u[0] != "sdk-new" {
				t.Fatalf("re-poll got %v", u)
			}
			break
		}
		resp = r2
	}
	if !equalStrings(got, ids) || fmt.Sprint(sizes) != "[2 2 1 0]" {
		t.Fatalf("got %v sizes %v", got, sizes)
	}
}

func TestSDKRetries429UsingHeaders(t *testing.T) {
	s, ts, rec := sdkEnv(t, Options{})
	addRealTime(t, s, 3)
	if err := s.Inject(Fault{Kind: FaultRateLimit, Count: 1}); err != nil {
		t.Fatal(err)
	}
	c := sswsClient(t, ts.URL, testToken, 3)
	re, req := firstLogsRequest(t, c)
	var page []json.RawMessage
	if _, err := re.Do(context.Background(), req, &page); err != nil {
		t.Fatalf("SDK did not retry the 429: %v", err)
	}
	if len(page) != 2 {
		t.Fatalf("page %d", len(page))
	}
	hs := rec.all()
	if len(hs) != 2 || hs[1].Get("X-Okta-Retry-Count") != "1" || hs[1].Get("X-Okta-Retry-For") == "" {
		t.Fatalf("retry headers: %d requests, %v", len(hs), hs[len(hs)-1])
	}
	st := s.Stats()
	if st.Faults[FaultRateLimit] != 1 || st.RateLimited != 1 || st.ByStatus[200] != 1 {
		t.Fatalf("stats %+v", st)
	}

	// Without reset headers the SDK gives up at once (permanent error).
	if err := s.Inject(Fault{Kind: FaultRateLimitNoReset}); err != nil {
		t.Fatal(err)
	}
	re, req = firstLogsRequest(t, c)
	if _, err := re.Do(context.Background(), req, &page); err == nil || !strings.Contains(err.Error(), "X-Rate-Limit-Reset") {
		t.Fatalf("want a permanent reset-header error, got %v", err)
	}
}

func TestSDKErrors(t *testing.T) {
	s, ts, _ := sdkEnv(t, Options{})
	addRealTime(t, s, 1)
	c := sswsClient(t, ts.URL, testToken, 1)
	ctx := context.Background()

	if err := s.Inject(Fault{Kind: FaultServerError}); err != nil {
		t.Fatal(err)
	}
	re, req := firstLogsRequest(t, c)
	var page []json.RawMessage
	_, err := re.Do(ctx, req, &page)
	var oe *okta.Error
	if !errors.As(err, &oe) || oe.ErrorCode != CodeInternal {
		t.Fatalf("500: %v", err)
	}

	bad := sswsClient(t, ts.URL, "not-the-token", 1)
	re, req = firstLogsRequest(t, bad)
	resp, err := re.Do(ctx, req, &page)
	if !errors.As(err, &oe) || oe.ErrorCode != CodeInvalidToken || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("401: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-token") {
		t.Fatal("token leaked into the error")
	}
}

func pkcs1PEM(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func privateKeyClient(t *testing.T, orgURL, clientID string, key *rsa.PrivateKey, kid string, scopes []string) *okta.Client {
	t.Helper()
	setters := []okta.ConfigSetter{
		okta.WithOrgUrl(orgURL),
		okta.WithAuthorizationMode("PrivateKey"),
		okta.WithClientId(clientID),
		okta.WithScopes(scopes),
		okta.WithPrivateKey(pkcs1PEM(key)),
		okta.WithCache(false),
		okta.WithTestingDisableHttpsCheck(true),
		okta.WithRateLimitMaxRetries(1),
	}
	if kid != "" {
		setters = append(setters, okta.WithPrivateKeyId(kid))
	}
	_, c, err := okta.NewClient(context.Background(), setters...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func TestSDKPrivateKeyAuth(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, ts, rec := sdkEnv(t, Options{})
	addRealTime(t, s, 3)
	s.RegisterOAuthClient("0oasimclient", &key.PublicKey, "kid1", []string{"okta.logs.read", "okta.users.read"})
	ctx := context.Background()

	c := privateKeyClient(t, ts.URL, "0oasimclient", key, "kid1", []string{"okta.logs.read"})
	re, req := firstLogsRequest(t, c)
	var page []json.RawMessage
	resp, err := re.Do(ctx, req, &page)
	if err != nil {
		t.Fatalf("logs with PrivateKey auth: %v", err)
	}
	var page2 []json.RawMessage
	if _, err := resp.Next(ctx, &page2); err != nil {
		t.Fatal(err)
	}
	if len(page)+len(page2) != 3 {
		t.Fatalf("events %d+%d", len(page), len(page2))
	}
	st := s.Stats()
	if st.TokensIssued != 1 || st.ByEndpoint[tokenPath] != 1 {
		t.Fatalf("want one token request for two calls: %+v", st)
	}
	if st.MaxLogsPerWindow[PrincipalForClient("0oasimclient")] != 2 {
		t.Fatalf("OAuth principal not used for rate limits: %v", st.MaxLogsPerWindow)
	}
	for _, h := range rec.all() {
		if a := h.Get("Authorization"); a != "" && !strings.HasPrefix(a, "Bearer sim.AT.") {
			t.Fatalf("unexpected Authorization scheme %q", strings.SplitN(a, " ", 2)[0])
		}
	}

	// The same key without a kid still verifies (single registered key).
	c2 := privateKeyClient(t, ts.URL, "0oasimclient", key, "", []string{"okta.logs.read"})
	re, req = firstLogsRequest(t, c2)
	if _, err := re.Do(ctx, req, &page); err != nil {
		t.Fatalf("no kid: %v", err)
	}

	// A scope the app was not granted: the token request (made by NewRequest) fails.
	c3 := privateKeyClient(t, ts.URL, "0oasimclient", key, "kid1", []string{"okta.logs.read", "okta.policies.read"})
	if _, err := c3.CloneRequestExecutor().NewRequest(http.MethodGet, "/api/v1/logs", nil); err == nil || !strings.Contains(err.Error(), "okta.policies.read") {
		t.Fatalf("ungranted scope: %v", err)
	}

	// A token without okta.logs.read: 403 insufficient_scope on logs.
	c4 := privateKeyClient(t, ts.URL, "0oasimclient", key, "kid1", []string{"okta.users.read"})
	re, req = firstLogsRequest(t, c4)
	resp, err = re.Do(ctx, req, &page)
	if err == nil || resp == nil || resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("insufficient scope: %v", err)
	}
	if !strings.Contains(err.Error(), "required scopes") {
		t.Fatalf("insufficient scope error text: %v", err)
	}

	// A key the simulator does not know.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c5 := privateKeyClient(t, ts.URL, "0oasimclient", other, "kid1", []string{"okta.logs.read"})
	if _, err := c5.CloneRequestExecutor().NewRequest(http.MethodGet, "/api/v1/logs", nil); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("wrong key: %v", err)
	}
	if strings.Contains(fmt.Sprint(s.Stats()), "BEGIN") {
		t.Fatal("key material in stats")
	}
}

func TestSDKPrivateKeyDPoPRequired(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, ts, _ := sdkEnv(t, Options{RequireDPoP: true})
	s.RegisterOAuthClient("0oadpop", &key.PublicKey, "k", []string{"okta.logs.read"})
	c := privateKeyClient(t, ts.URL, "0oadpop", key, "k", []string{"okta.logs.read"})
	re := c.CloneRequestExecutor()
	_, err = re.NewRequest(http.MethodGet, "/api/v1/logs", nil)
	if err == nil {
		t.Fatal("want invalid_dpop_proof from the token request")
	}
	if !strings.Contains(err.Error(), "DPoP") {
		t.Fatalf("error %v", err)
	}
}

// TestSDKRetriesRealBucketExhaustion exhausts a real (real-clock, 1 s)
// window: the SDK waits until X-Rate-Limit-Reset and its retry succeeds.
func TestSDKRetriesRealBucketExhaustion(t *testing.T) {
	s, ts, rec := sdkEnv(t, Options{RateLimitPerMinute: 2, PrincipalShare: 1, RateLimitWindow: time.Second})
	addRealTime(t, s, 6)
	c := sswsClient(t, ts.URL, testToken, 3)
	ctx := context.Background()
	re, req := firstLogsRequest(t, c)
	var page []json.RawMessage
	resp, err := re.Do(ctx, req, &page)
	if err != nil {
		t.Fatal(err)
	}
	total := len(page)
	for resp.HasNextPage() {
		var next []json.RawMessage
		r2, err := resp.Next(ctx, &next)
		if err != nil {
			t.Fatalf("SDK did not ride out the exhausted bucket: %v", err)
		}
		if len(next) == 0 {
			break
		}
		total += len(next)
		resp = r2
	}
	if total != 6 {
		t.Fatalf("read %d events", total)
	}
	st := s.Stats()
	if st.RateLimited == 0 {
		t.Fatal("the bucket was never exhausted; the test proves nothing")
	}
	retried := 0
	for _, h := range rec.all() {
		if h.Get("X-Okta-Retry-Count") != "" {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no SDK retry observed")
	}
}
