// Package okta talks to one Okta org: authentication (SSWS API token or an
// OAuth 2.0 service app with private_key_jwt), System Log polling with a
// next-link cursor, rate-limit pacing and retries. It is built on
// okta-sdk-golang/v2's request executor, used losslessly: pages are read as
// raw JSON, the SDK cache is off and the SDK's own 429 retry is disabled
// so that every response passes through this package's pacer.
package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	oktasdk "github.com/okta/okta-sdk-golang/v2/okta"

	"github.com/oktaguard/oktaguard/pkg/retry"
)

// Client is a paced, retrying Okta API client for one org. At most one
// request is in flight at a time (Okta asks for one in-flight request per
// org on the logs endpoint). It is safe for concurrent use.
type Client struct {
	cfg    Config
	org    *url.URL
	orgStr string
	pkcs1  string // PKCS#1 PEM for the SDK (OAuth mode)
	log    *slog.Logger
	obs    Observer
	tr     *recordingTransport
	httpc  *http.Client
	scrub  secretScrubber
	now    func() time.Time

	backoffBase, backoffMax time.Duration

	sdkMu sync.Mutex
	sdk   *oktasdk.Client

	sem chan struct{}

	pmu    sync.Mutex
	pacers map[string]*pacer
}

// Option configures a Client.
type Option func(*options)

type options struct {
	logger      *slog.Logger
	obs         Observer
	base        http.RoundTripper
	backoffBase time.Duration
	backoffMax  time.Duration
	now         func() time.Time
}

// WithLogger sets the logger (default: discard). Log lines carry request
// paths and Okta error codes, never headers, tokens or keys.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithObserver sets the metrics observer (e.g. a *metrics.Metrics).
func WithObserver(obs Observer) Option { return func(o *options) { o.obs = obs } }

// WithTransport sets the base HTTP transport (default: a clone of
// http.DefaultTransport).
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.base = rt } }

// WithRetryBackoff sets the exponential backoff for retried failures and
// for 429s without reset headers (default 1s doubling to 60s, with jitter).
func WithRetryBackoff(base, max time.Duration) Option {
	return func(o *options) { o.backoffBase, o.backoffMax = base, max }
}

// NewClient validates cfg and builds the SDK client: cache off, SDK 429
// retries off (this client paces and retries itself), a header-recording
// transport, and the https check disabled only for a loopback http URL.
func NewClient(ctx context.Context, cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, newScrubber(cfg).scrub(err)
	}
	o := options{backoffBase: time.Second, backoffMax: time.Minute, now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.obs == nil {
		o.obs = nopObserver{}
	}
	if o.base == nil {
		o.base = http.DefaultTransport.(*http.Transport).Clone()
	}
	org, _ := NormalizeOrgURL(cfg.OrgURL)
	c := &Client{
		cfg:         cfg,
		org:         org,
		orgStr:      org.String(),
		log:         o.logger,
		obs:         o.obs,
		scrub:       newScrubber(cfg),
		now:         o.now,
		backoffBase: o.backoffBase,
		backoffMax:  o.backoffMax,
		sem:         make(chan struct{}, 1),
		pacers:      map[string]*pacer{},
	}
	if cfg.OAuth != nil {
		p, err := ToPKCS1PEM(cfg.OAuth.PrivateKeyPEM)
		if err != nil {
			return nil, c.scrub.scrub(fmt.Errorf("%s: %w", cfg.OAuth.keySetting(), err))
		}
		c.pkcs1 = string(p)
		c.scrub.secrets = append(c.scrub.secrets, pemBodyLines(c.pkcs1)...)
	}
	c.tr = &recordingTransport{base: o.base, obs: c.obs, now: c.now, maxBody: MaxResponseBody}
	// Backstop timeout: the SDK fetches OAuth tokens without a context.
	c.httpc = &http.Client{Transport: c.tr, Timeout: cfg.RequestTimeout}
	sdk, err := c.newSDK(ctx)
	if err != nil {
		return nil, err
	}
	c.sdk = sdk
	return c, nil
}

func pemBodyLines(p string) []string {
	var out []string
	for _, line := range strings.Split(p, "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

func (c *Client) newSDK(ctx context.Context) (*oktasdk.Client, error) {
	setters := []oktasdk.ConfigSetter{
		oktasdk.WithOrgUrl(c.orgStr),
		oktasdk.WithCache(false),
		oktasdk.WithHttpClientPtr(c.httpc),
		oktasdk.WithRateLimitMaxRetries(0),
		oktasdk.WithRateLimitMaxBackOff(65),
		oktasdk.WithRequestTimeout(0),
		oktasdk.WithUserAgentExtra("oktaguard"),
		oktasdk.WithTestingDisableHttpsCheck(c.org.Scheme == "http"),
	}
	if c.cfg.OAuth != nil {
		setters = append(setters,
			oktasdk.WithAuthorizationMode("PrivateKey"),
			oktasdk.WithToken(""),
			oktasdk.WithClientId(c.cfg.OAuth.ClientID),
			oktasdk.WithScopes(append([]string(nil), c.cfg.OAuth.Scopes...)),
			oktasdk.WithPrivateKey(c.pkcs1),
			oktasdk.WithPrivateKeyId(c.cfg.OAuth.KeyID),
		)
	} else {
		setters = append(setters,
			oktasdk.WithAuthorizationMode("SSWS"),
			oktasdk.WithToken(c.cfg.APIToken),
		)
	}
	_, sdk, err := oktasdk.NewClient(ctx, setters...)
	if err != nil {
		return nil, c.scrub.scrub(fmt.Errorf("okta: creating SDK client: %w", err))
	}
	return sdk, nil
}

// OrgURL returns the normalized org base URL (no trailing slash).
func (c *Client) OrgURL() *url.URL { u := *c.org; return &u }

// Config returns the effective configuration (defaults applied).
func (c *Client) Config() Config { return c.cfg }

// SDK returns the underlying okta-sdk-golang client (cache off). Requests
// made through it directly bypass this client's pacing and retries.
func (c *Client) SDK() *oktasdk.Client {
	c.sdkMu.Lock()
	defer c.sdkMu.Unlock()
	return c.sdk
}

// RateLimit returns the last rate-limit state of the bucket that path
// belongs to (e.g. "/api/v1/logs").
func (c *Client) RateLimit(path string) RateLimit {
	return c.pacerFor(path).state()
}

// PollJitter is a stable per-org offset in [0, d/10) used to spread the
// polls of several orgs.
func (c *Client) PollJitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(c.orgStr))
	span := int64(d / 10)
	if span <= 0 {
		return 0
	}
	return time.Duration(h.Sum64() % uint64(span)) // #nosec G115 -- span > 0, checked just above
}

func bucketKey(path string) string {
	segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	if len(segs) > 3 {
		segs = segs[:3]
	}
	return "/" + strings.Join(segs, "/")
}

func (c *Client) pacerFor(path string) *pacer {
	k := bucketKey(path)
	c.pmu.Lock()
	defer c.pmu.Unlock()
	p, ok := c.pacers[k]
	if !ok {
		p = newPacer(c.cfg.RateLimitShare, c.cfg.RateLimitWindow, c.cfg.RateLimitReserve, c.backoffBase, c.backoffMax, c.now)
		c.pacers[k] = p
	}
	return p
}

// Response is the metadata of a successful request.
type Response struct {
	Status    int
	Header    http.Header
	Self      string // absolute rel="self" link, if any
	Next      string // absolute rel="next" link, if any
	RateLimit RateLimit
	Attempts  int
}

// resolve turns a path ("/api/v1/users?limit=200") or an absolute URL on
// this org into the path+query the SDK expects. Absolute URLs of another
// host are refused so credentials never leave the org.
func (c *Client) resolve(target string) (string, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return "", errors.New("okta: empty request path")
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("okta: request URL cannot be parsed: %w", unwrapURLError(err))
	}
	if u.IsAbs() || u.Host != "" {
		if !strings.EqualFold(u.Scheme, c.org.Scheme) || !sameHost(u.Host, c.org.Host) {
			return "", fmt.Errorf("okta: refusing to request %s://%s: it is not the configured org %s", u.Scheme, u.Host, c.orgStr)
		}
	}
	if !strings.HasPrefix(u.Path, "/") {
		return "", fmt.Errorf("okta: request path %q must start with /", u.Path)
	}
	return u.RequestURI(), nil
}

func sameHost(a, b string) bool {
	ah, ap, err := net.SplitHostPort(a)
	if err != nil {
		ah, ap = a, ""
	}
	bh, bp, err := net.SplitHostPort(b)
	if err != nil {
		bh, bp = b, ""
	}
	return strings.EqualFold(ah, bh) && ap == bp
}

// absolute makes a link absolute against the org URL.
func (c *Client) absolute(link string) string {
	if link == "" {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return c.org.ResolveReference(u).String()
}

// GetRaw performs a paced, retried GET of target (a path such as
// "/api/v1/users?limit=200", or an absolute URL on this org such as a
// Response.Next link) and decodes the JSON body into v, which must be a
// pointer (use *[]json.RawMessage or *json.RawMessage to keep every
// field). v is reset before each attempt. 5xx, timeouts, broken bodies and
// 429s are retried; 401/403/4xx are returned at once as *APIError.
func (c *Client) GetRaw(ctx context.Context, target string, v any) (*Response, error) {
	if v != nil {
		// decoding null checks v before any request (a programming error
		// is not retried as a bad body) and resets it
		var inv *json.InvalidUnmarshalError
		if err := json.Unmarshal([]byte("null"), v); errors.As(err, &inv) {
			return nil, fmt.Errorf("okta: GetRaw needs a non-nil pointer, got %T", v)
		}
	}
	pq, err := c.resolve(target)
	if err != nil {
		return nil, err
	}
	resp, err := c.get(ctx, nil, pq, unmarshalInto(v), false)
	if err != nil {
		return nil, c.scrub.scrub(err)
	}
	return resp, nil
}

// unmarshalInto is the accept function of GetRaw: the body decoded into v
// (nothing when v is nil).
func unmarshalInto(v any) func([]byte) error {
	if v == nil {
		return nil
	}
	return func(b []byte) error { return json.Unmarshal(b, v) }
}

// GetRawOnce is GetRaw with a single attempt: a failure that GetRaw would
// retry (a network error, a 5xx, a 429) is returned at once, classified.
// Connection checks use it, so that they report the cause within their
// time budget instead of a deadline hit while retrying.
func (c *Client) GetRawOnce(ctx context.Context, target string, v any) (*Response, error) {
	pq, err := c.resolve(target)
	if err != nil {
		return nil, err
	}
	resp, err := c.get(ctx, nil, pq, unmarshalInto(v), true)
	if err != nil {
		return nil, c.scrub.scrub(err)
	}
	return resp, nil
}

func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() { <-c.sem }

func (c *Client) rebuildSDK(ctx context.Context) error {
	sdk, err := c.newSDK(ctx)
	if err != nil {
		return err
	}
	c.sdkMu.Lock()
	c.sdk = sdk
	c.sdkMu.Unlock()
	return nil
}

type verdict int

const (
	vPermanent verdict = iota
	vRetry
	vRetry429
	vReauth
)

// waitContext is ctx, ended early when drain ends (see
// LogPoller.PollDraining): for the waits between attempts, never for an
// attempt itself. A nil drain never ends.
func waitContext(ctx, drain context.Context) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(ctx)
	if drain == nil {
		return wctx, cancel
	}
	stop := context.AfterFunc(drain, cancel)
	return wctx, func() { stop(); cancel() }
}

func draining(drain context.Context) bool {
	return drain != nil && drain.Err() != nil
}

// stopped is ctx's error, wrapping the last attempt's failure when there
// was one: a caller whose deadline hit while retrying learns why the
// retries were going on (DNS, TLS, a 429 storm), not just "deadline".
func stopped(ctx context.Context, last *APIError) error {
	if last == nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w; last attempt: %w", ctx.Err(), last)
}

// attempt makes one request: the SDK's request executor builds it (URL,
// authorization, user agent; in OAuth mode it fetches or reuses the access
// token), this client's HTTP client sends it, and the body is read whole
// here, so that no decoding limit of the SDK can fail a page. Errors of a
// non-2xx response are parsed by the SDK's CheckResponseForError.
func (c *Client) attempt(ctx context.Context, pq string, p *pacer) (seen bool, status int, h http.Header, at time.Time, body []byte, err error, tokenPhase bool) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	re := c.SDK().CloneRequestExecutor().WithAccept("application/json")
	req, err := re.NewRequest(http.MethodGet, pq, nil)
	if err != nil {
		return false, 0, nil, time.Time{}, nil, err, true
	}
	p.sent(c.now())
	resp, err := c.httpc.Do(req.WithContext(actx))
	if err != nil {
		return false, 0, nil, time.Time{}, nil, err, false
	}
	defer resp.Body.Close()
	at = c.now()
	status, h = resp.StatusCode, resp.Header
	if err := oktasdk.CheckResponseForError(resp); err != nil {
		return true, status, h, at, nil, err, false
	}
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return true, status, h, at, nil, fmt.Errorf("reading the response body: %w", err), false
	}
	return true, status, h, at, body, nil, false
}

// get performs a paced, retried GET of pq. Once drain (nil: never) ends,
// no retry, backoff or rate-limit wait starts: the attempt in flight
// finishes and its failure is returned. accept, when set, checks (and
// keeps) the body of a 2xx response; its failure is retried like a broken
// body, and once the attempts are exhausted get returns the last such
// response along with an error wrapping ErrBadBody.
func (c *Client) get(ctx, drain context.Context, pq string, accept func([]byte) error, once bool) (*Response, error) {
	path := pq
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	p := c.pacerFor(path)
	attempts, n429, failures := 0, 0, 0
	reauthed := false
	var last *APIError
	var lastBad *Response
	wctx, stopWaits := waitContext(ctx, drain)
	defer stopWaits()
	for {
		if last != nil && draining(drain) {
			return nil, last
		}
		if until := p.blocked(); once && !until.IsZero() {
			// a single attempt does not wait out a 429 block: it reports it
			return nil, &APIError{Method: http.MethodGet, Path: path, Status: http.StatusTooManyRequests, Code: "E0000047",
				kind: ErrRateLimited, cause: fmt.Errorf("the org's rate limit for this endpoint resets at %s", until.UTC().Format(time.TimeOnly)+" UTC")}
		}
		if err := p.wait(wctx); err != nil {
			return nil, stopped(wctx, last)
		}
		if err := c.acquire(wctx); err != nil {
			return nil, stopped(wctx, last)
		}
		attempts++
		seen, status, h, at, body, err, tokenPhase := c.attempt(ctx, pq, p)
		c.release()
		if seen {
			p.observe(status, h, at)
		}
		if err == nil && seen && status >= 200 && status < 300 {
			out := &Response{Status: status, Header: h, RateLimit: p.state(), Attempts: attempts}
			links := parseLinks(h.Values("Link"))
			out.Self = c.absolute(links["self"])
			out.Next = c.absolute(links["next"])
			if accept == nil {
				return out, nil
			}
			aerr := accept(body)
			if aerr == nil {
				return out, nil
			}
			// The body arrived whole but is not what was asked for: retried
			// like a broken body, and after the last attempt the response
			// (its links) is returned with the error so that the caller
			// can step past it.
			lastBad = out
			err = badBody{aerr}
		}
		if err == nil {
			err = fmt.Errorf("unexpected response status %d", status)
		}
		if ctx.Err() != nil {
			return nil, stopped(ctx, last)
		}
		var ae *APIError
		var vd verdict
		if tokenPhase {
			ae, vd = c.classifyToken(err)
		} else {
			ae, vd = c.classify(path, seen, status, h, err)
		}
		ae.Method, ae.Path, ae.Attempts = http.MethodGet, path, attempts
		if !errors.Is(err, ErrBadBody) {
			lastBad = nil
		}
		last = ae
		if once && (vd == vRetry || vd == vRetry429) {
			return nil, ae
		}
		switch vd {
		case vPermanent:
			return nil, ae
		case vReauth:
			if reauthed {
				return nil, ae
			}
			reauthed = true
			c.log.Warn("okta: access token rejected, requesting a new one", "path", path)
			if err := c.rebuildSDK(ctx); err != nil {
				return nil, err
			}
			continue
		case vRetry429:
			n429++
			if n429 >= 4*c.cfg.MaxAttempts {
				last.kind, last.cause = ErrRetriesExhausted, errors.New("rate limited (HTTP 429) on every attempt")
				return nil, last
			}
			rl := p.state()
			c.log.Warn("okta: rate limited, waiting for the reset", "path", path, "limit", rl.Limit, "reset", rl.Reset.Format(time.RFC3339), "attempt", attempts)
			continue // the pacer holds the next attempt until reset + 1s
		case vRetry:
			failures++
			if failures >= c.cfg.MaxAttempts {
				exhausted := *ae
				exhausted.kind = ErrRetriesExhausted
				exhausted.cause = errors.New(ae.describe())
				if ae.cause != nil { // keep the chain reachable: errors.As finds a DNS or TLS error
					exhausted.cause = &redactedError{msg: ae.describe(), errs: []error{ae.cause}}
				}
				exhausted.Summary, exhausted.Code = "", ""
				if lastBad != nil && errors.Is(ae, ErrBadBody) {
					return lastBad, &exhausted
				}
				return nil, &exhausted
			}
			d := retry.Delay(failures, c.backoffBase, c.backoffMax)
			c.log.Warn("okta: request failed, retrying", "path", path, "error", c.scrub.scrub(ae).Error(), "attempt", attempts, "backoff", d.String())
			if err := retry.Sleep(wctx, d); err != nil {
				return nil, stopped(wctx, last)
			}
		}
	}
}

// badBody is an accept function's verdict on a body; it matches ErrBadBody.
type badBody struct{ err error }

func (b badBody) Error() string        { return b.err.Error() }
func (b badBody) Unwrap() error        { return b.err }
func (b badBody) Is(target error) bool { return target == ErrBadBody }

// describe is a short one-line cause used inside ErrRetriesExhausted.
func (e *APIError) describe() string {
	det := e.facts()
	if e.cause != nil {
		det = append(det, e.cause.Error())
	}
	return "last failure: " + strings.Join(det, " ")
}

func oktaErrorFields(err error) (code, summary string, ok bool) {
	var oe *oktasdk.Error
	if errors.As(err, &oe) {
		code = oe.ErrorCode
		if code == "" {
			code = oe.ErrorMessage
		}
		summary = oe.ErrorSummary
		if summary == "" {
			summary = oe.ErrorDescription
		}
		if i := strings.Index(summary, ", x-okta-request-id="); i >= 0 {
			summary = summary[:i]
		}
		return code, summary, true
	}
	return "", "", false
}

func (c *Client) classify(path string, seen bool, status int, h http.Header, err error) (*APIError, verdict) {
	ae := &APIError{Status: status}
	if h != nil {
		ae.RequestID = h.Get("X-Okta-Request-Id")
	}
	code, summary, isOkta := oktaErrorFields(err)
	ae.Code, ae.Summary = code, summary
	switch {
	case !seen || status == 0:
		ae.kind = errors.New("request failed")
		ae.cause = sanitizeTransportError(err)
		return ae, vRetry
	case status >= 200 && status < 300 && errors.Is(err, ErrBadBody):
		ae.kind = ErrBadBody
		ae.cause = err
		return ae, vRetry
	case status >= 200 && status < 300:
		ae.kind = errors.New("broken response body")
		ae.cause = sanitizeTransportError(err)
		return ae, vRetry
	case status == http.StatusTooManyRequests:
		ae.kind = ErrRateLimited
		ae.Code, ae.Summary = "E0000047", ""
		return ae, vRetry429
	case status == http.StatusUnauthorized:
		ae.kind = ErrUnauthorized
		if c.cfg.OAuth != nil {
			ae.Hint = "the OAuth access token was rejected: check that the service app is active and its key is registered"
			return ae, vReauth
		}
		ae.kind = &sentinelAlias{msg: "API token invalid or revoked", is: ErrUnauthorized}
		ae.Hint = "create a new token (Admin Console → Security → API → Tokens) and update okta.apiToken"
		return ae, vPermanent
	case status == http.StatusForbidden:
		wa := h.Get("Www-Authenticate")
		if strings.Contains(wa, "insufficient_scope") {
			ae.kind = ErrInsufficientScope
			ae.Scope = authParam(wa, "scope")
			if ae.Scope == "" {
				ae.Scope = ScopeFor(path)
			}
			ae.Code = "insufficient_scope"
			if ae.Summary == "" {
				ae.Summary = authParam(wa, "error_description")
			}
			scope := ae.Scope
			if scope == "" {
				scope = "the read scope of " + bucketKey(path)
			}
			ae.Hint = fmt.Sprintf("grant %s to the service app (Admin Console → Applications → the app → Okta API Scopes) and add it to okta.oauth.scopes", scope)
			return ae, vPermanent
		}
		ae.kind = ErrForbidden
		ae.Hint = "the principal's admin role cannot read this resource (a Read-Only Administrator role is enough)"
		return ae, vPermanent
	case status >= 500:
		ae.kind = errors.New("server error")
		if !isOkta {
			ae.cause = sanitizeTransportError(err)
		}
		return ae, vRetry
	case status == http.StatusRequestTimeout:
		ae.kind = errors.New("request timeout")
		return ae, vRetry
	default:
		ae.kind = errors.New("request rejected")
		if !isOkta {
			ae.cause = sanitizeTransportError(err)
		}
		return ae, vPermanent
	}
}

// sentinelAlias is an error with its own message that matches a sentinel.
type sentinelAlias struct {
	msg string
	is  error
}

func (s *sentinelAlias) Error() string        { return s.msg }
func (s *sentinelAlias) Is(target error) bool { return target == s.is }

func (c *Client) classifyToken(err error) (*APIError, verdict) {
	te := c.tr.takeToken()
	ae := &APIError{Status: te.status}
	if te.header != nil {
		ae.RequestID = te.header.Get("X-Okta-Request-Id")
	}
	code, summary, isOkta := oktaErrorFields(err)
	ae.Code, ae.Summary = code, summary
	switch {
	case code == "invalid_dpop_proof" || code == "use_dpop_nonce":
		ae.kind = ErrDPoP
		ae.Hint = "okta-sdk-golang v2 cannot send DPoP proofs: untick \"Require Demonstrating Proof of Possession (DPoP) header in token requests\" in the service app's General settings"
		return ae, vPermanent
	case code == "invalid_scope":
		ae.kind = ErrInsufficientScope
		ae.Hint = "grant the scopes in okta.oauth.scopes to the service app (Admin Console → Applications → the app → Okta API Scopes) or remove the ones it does not need"
		return ae, vPermanent
	case code == "invalid_client" || code == "unauthorized_client" || code == "invalid_grant" || code == "access_denied":
		ae.kind = &sentinelAlias{msg: "OAuth client authentication failed", is: ErrUnauthorized}
		ae.Hint = "check okta.oauth.clientId, that the app uses public key / private key client authentication, and that the public key (and keyId) registered in Okta matches the private key"
		return ae, vPermanent
	case te.status == http.StatusTooManyRequests || te.status >= 500:
		ae.kind = errors.New("token endpoint unavailable")
		return ae, vRetry
	case te.status == 0:
		var ue *url.Error
		if errors.As(err, &ue) {
			ae.kind = errors.New("token request failed")
			ae.cause = sanitizeTransportError(err)
			return ae, vRetry
		}
		ae.kind = errors.New("cannot build the OAuth client assertion")
		ae.cause = sanitizeTransportError(err)
		return ae, vPermanent
	case te.status >= 200 && te.status < 300:
		ae.kind = errors.New("broken token response")
		ae.cause = sanitizeTransportError(err)
		return ae, vRetry
	default:
		ae.kind = errors.New("token request rejected")
		if !isOkta {
			ae.cause = sanitizeTransportError(err)
		}
		return ae, vPermanent
	}
}

// authParam extracts name="value" from a WWW-Authenticate header.
func authParam(h, name string) string {
	i := strings.Index(h, name+"=")
	for i > 0 && h[i-1] != ' ' && h[i-1] != ',' {
		j := strings.Index(h[i+1:], name+"=")
		if j < 0 {
			return ""
		}
		i = i + 1 + j
	}
	if i < 0 {
		return ""
	}
	rest := h[i+len(name)+1:]
	if strings.HasPrefix(rest, `"`) {
		rest = rest[1:]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return rest[:j]
		}
		return rest
	}
	if j := strings.IndexAny(rest, ", "); j >= 0 {
		return rest[:j]
	}
	return rest
}

// ScopeFor names the OAuth read scope Okta requires for a System Log or
// user path ("" for any other path: the posture fetch knows the scope of
// each resource it reads, posture.ResourceScopes).
func ScopeFor(path string) string {
	switch k := bucketKey(path); {
	case strings.HasPrefix(k, "/api/v1/logs"):
		return LogsScope
	case strings.HasPrefix(k, "/api/v1/users"):
		return "okta.users.read"
	default:
		return ""
	}
}

// parseLinks returns rel -> URL from Link header values. It accepts both
// separate header lines (what Okta sends) and comma-joined values.
func parseLinks(values []string) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		for len(v) > 0 {
			v = strings.TrimLeft(v, " ,")
			if !strings.HasPrefix(v, "<") {
				break
			}
			end := strings.IndexByte(v, '>')
			if end < 0 {
				break
			}
			link := v[1:end]
			v = v[end+1:]
			params := v
			if next := strings.Index(v, ",<"); next >= 0 {
				params, v = v[:next], v[next:]
			} else if next := strings.Index(v, ", <"); next >= 0 {
				params, v = v[:next], v[next:]
			} else {
				v = ""
			}
			for _, p := range strings.Split(params, ";") {
				p = strings.TrimSpace(p)
				if strings.HasPrefix(strings.ToLower(p), "rel=") {
					rel := strings.Trim(p[4:], `"`)
					for _, r := range strings.Fields(rel) {
						if _, dup := out[r]; !dup {
							out[r] = link
						}
					}
				}
			}
		}
	}
	return out
}
