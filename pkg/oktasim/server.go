// Package oktasim is an Okta API simulator for tests, benchmarks and the
// demo: GET /api/v1/logs with Okta's polling and bounded semantics, SSWS and
// OAuth 2.0 (private_key_jwt) authentication, per-minute rate limits with a
// per-principal share, Okta-shaped errors and on-demand fault injection.
// Management API paths are delegated to Options.Mgmt behind the same auth,
// rate-limit and fault layers. See docs/simulator.md.
package oktasim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	logsPath  = "/api/v1/logs"
	tokenPath = "/oauth2/v1/token" // #nosec G101 -- a URL path, not a credential
	orgPath   = "/.well-known/okta-organization"
)

// Options configures a Server. The zero value is usable: every field has a
// documented default.
type Options struct {
	// OrgName is the org's display name, returned by
	// /.well-known/okta-organization. Default "oktaguard-sim".
	OrgName string
	// Addr is the listen address of Start. Default "127.0.0.1:0".
	Addr string
	// BaseURL, if set, is the absolute org URL used in Link headers and as
	// the expected OAuth assertion audience prefix. Default: derived from
	// each request (http://<Host>, https when TLS or X-Forwarded-Proto).
	BaseURL string
	// Token is the SSWS API token accepted in `Authorization: SSWS <token>`.
	// Default: a random token, readable with Server.Token().
	Token string
	// Clock is the simulator's time source (persistence times, since/until
	// defaults, retention, rate-limit windows, Date headers, token expiry).
	// Default time.Now.
	Clock func() time.Time
	// RateLimitPerMinute is the org-wide per-window bucket of /api/v1/logs.
	// Default 120 (Workforce Identity).
	RateLimitPerMinute int
	// PrincipalShare is the fraction of each bucket one principal (an SSWS
	// token or an OAuth client) may use. Default 0.5; values > 1 are 1.
	PrincipalShare float64
	// EndpointLimits sets the per-window bucket of other endpoints by path
	// prefix (longest prefix wins), e.g. {"/api/v1/users": 600}.
	EndpointLimits map[string]int
	// DefaultLimit is the bucket of endpoints not in EndpointLimits
	// (management paths and /oauth2/v1/token). Default 600.
	DefaultLimit int
	// RateLimitWindow is the length of a rate-limit window. Default one
	// minute. Shorter windows speed up real-clock tests.
	RateLimitWindow time.Duration
	// MaxConcurrentLogs is the org-wide number of in-flight /api/v1/logs
	// requests; one more gets 429 with Limit 0. Default 1; negative disables.
	MaxConcurrentLogs int
	// MaxConcurrent is the org-wide in-flight limit of every other endpoint
	// bucket. Default 75; negative disables.
	MaxConcurrent int
	// Retention is how far back (by published) events are served.
	// Default 90 days.
	Retention time.Duration
	// MaxEvents caps the events held in memory (for long-running demos):
	// beyond it the oldest-persisted events are dropped, and a cursor
	// pointing before them gets the cursor error. Default 0 = unlimited.
	MaxEvents int
	// MaxSinceAge rejects a `since` further back than this with 400
	// E0000053. Default 180 days.
	MaxSinceAge time.Duration
	// Mgmt serves every path the simulator does not handle itself (all but
	// /api/v1/logs, /oauth2/v1/token and /.well-known/okta-organization),
	// after authentication, scope check, rate limiting and faults. If it
	// implements ScopeDeclarer its scopes are used for OAuth callers. Nil
	// answers 404 E0000007.
	Mgmt http.Handler
	// RequireDPoP makes /oauth2/v1/token answer 400 invalid_dpop_proof to
	// any request without a DPoP proof (as an API Services app created with
	// "Require DPoP" does for SDK v2).
	RequireDPoP bool
	// AccessTokenTTL is the lifetime of issued access tokens. Default 1 h.
	AccessTokenTTL time.Duration
	// OAuthClients are registered at start, as RegisterOAuthClient does.
	OAuthClients []OAuthClient
	// RateLimitEvents makes the simulator write Okta's own rate-limit
	// events into its System Log, once per window and bucket each:
	// system.org.rate_limit.warning when 60 % of a bucket is used,
	// system.org.rate_limit.violation on the first 429 for an exhausted
	// bucket, core.concurrency.org.limit.violation on the first concurrency
	// 429. Default off.
	RateLimitEvents bool
	// Seed seeds probabilistic faults. Default 1.
	Seed int64
	// Logger, if set, receives one line per request: method, path (no
	// query), status, principal label and request id. Never a secret.
	Logger *slog.Logger
}

// OAuthClient is an OAuth 2.0 service app (private_key_jwt) known to the
// simulator.
type OAuthClient struct {
	ClientID  string
	PublicKey *rsa.PublicKey
	KeyID     string   // the JWK kid; "" if the key has none
	Scopes    []string // granted okta.* scopes
}

// ScopeDeclarer may be implemented by Options.Mgmt to declare the OAuth
// scope a management request needs (e.g. "okta.policies.read"). Returning ""
// falls back to the simulator's built-in table (docs/simulator.md).
type ScopeDeclarer interface {
	RequiredScope(r *http.Request) string
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	opts   Options
	events eventLog
	rl     *rateLimiter
	faults *faultQueue
	stats  *statsCollector
	auth   *authState
	dpopMu sync.Mutex // serialises DPoP proof jti bookkeeping on resource requests

	mu  sync.Mutex
	srv *http.Server
	ln  net.Listener
}

// New builds a Server from opts, filling defaults.
func New(opts Options) *Server {
	if opts.OrgName == "" {
		opts.OrgName = "oktaguard-sim"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.Token == "" {
		var b [24]byte
		_, _ = rand.Read(b[:])
		opts.Token = "00sim" + base64.RawURLEncoding.EncodeToString(b[:])
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.RateLimitPerMinute <= 0 {
		opts.RateLimitPerMinute = 120
	}
	if opts.PrincipalShare <= 0 {
		opts.PrincipalShare = 0.5
	}
	if opts.PrincipalShare > 1 {
		opts.PrincipalShare = 1
	}
	if opts.DefaultLimit <= 0 {
		opts.DefaultLimit = 600
	}
	if opts.RateLimitWindow <= 0 {
		opts.RateLimitWindow = time.Minute
	}
	if opts.MaxConcurrentLogs == 0 {
		opts.MaxConcurrentLogs = 1
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 75
	}
	if opts.Retention <= 0 {
		opts.Retention = 90 * 24 * time.Hour
	}
	if opts.MaxSinceAge <= 0 {
		opts.MaxSinceAge = 180 * 24 * time.Hour
	}
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	s := &Server{
		opts:   opts,
		rl:     newRateLimiter(opts.RateLimitWindow, opts.PrincipalShare),
		faults: newFaultQueue(opts.Seed),
		stats:  newStats(opts.RateLimitWindow),
		auth:   newAuthState(opts.Token),
	}
	s.events.maxEvents = opts.MaxEvents
	for _, c := range opts.OAuthClients {
		s.RegisterOAuthClient(c.ClientID, c.PublicKey, c.KeyID, c.Scopes)
	}
	return s
}

func (s *Server) now() time.Time { return s.opts.Clock() }

// Options returns the effective options (defaults filled in).
func (s *Server) Options() Options { return s.opts }

// Token returns the SSWS API token the simulator accepts (Options.Token or
// the generated one).
func (s *Server) Token() string { return s.opts.Token }

// Handler returns the simulator as an http.Handler (for httptest.NewServer
// or mounting in another server).
func (s *Server) Handler() http.Handler { return s }

// Start listens on Options.Addr (default 127.0.0.1:0) and serves in the
// background. It returns the base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Start() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("oktasim: server already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return "", fmt.Errorf("oktasim: listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.srv = srv
	// The goroutine uses its own copy: Close may clear s.srv at any time.
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// URL returns the base URL of a started server, or "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops a started server (closing open connections). It is a no-op
// if Start was not called.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Shutdown stops a started server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.ln = nil, nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Shutdown(ctx)
}

// PrincipalForToken is the rate-limit principal label of an SSWS token (a
// short hash: the token itself never appears in labels or stats).
func PrincipalForToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return "ssws:" + hex.EncodeToString(h[:6])
}

// PrincipalForClient is the rate-limit principal label of an OAuth client.
func PrincipalForClient(clientID string) string { return "oauth:" + clientID }

// baseURL returns the absolute org URL for this request.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.BaseURL != "" {
		return s.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// bucketFor maps a path to its rate-limit bucket and per-window limit.
func (s *Server) bucketFor(path string) (string, int) {
	if path == logsPath {
		return logsPath, s.opts.RateLimitPerMinute
	}
	best := ""
	for p := range s.opts.EndpointLimits {
		if strings.HasPrefix(path, p) && len(p) > len(best) {
			best = p
		}
	}
	if best != "" {
		return best, s.opts.EndpointLimits[best]
	}
	if path == tokenPath {
		return tokenPath, s.opts.DefaultLimit
	}
	// /api/v1/<resource>/... → /api/v1/<resource>
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 4)
	if len(parts) >= 3 {
		return "/" + strings.Join(parts[:3], "/"), s.opts.DefaultLimit
	}
	return path, s.opts.DefaultLimit
}

type ctxKey int

const principalKey ctxKey = 1

// PrincipalFromContext returns the authenticated principal label of a
// request handed to Options.Mgmt ("" if none).
func PrincipalFromContext(ctx context.Context) string {
	p, _ := ctx.Value(principalKey).(string)
	return p
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	reqID := newRequestID()
	bucket, limit := s.bucketFor(r.URL.Path)
	rep := newReply()
	principal := ""
	status := 0
	defer func() {
		if status == 0 {
			status = rep.status
		}
		s.stats.request(bucket, status)
		if s.opts.Logger != nil {
			s.opts.Logger.Info("oktasim request", "method", r.Method, "path", r.URL.Path, "status", status,
				"principal", principal, "requestId", reqID)
		}
	}()
	rep.header.Set("Date", now.UTC().Format(http.TimeFormat))
	rep.header.Set("X-Okta-Request-Id", reqID)

	if r.URL.Path == orgPath {
		s.rl.peek(bucket, limit, "", now).apply(rep.header)
		rep.json(http.StatusOK, map[string]any{
			"id":       "00osim" + hex.EncodeToString([]byte(s.opts.OrgName))[:min(14, 2*len(s.opts.OrgName))],
			"pipeline": "idx",
			"_links": map[string]any{
				"organization": map[string]string{"href": s.baseURL(r)},
			},
			"settings": map[string]any{"analyticsCollectionEnabled": false, "bugReporterEnabled": false},
			"name":     s.opts.OrgName,
		})
		rep.writeTo(w)
		return
	}

	hasAfter := r.URL.Query().Get("after") != ""
	polling := r.URL.Path == logsPath && isPolling(r)

	if r.URL.Path == tokenPath {
		principal = "token-endpoint"
		f, hasFault := s.faults.pick(r.URL.Path, false, false)
		if hasFault && s.preFault(w, r, rep, f, bucket, limit, principal, now, &status) {
			return
		}
		ok, st := s.rl.take(bucket, limit, principal, now)
		st.apply(rep.header)
		if !ok {
			rep.oktaError(http.StatusTooManyRequests, oktaErr(CodeRateLimit, "API call exceeded rate limit due to too many requests."))
			rep.writeTo(w)
			return
		}
		if hasFault {
			s.serveWithBodyFault(w, r, rep, f, &status, func() { s.handleToken(rep, r) })
			return
		}
		s.handleToken(rep, r)
		rep.writeTo(w)
		return
	}

	// Authentication.
	id, authErr := s.authenticate(r, now)
	if authErr != nil {
		s.rl.peek(bucket, limit, "", now).apply(rep.header)
		authErr(rep, s.baseURL(r), r.URL.Path)
		rep.writeTo(w)
		return
	}
	principal = id.principal

	// Concurrency (org-wide, per bucket).
	maxConc := s.opts.MaxConcurrent
	if bucket == logsPath {
		maxConc = s.opts.MaxConcurrentLogs
	}
	if r.URL.Path == logsPath {
		s.stats.logsRequest(principal, now)
	}
	if !s.rl.enter(bucket, maxConc) {
		s.stats.add(func(st *Stats) { st.ConcurrencyRejected++ })
		s.rateLimitEvent("core.concurrency.org.limit.violation", bucket, limit, maxConc, r, reqID, now)
		concurrency429(rep, now)
		rep.writeTo(w)
		return
	}
	defer s.rl.leave(bucket)

	f, hasFault := s.faults.pick(r.URL.Path, hasAfter, polling)
	if hasFault {
		if done := s.preFault(w, r, rep, f, bucket, limit, principal, now, &status); done {
			return
		}
	}

	// Scope check (OAuth principals only; SSWS tokens act as the admin).
	// A 403 does not consume the bucket.
	if id.scopes != nil {
		need := s.requiredScope(r)
		if need != "" && !id.hasScope(need) {
			s.rl.peek(bucket, limit, principal, now).apply(rep.header)
			insufficientScope(rep, s.baseURL(r), r.URL.Path, need)
			rep.writeTo(w)
			return
		}
	}

	ok, st := s.rl.take(bucket, limit, principal, now)
	st.apply(rep.header)
	if !ok {
		s.rateLimitEvent("system.org.rate_limit.violation", bucket, limit, 0, r, reqID, now)
		rep.oktaError(http.StatusTooManyRequests, oktaErr(CodeRateLimit, "API call exceeded rate limit due to too many requests."))
		rep.writeTo(w)
		return
	}
	if s.opts.RateLimitEvents && s.rl.orgUsed(bucket, now)*10 >= limit*6 {
		s.rateLimitEvent("system.org.rate_limit.warning", bucket, limit, 0, r, reqID, now)
	}

	handle := func() {
		switch {
		case r.URL.Path == logsPath:
			s.handleLogs(rep, r, hasFault && f.Kind == FaultEmptyPage)
		case s.opts.Mgmt != nil:
			r2 := r.WithContext(context.WithValue(r.Context(), principalKey, principal))
			s.opts.Mgmt.ServeHTTP(rep, r2)
			if rep.header.Get("Content-Type") == "" && len(rep.body) > 0 {
				rep.header.Set("Content-Type", "application/json")
			}
		default:
			rep.oktaError(http.StatusNotFound, oktaErr(CodeNotFound, "Not found: Resource not found: "+r.URL.Path+" (Path)"))
		}
	}
	if hasFault {
		s.serveWithBodyFault(w, r, rep, f, &status, handle)
		return
	}
	handle()
	rep.writeTo(w)
}

func concurrency429(rep *reply, now time.Time) {
	rlState{limit: 0, remaining: 0, reset: ceilSeconds(now.Add(time.Second))}.apply(rep.header)
	rep.oktaError(http.StatusTooManyRequests, oktaErr(CodeRateLimit, "API call exceeded rate limit due to too many requests."))
}

// preFault serves the faults that replace the response entirely. It returns
// true when the response has been written.
func (s *Server) preFault(w http.ResponseWriter, r *http.Request, rep *reply, f Fault, bucket string, limit int, principal string, now time.Time, status *int) bool {
	resetAfter := f.ResetAfter
	if resetAfter <= 0 {
		resetAfter = time.Second
	}
	switch f.Kind {
	case FaultRateLimit:
		s.stats.fault(f.Kind)
		st := s.rl.peek(bucket, limit, principal, now)
		st.remaining = 0
		st.reset = ceilSeconds(now.Add(resetAfter))
		st.apply(rep.header)
		rep.oktaError(http.StatusTooManyRequests, oktaErr(CodeRateLimit, "API call exceeded rate limit due to too many requests."))
	case FaultRateLimitNoReset:
		s.stats.fault(f.Kind)
		rep.oktaError(http.StatusTooManyRequests, oktaErr(CodeRateLimit, "API call exceeded rate limit due to too many requests."))
	case FaultConcurrency:
		s.stats.fault(f.Kind)
		rlState{limit: 0, remaining: 0, reset: ceilSeconds(now.Add(resetAfter))}.apply(rep.header)
		rep.oktaError(http.StatusTooManyRequests, oktaErr(CodeRateLimit, "API call exceeded rate limit due to too many requests."))
	case FaultServerError:
		s.stats.fault(f.Kind)
		_, st := s.rl.take(bucket, limit, principal, now)
		st.apply(rep.header)
		rep.oktaError(http.StatusInternalServerError, oktaErr(CodeInternal, "Internal Server Error: the query took too long (timed out after 30 seconds)"))
	case FaultUnavailable:
		s.stats.fault(f.Kind)
		s.rl.peek(bucket, limit, principal, now).apply(rep.header)
		rep.oktaError(http.StatusServiceUnavailable, oktaErr(CodeUnavailable, "Service is unavailable, please retry later"))
	case FaultCursorExpired:
		s.stats.fault(f.Kind)
		_, st := s.rl.take(bucket, limit, principal, now)
		st.apply(rep.header)
		cursorError(rep, "the cursor has expired")
	case FaultTokenRevoked:
		s.stats.fault(f.Kind)
		s.auth.revokeCredential(r)
		s.rl.peek(bucket, limit, principal, now).apply(rep.header)
		invalidToken(rep, s.baseURL(r), r.URL.Path, r.Header.Get("Authorization"))
	case FaultSlow:
		s.stats.fault(f.Kind)
		d := f.Delay
		if d <= 0 {
			d = 2 * time.Second
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
		return false
	default:
		return false
	}
	rep.writeTo(w)
	return true
}

// serveWithBodyFault runs handle and writes its reply, applying the body
// faults (truncated, malformed); other fault kinds pass through unchanged.
func (s *Server) serveWithBodyFault(w http.ResponseWriter, r *http.Request, rep *reply, f Fault, status *int, handle func()) {
	handle()
	switch f.Kind {
	case FaultEmptyPage:
		s.stats.fault(f.Kind)
	case FaultMalformed:
		s.stats.fault(f.Kind)
		rep.body = malform(rep.body)
	case FaultTruncated:
		s.stats.fault(f.Kind)
		*status = rep.status
		full := rep.body
		h := w.Header()
		for k, v := range rep.header {
			h[k] = v
		}
		h.Set("Content-Length", fmt.Sprint(len(full)+1))
		w.WriteHeader(rep.status)
		_, _ = w.Write(full[:len(full)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		// Abort the connection mid-body: the client sees an unexpected EOF.
		panic(http.ErrAbortHandler)
	}
	rep.writeTo(w)
}

// malform returns an invalid JSON body: the first half of b and garbage.
func malform(b []byte) []byte {
	half := b[:len(b)/2]
	out := make([]byte, 0, len(half)+16)
	out = append(out, half...)
	if len(half) < 2 {
		out = append(out[:0], `[{"uuid":`...)
	}
	return append(out, `\u00ZZ<<truncated`...)
}

// rateLimitEvent appends one of Okta's rate-limit System Log events (once
// per window and bucket) when Options.RateLimitEvents is set.
func (s *Server) rateLimitEvent(eventType, bucket string, limit, concurrency int, r *http.Request, reqID string, now time.Time) {
	if !s.opts.RateLimitEvents || !s.rl.once(bucket, eventType, now) {
		return
	}
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	uuid := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	msg, legacy, threshold := "Rate limit warning", "core.framework.ratelimit.warning", limit*6/10
	switch eventType {
	case "system.org.rate_limit.violation":
		msg, legacy, threshold = "Rate limit violation", "core.framework.ratelimit.exceeded", limit
	case "core.concurrency.org.limit.violation":
		msg, legacy, threshold = "Concurrency limit violation", "core.concurrency.org.limit.violation", concurrency
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ev := map[string]any{
		"uuid":            uuid,
		"published":       now.UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventType":       eventType,
		"version":         "0",
		"severity":        "WARN",
		"legacyEventType": legacy,
		"displayMessage":  msg,
		"actor":           map[string]any{"id": "00osim", "type": "PublicClientApp", "alternateId": "unknown", "displayName": "Okta System"},
		"client":          map[string]any{"ipAddress": host, "userAgent": map[string]any{"rawUserAgent": r.UserAgent()}, "zone": "null"},
		"outcome":         map[string]any{"result": "DENY", "reason": nil},
		"target": []map[string]any{{"id": bucket, "type": "URL Pattern", "alternateId": "unknown",
			"displayName": bucket}},
		"transaction":  map[string]any{"type": "WEB", "id": reqID, "detail": map[string]any{}},
		"debugContext": map[string]any{"debugData": map[string]any{"requestUri": r.URL.Path, "threshold": fmt.Sprint(threshold), "timeSpan": fmt.Sprint(int(s.opts.RateLimitWindow / time.Minute)), "timeUnit": "MINUTES"}},
	}
	_ = s.AddEvents(ev)
}
