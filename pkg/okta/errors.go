package okta

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Sentinels for errors.Is on errors returned by the client.
var (
	// ErrUnauthorized: Okta answered 401 (token invalid, expired or
	// revoked) or the OAuth client could not authenticate. Not retried.
	ErrUnauthorized = errors.New("Okta rejected the credentials")
	// ErrForbidden: Okta answered 403 for another reason than a scope.
	ErrForbidden = errors.New("Okta refused access")
	// ErrInsufficientScope: the OAuth app lacks a scope (403
	// insufficient_scope, or invalid_scope from the token endpoint).
	ErrInsufficientScope = errors.New("OAuth scope missing")
	// ErrDPoP: the service app requires DPoP, which SDK v2 cannot send.
	ErrDPoP = errors.New("service app requires DPoP")
	// ErrCursor: the stored System Log cursor (next URL) is unusable or
	// was rejected; recover by re-reading from a since time.
	ErrCursor = errors.New("System Log cursor unusable")
	// ErrRateLimited: Okta answered 429 (the org's rate limit for the
	// endpoint is used up until its reset). Retried after the reset.
	ErrRateLimited = errors.New("rate limited")
	// ErrRetriesExhausted: a retryable failure persisted through every attempt.
	ErrRetriesExhausted = errors.New("retries exhausted")
	// ErrBadBody is a 2xx response whose body arrived whole but is not
	// what was asked for (not JSON of the expected shape, a System Log
	// page that is not a JSON array).
	ErrBadBody = errors.New("unusable response body")
)

// APIError describes a failed Okta request. It holds only what Okta sent
// back (status, error code and summary, request id) and the request path;
// never a credential.
type APIError struct {
	Method    string
	Path      string // request path without the query string
	Status    int    // HTTP status (0 when no response)
	Code      string // Okta errorCode, e.g. E0000011, or OAuth error, e.g. invalid_client
	Summary   string // Okta errorSummary / error_description
	RequestID string // X-Okta-Request-Id
	Scope     string // the missing scope, for ErrInsufficientScope
	Hint      string // what the user should do
	Attempts  int
	kind      error
	cause     error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("okta: ")
	if e.Method != "" || e.Path != "" {
		b.WriteString(e.Method)
		b.WriteString(" ")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.kind != nil {
		b.WriteString(e.kind.Error())
	}
	det := e.facts()
	if e.Scope != "" {
		det = append(det, "scope "+e.Scope)
	}
	if e.cause != nil {
		det = append(det, e.cause.Error())
	}
	if e.Attempts > 1 {
		det = append(det, fmt.Sprintf("after %d attempts", e.Attempts))
	}
	if e.RequestID != "" {
		det = append(det, "request id "+e.RequestID)
	}
	if len(det) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(det, "; "))
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// facts are the response's HTTP status, error code and summary, as far as
// known.
func (e *APIError) facts() []string {
	var det []string
	if e.Status != 0 {
		det = append(det, fmt.Sprintf("HTTP %d", e.Status))
	}
	if e.Code != "" {
		det = append(det, e.Code)
	}
	if e.Summary != "" {
		det = append(det, e.Summary)
	}
	return det
}

// Unwrap returns the sentinel and the cause.
func (e *APIError) Unwrap() []error {
	var out []error
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// redactedError carries a scrubbed message while keeping errors.Is/As on
// the original chain working.
type redactedError struct {
	msg  string
	errs []error // only errors whose messages carry no secret
}

func (r *redactedError) Error() string   { return r.msg }
func (r *redactedError) Unwrap() []error { return r.errs }

// sanitizeTransportError removes query strings (the OAuth token request
// carries the signed client assertion in its query) from *url.Error
// messages.
func sanitizeTransportError(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		u := ue.URL
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i] + "?[query redacted]"
		}
		return &redactedError{msg: fmt.Sprintf("%s %q: %v", ue.Op, u, ue.Err), errs: []error{ue.Err}}
	}
	return err
}

// secretScrubber replaces secret material in error messages.
type secretScrubber struct {
	secrets []string
}

func newScrubber(cfg Config) secretScrubber {
	var s secretScrubber
	if len(cfg.APIToken) >= 4 {
		s.secrets = append(s.secrets, cfg.APIToken)
	}
	if cfg.OAuth != nil && len(cfg.OAuth.PrivateKeyPEM) > 0 {
		for _, line := range strings.Split(strings.ReplaceAll(string(cfg.OAuth.PrivateKeyPEM), `\n`, "\n"), "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				s.secrets = append(s.secrets, line)
			}
		}
	}
	return s
}

func (s secretScrubber) scrub(err error) error {
	if err == nil || len(s.secrets) == 0 {
		return err
	}
	msg := err.Error()
	changed := false
	for _, sec := range s.secrets {
		if strings.Contains(msg, sec) {
			msg = strings.ReplaceAll(msg, sec, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	// Keep errors.Is working for our sentinels and common causes, but
	// drop the chain itself: its messages contain the secret.
	var kinds []error
	for _, k := range []error{ErrUnauthorized, ErrForbidden, ErrInsufficientScope, ErrDPoP, ErrCursor, ErrRetriesExhausted, ErrPrivateKey, ErrOrgURL, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, k) {
			kinds = append(kinds, k)
		}
	}
	return &redactedError{msg: msg, errs: kinds}
}
