// Package exception matches alerts against analyst-made exceptions: a
// detector × scope (actor, IP, /24, ASN or app) pair that suppresses the
// detector's alerts for that scope until it expires. It validates and
// normalizes scope values and builds an immutable matcher; storage and
// reloading are the caller's (the store and the pipeline).
package exception

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// DefaultTTL is how long an exception lasts when no expiry is given.
const DefaultTTL = 30 * 24 * time.Hour

// MaxTTL bounds an exception's lifetime: a silence is reviewed at least yearly.
const MaxTTL = 366 * 24 * time.Hour

// Subject is what an alert is matched on.
type Subject struct {
	Detector string
	Actor    string   // login (actor.alternateId)
	IP       string   // client IP
	ASN      int      // 0 when unknown
	Apps     []string // ids, labels and names of the app instances the event targets
}

// Normalize validates a scope and its value and returns the canonical
// value: logins and app names lower-cased, IPs in canonical form, a subnet
// masked to /24 (IPv6: /64; a bare address is accepted and masked), an
// ASN as digits ("AS13335" or "13335").
func Normalize(scope, value string) (string, error) {
	v := strings.TrimSpace(value)
	if scope == "" || v == "" {
		return "", fmt.Errorf("an exception needs a scope (%s) and a value", strings.Join(alert.Scopes, ", "))
	}
	switch scope {
	case alert.ScopeActor, alert.ScopeApp:
		return strings.ToLower(v), nil
	case alert.ScopeIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return "", fmt.Errorf("ip %q is not an IP address", value)
		}
		return a.Unmap().String(), nil
	case alert.ScopeSubnet:
		var a netip.Addr
		if p, err := netip.ParsePrefix(v); err == nil {
			a = p.Addr()
		} else if a, err = netip.ParseAddr(v); err != nil {
			return "", fmt.Errorf("subnet %q is neither an IP address nor a CIDR", value)
		}
		return subnetOf(a).String(), nil
	case alert.ScopeASN:
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 32)
		if err != nil || n == 0 {
			return "", fmt.Errorf("asn %q is not an AS number (e.g. AS13335)", value)
		}
		return strconv.FormatUint(n, 10), nil
	}
	return "", fmt.Errorf("scope %q is unknown (%s)", scope, strings.Join(alert.Scopes, ", "))
}

// subnetOf is the /24 of an IPv4 address, the /64 of an IPv6 one.
func subnetOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 24
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// ValueFor is the subject's value for a scope ("" when it has none), e.g.
// to pre-fill an exception from the alert being dismissed.
func ValueFor(scope string, s Subject) string {
	var raw string
	switch scope {
	case alert.ScopeActor:
		raw = s.Actor
	case alert.ScopeIP, alert.ScopeSubnet:
		raw = s.IP
	case alert.ScopeASN:
		if s.ASN > 0 {
			raw = strconv.Itoa(s.ASN)
		}
	case alert.ScopeApp:
		if len(s.Apps) > 0 {
			raw = s.Apps[0]
		}
	}
	if raw == "" {
		return ""
	}
	v, err := Normalize(scope, raw)
	if err != nil {
		return ""
	}
	return v
}

// Set matches subjects against exceptions. It is immutable and safe for
// concurrent use; build a new one when the exceptions change. Exceptions
// are indexed by detector, scope and normalized value, so a match costs a
// few map look-ups whatever the number of exceptions.
type Set struct {
	index      map[key][]alert.Exception
	needsEvent bool
	n          int
}

type key struct{ detector, scope, value string }

// New builds a Set from exceptions (removed ones are ignored; expiry is
// checked at match time, so a Set built once lapses on its own).
func New(xs []alert.Exception) *Set {
	s := &Set{index: map[key][]alert.Exception{}}
	for _, x := range xs {
		if !x.RemovedAt.IsZero() {
			continue
		}
		v, err := Normalize(x.Scope, x.Value)
		if err != nil {
			continue
		}
		x.Value = v
		k := key{x.Detector, x.Scope, v}
		s.index[k] = append(s.index[k], x)
		s.needsEvent = s.needsEvent || x.Scope == alert.ScopeASN || x.Scope == alert.ScopeApp
		s.n++
	}
	return s
}

// Len is the number of exceptions in the set (expired ones included).
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// NeedsEvent reports whether an exception matches on the ASN or app, which
// come from the alert's event rather than the alert.
func (s *Set) NeedsEvent() bool { return s != nil && s.needsEvent }

// Match returns an exception in force at now that covers the subject.
func (s *Set) Match(sub Subject, now time.Time) (alert.Exception, bool) {
	if s == nil || s.n == 0 {
		return alert.Exception{}, false
	}
	try := func(scope, value string) (alert.Exception, bool) {
		if value == "" {
			return alert.Exception{}, false
		}
		for _, x := range s.index[key{sub.Detector, scope, value}] {
			if x.Active(now) {
				return x, true
			}
		}
		return alert.Exception{}, false
	}
	if x, ok := try(alert.ScopeActor, strings.ToLower(strings.TrimSpace(sub.Actor))); ok {
		return x, true
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(sub.IP)); err == nil {
		a = a.Unmap()
		if x, ok := try(alert.ScopeIP, a.String()); ok {
			return x, true
		}
		if x, ok := try(alert.ScopeSubnet, subnetOf(a).String()); ok {
			return x, true
		}
	}
	if sub.ASN > 0 {
		if x, ok := try(alert.ScopeASN, strconv.Itoa(sub.ASN)); ok {
			return x, true
		}
	}
	for _, app := range sub.Apps {
		if x, ok := try(alert.ScopeApp, strings.ToLower(strings.TrimSpace(app))); ok {
			return x, true
		}
	}
	return alert.Exception{}, false
}
