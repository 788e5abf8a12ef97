package okta

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Observer receives per-request measurements. *metrics.Metrics satisfies
// it (and a nil *metrics.Metrics is a valid no-op observer).
type Observer interface {
	// OktaRequest counts one request; endpoint is "logs", "token" or
	// "management"; status 0 means no response.
	OktaRequest(endpoint string, status int)
	// RateLimitRemaining records X-Rate-Limit-Remaining of the logs bucket.
	RateLimitRemaining(v int)
}

type nopObserver struct{}

func (nopObserver) OktaRequest(string, int) {}
func (nopObserver) RateLimitRemaining(int)  {}

// recordingTransport counts every request per endpoint and status class,
// records rate-limit headers and the last token exchange. It
// never reads or logs the Authorization header or URL query strings.
type recordingTransport struct {
	base http.RoundTripper
	obs  Observer
	now  func() time.Time
	// maxBody caps every response body this client reads (pages, error
	// bodies, the OAuth token response): MaxResponseBody unless a test
	// lowers it.
	maxBody int64

	mu        sync.Mutex
	lastToken tokenExchange
}

type tokenExchange struct {
	status int
	header http.Header
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		// The SDK retries io.EOF by itself, immediately and without
		// counting the attempt; hide it so every retry goes through the
		// client's pacing and backoff.
		err = fmt.Errorf("connection closed by the server before a response (%v)", err.Error())
	}
	ep := EndpointFamily(req.URL.Path)
	status := 0
	var h http.Header
	if resp != nil {
		status = resp.StatusCode
		h = resp.Header.Clone()
		if resp.Body != nil {
			resp.Body = &cappedBody{rc: resp.Body, left: t.maxBody, max: t.maxBody}
		}
	}
	t.obs.OktaRequest(ep, status)
	if ep == "logs" && h != nil {
		if v, ok := headerInt(h, "X-Rate-Limit-Remaining"); ok && h.Get("X-Rate-Limit-Limit") != "0" {
			t.obs.RateLimitRemaining(v)
		}
	}
	if ep == "token" {
		t.mu.Lock()
		t.lastToken = tokenExchange{status: status, header: h}
		t.mu.Unlock()
	}
	return resp, err
}

// MaxResponseBody is the most this client reads of one response body: a
// System Log page of 1 000 events is a few MB, so 64 MiB is far above any
// real answer and keeps a broken or hostile endpoint (or anything between)
// from making the process read without end.
const MaxResponseBody = 64 << 20

// ErrBodyTooLarge is returned by a read past MaxResponseBody.
var ErrBodyTooLarge = errors.New("response body too large")

// cappedBody fails the read that would go past max bytes, instead of
// truncating silently: a cut page must not look like a complete one.
type cappedBody struct {
	rc        io.ReadCloser
	left, max int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.max)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), -1
		return n, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, b.max)
	}
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }

func (t *recordingTransport) takeToken() tokenExchange {
	t.mu.Lock()
	defer t.mu.Unlock()
	te := t.lastToken
	t.lastToken = tokenExchange{}
	return te
}

// EndpointFamily maps a request path to the metrics endpoint label:
// "logs" for the System Log, "token" for the OAuth token endpoint,
// "management" for everything else.
func EndpointFamily(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/v1/logs"):
		return "logs"
	case strings.HasPrefix(path, "/oauth2/") && strings.HasSuffix(path, "/token"):
		return "token"
	default:
		return "management"
	}
}

func headerInt(h http.Header, k string) (int, bool) {
	s := strings.TrimSpace(h.Get(k))
	if s == "" {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return v, true
}

func headerInt64(h http.Header, k string) (int64, bool) {
	s := strings.TrimSpace(h.Get(k))
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
