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
// concurrent use; build a new one when the exceptions change.
type Set struct {
	byDetector map[string][]alert.Exception
	needsEvent bool
	n          int
}

// New builds a Set from exceptions (removed ones are ignored; expiry is
// checked at match time, so a Set built once lapses on its own).
func New(xs []alert.Exception) *Set {
	s := &Set{byDetector: map[string][]alert.Exception{}}
	for _, x := range xs {
		if !x.RemovedAt.IsZero() {
			continue
		}
		v, err := Normalize(x.Scope, x.Value)
		if err != nil {
			continue
		}
		x.Value = v
		s.byDetector[x.Detector] = append(s.byDetector[x.Detector], x)
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

// Match returns the first exception in force at now that covers the subject.
func (s *Set) Match(sub Subject, now time.Time) (alert.Exception, bool) {
	if s == nil {
		return alert.Exception{}, false
	}
	for _, x := range s.byDetector[sub.Detector] {
		if x.Active(now) && covers(x, sub) {
			return x, true
		}
	}
	return alert.Exception{}, false
}

func covers(x alert.Exception, sub Subject) bool {
	switch x.Scope {
	case alert.ScopeActor:
		return sub.Actor != "" && strings.EqualFold(strings.TrimSpace(sub.Actor), x.Value)
	case alert.ScopeIP, alert.ScopeSubnet:
		a, err := netip.ParseAddr(strings.TrimSpace(sub.IP))
		if err != nil {
			return false
		}
		if x.Scope == alert.ScopeIP {
			return a.Unmap().String() == x.Value
		}
		return subnetOf(a).String() == x.Value
	case alert.ScopeASN:
		return sub.ASN > 0 && strconv.Itoa(sub.ASN) == x.Value
	case alert.ScopeApp:
		for _, app := range sub.Apps {
			if strings.EqualFold(strings.TrimSpace(app), x.Value) {
				return true
			}
		}
	}
	return false
}
