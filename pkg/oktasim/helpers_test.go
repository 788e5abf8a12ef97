package oktasim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const testToken = "00testTokenValue-abcdefghijklmnop"

func ev(uuid string, published time.Time, eventType string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"severity":"INFO","displayMessage":"User login to Okta",`+
		`"actor":{"id":"00u1","type":"User","alternateId":"alice@example.com","displayName":"Alice Example"},`+
		`"outcome":{"result":"SUCCESS","reason":null},"client":{"ipAddress":"198.51.100.7","zone":"null"},`+
		`"debugContext":{"debugData":{"requestUri":"/api/v1/authn","threatSuspected":"false"}},"target":null}`,
		uuid, published.UTC().Format("2006-01-02T15:04:05.000Z"), eventType))
}

type simEnv struct {
	sim   *Server
	ts    *httptest.Server
	clock *fakeClock
}

func newEnv(t *testing.T, opts Options) *simEnv {
	t.Helper()
	clk := newFakeClock(t0)
	if opts.Clock == nil {
		opts.Clock = clk.Now
	}
	if opts.Token == "" {
		opts.Token = testToken
	}
	s := New(opts)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &simEnv{sim: s, ts: ts, clock: clk}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) links() map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`^<([^>]*)>; rel="([a-z]+)"$`)
	for _, l := range r.header.Values("Link") {
		if m := re.FindStringSubmatch(l); m != nil {
			out[m[2]] = m[1]
		}
	}
	return out
}

func (r resp) uuids(t *testing.T) []string {
	t.Helper()
	var evs []struct {
		UUID string `json:"uuid"`
	}
	if err := json.Unmarshal(r.body, &evs); err != nil {
		t.Fatalf("page is not a JSON array: %v: %s", err, r.body)
	}
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.UUID
	}
	return out
}

func (r resp) oktaError(t *testing.T) OktaError {
	t.Helper()
	var e OktaError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not an Okta error body: %v: %s", err, r.body)
	}
	if e.ErrorID == "" || e.ErrorLink == "" || e.ErrorCauses == nil {
		t.Fatalf("incomplete Okta error body: %s", r.body)
	}
	return e
}

func (e *simEnv) do(t *testing.T, method, pathOrURL, authz string) resp {
	t.Helper()
	u := pathOrURL
	if strings.HasPrefix(u, "/") {
		u = e.ts.URL + u
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *simEnv) get(t *testing.T, pathOrURL string) resp {
	t.Helper()
	return e.do(t, http.MethodGet, pathOrURL, "SSWS "+testToken)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
