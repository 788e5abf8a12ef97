package okta

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrOrgURL is wrapped by every org URL validation error.
var ErrOrgURL = errors.New("invalid Okta org URL")

// NormalizeOrgURL turns what a user typed into the org base URL the client
// uses: spaces and trailing slashes trimmed, https:// added when no scheme
// is given. The rule (DESIGN.md "HTTP to Okta"): https always; plain http
// only to a loopback host (127.0.0.0/8, ::1, localhost) so the simulator
// and tests run without certificates. No path, query, fragment or user
// info is allowed. The returned URL has an empty path.
func NormalizeOrgURL(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 && strings.Trim(s[i+3:], "/") == "" {
		return nil, fmt.Errorf("%w: %q has no host", ErrOrgURL, s)
	}
	s = strings.TrimRight(s, "/")
	if s == "" {
		return nil, fmt.Errorf("%w: orgUrl is empty (expected e.g. https://example.okta.com)", ErrOrgURL)
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %q cannot be parsed: %v", ErrOrgURL, s, unwrapURLError(err))
	}
	scheme := strings.ToLower(u.Scheme)
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q has no host", ErrOrgURL, s)
	}
	if strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("%w: %q has an empty port", ErrOrgURL, s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: %q must not contain user info", ErrOrgURL, u.Redacted())
	}
	if u.Path != "" || u.RawPath != "" {
		return nil, fmt.Errorf("%w: %q must not have a path (%q); use the bare org URL such as https://example.okta.com", ErrOrgURL, s, u.Path)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %q must not have a query or fragment", ErrOrgURL, s)
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, "-admin.") {
		return nil, fmt.Errorf("%w: %q is the admin console domain; use the org domain without -admin", ErrOrgURL, s)
	}
	switch scheme {
	case "https":
	case "http":
		if !IsLoopbackHost(host) {
			return nil, fmt.Errorf("%w: %q uses http; https is required except for a loopback host (127.0.0.0/8, ::1, localhost)", ErrOrgURL, s)
		}
	default:
		return nil, fmt.Errorf("%w: %q has scheme %q; only https (or http to a loopback host) is allowed", ErrOrgURL, s, u.Scheme)
	}
	out := &url.URL{Scheme: scheme, Host: strings.ToLower(u.Host)}
	return out, nil
}

// IsLoopbackHost reports whether host (no port) is localhost or a loopback IP.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
