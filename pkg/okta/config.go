package okta

import (
	"errors"
	"fmt"
	"time"

	"github.com/oktaguard/oktaguard/pkg/posture"
)

// Defaults of the collector (okta-ingest.md §1, DESIGN.md).
const (
	DefaultBackfill       = 168 * time.Hour
	MaxBackfill           = 90 * 24 * time.Hour
	DefaultPollInterval   = 30 * time.Second
	DefaultOverlap        = 15 * time.Minute
	DefaultRateLimitShare = 0.5
	DefaultPageLimit      = 1000
	DefaultRequestTimeout = 60 * time.Second
	DefaultMaxAttempts    = 8
	// DefaultRateLimitReserve is the fraction of X-Rate-Limit-Limit that
	// must stay in X-Rate-Limit-Remaining: when Remaining falls to it, the
	// client waits for X-Rate-Limit-Reset instead of using the rest.
	DefaultRateLimitReserve = 0.1
)

// LogsScope is the OAuth scope needed to read the System Log.
const LogsScope = "okta.logs.read"

// DefaultScopes returns the scopes an OAuth service app requests when none
// are configured: okta.logs.read first, then every scope the posture checks
// read (posture.Scopes, derived from the check registry), so that granting
// the list of docs/posture.md is exactly enough.
func DefaultScopes() []string {
	out := []string{LogsScope}
	for _, s := range posture.Scopes() {
		if s != LogsScope {
			out = append(out, s)
		}
	}
	return out
}

// Config is how to reach one Okta org and how to read its System Log.
type Config struct {
	OrgURL   string
	APIToken string       // SSWS token; exclusive with OAuth
	OAuth    *OAuthConfig // OAuth 2.0 service app with private_key_jwt

	Backfill       time.Duration // first connection reads since now-Backfill (default 168h, max 90 days)
	PollInterval   time.Duration // wait after a short page (default 30s)
	Overlap        time.Duration // re-read window when the cursor is lost (default 15m)
	RateLimitShare float64       // fraction of X-Rate-Limit-Limit this principal may use (default 0.5)

	// Tuning; zero means the default.
	PageLimit        int           // limit= query parameter (default and max 1000)
	RequestTimeout   time.Duration // per attempt (default 60s)
	MaxAttempts      int           // attempts per request for retryable failures (default 8)
	RateLimitReserve float64       // fraction of the limit kept unused in Remaining (default 0.1)
	// RateLimitWindow is the length of Okta's rate-limit window (one
	// minute). Only simulators with shortened windows need another value.
	RateLimitWindow time.Duration
}

// OAuthConfig is an OAuth 2.0 service app using private_key_jwt.
type OAuthConfig struct {
	ClientID      string
	PrivateKeyPEM []byte   // RSA key, PKCS#1 or PKCS#8 PEM
	KeyID         string   // optional kid of the registered JWK
	Scopes        []string // default DefaultScopes()
	// KeySetting names the setting the key came from, for messages:
	// "okta.oauth.privateKeyFile" (default) or "okta.oauth.privateKey"
	// (inline), or the plugin's field.
	KeySetting string
}

// keySetting is KeySetting or its default.
func (o *OAuthConfig) keySetting() string {
	if o.KeySetting != "" {
		return o.KeySetting
	}
	return "okta.oauth.privateKeyFile"
}

// String never prints the key.
func (o OAuthConfig) String() string {
	return fmt.Sprintf("OAuthConfig{ClientID:%q KeyID:%q Scopes:%v PrivateKeyPEM:[%d bytes redacted]}", o.ClientID, o.KeyID, o.Scopes, len(o.PrivateKeyPEM))
}

// GoString never prints the key.
func (o OAuthConfig) GoString() string { return o.String() }

// String never prints the token or key.
func (c Config) String() string {
	tok := "<empty>"
	if c.APIToken != "" {
		tok = "[redacted]"
	}
	oa := "<nil>"
	if c.OAuth != nil {
		oa = c.OAuth.String()
	}
	return fmt.Sprintf("okta.Config{OrgURL:%q APIToken:%s OAuth:%s Backfill:%s PollInterval:%s Overlap:%s RateLimitShare:%g}",
		c.OrgURL, tok, oa, c.Backfill, c.PollInterval, c.Overlap, c.RateLimitShare)
}

// GoString never prints the token or key.
func (c Config) GoString() string { return c.String() }

// WithDefaults returns c with every zero tuning value replaced by its default.
func (c Config) WithDefaults() Config {
	if c.Backfill == 0 {
		c.Backfill = DefaultBackfill
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Overlap == 0 {
		c.Overlap = DefaultOverlap
	}
	if c.RateLimitShare == 0 {
		c.RateLimitShare = DefaultRateLimitShare
	}
	if c.PageLimit == 0 {
		c.PageLimit = DefaultPageLimit
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RateLimitReserve == 0 {
		c.RateLimitReserve = DefaultRateLimitReserve
	}
	if c.RateLimitWindow == 0 {
		c.RateLimitWindow = time.Minute
	}
	if c.OAuth != nil && len(c.OAuth.Scopes) == 0 {
		o := *c.OAuth
		o.Scopes = DefaultScopes()
		c.OAuth = &o
	}
	return c
}

// Validate checks c (after WithDefaults) and returns every problem found.
// Messages name the setting and never contain the token or key.
func (c Config) Validate() error {
	var errs []error
	if _, err := NormalizeOrgURL(c.OrgURL); err != nil {
		errs = append(errs, fmt.Errorf("okta.orgUrl: %w", err))
	}
	switch {
	case c.APIToken != "" && c.OAuth != nil:
		errs = append(errs, errors.New("okta: set either apiToken or oauth, not both"))
	case c.APIToken == "" && c.OAuth == nil:
		errs = append(errs, errors.New("okta: no credentials: set okta.apiToken (SSWS API token) or okta.oauth (clientId + privateKeyFile)"))
	case c.OAuth != nil:
		if c.OAuth.ClientID == "" {
			errs = append(errs, errors.New("okta.oauth.clientId is empty"))
		}
		if len(c.OAuth.PrivateKeyPEM) == 0 {
			errs = append(errs, fmt.Errorf("%s: no private key", c.OAuth.keySetting()))
		} else if _, err := ToPKCS1PEM(c.OAuth.PrivateKeyPEM); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.OAuth.keySetting(), err))
		}
		hasLogs := len(c.OAuth.Scopes) == 0
		for _, s := range c.OAuth.Scopes {
			if s == LogsScope {
				hasLogs = true
			}
		}
		if !hasLogs {
			errs = append(errs, fmt.Errorf("okta.oauth.scopes must include %s to read the System Log", LogsScope))
		}
	}
	if c.Backfill < 0 {
		errs = append(errs, fmt.Errorf("okta.backfill %s is negative", c.Backfill))
	}
	if c.Backfill > MaxBackfill {
		errs = append(errs, fmt.Errorf("okta.backfill %s is more than 90 days (2160h): Okta keeps the System Log for 90 days", c.Backfill))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("okta.pollInterval %s is negative", c.PollInterval))
	}
	if c.Overlap < 0 {
		errs = append(errs, fmt.Errorf("okta.overlap %s is negative", c.Overlap))
	}
	if c.RateLimitShare < 0 || c.RateLimitShare > 1 {
		errs = append(errs, fmt.Errorf("okta.rateLimitShare %g must be in (0, 1]", c.RateLimitShare))
	}
	if c.PageLimit < 0 || c.PageLimit > 1000 {
		errs = append(errs, fmt.Errorf("okta.pageLimit %d must be 1..1000", c.PageLimit))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("okta.requestTimeout %s is negative", c.RequestTimeout))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("okta.maxAttempts %d must be at least 1", c.MaxAttempts))
	}
	if c.RateLimitWindow < 0 {
		errs = append(errs, fmt.Errorf("okta.rateLimitWindow %s is negative", c.RateLimitWindow))
	}
	if c.RateLimitReserve < 0 || c.RateLimitReserve >= 1 {
		errs = append(errs, fmt.Errorf("okta.rateLimitReserve %g must be in [0, 1)", c.RateLimitReserve))
	}
	return errors.Join(errs...)
}
