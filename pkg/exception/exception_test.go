package exception

import (
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ scope, in, want, err string }{
		{"actor", "  Alice@Example.com ", "alice@example.com", ""},
		{"ip", "203.0.113.7", "203.0.113.7", ""},
		{"ip", "::ffff:203.0.113.7", "203.0.113.7", ""},
		{"ip", "203.0.113", "", "not an IP"},
		{"subnet", "203.0.113.77", "203.0.113.0/24", ""},
		{"subnet", "203.0.113.0/24", "203.0.113.0/24", ""},
		{"subnet", "2001:db8:1:2:3::1", "2001:db8:1:2::/64", ""},
		{"subnet", "nope", "", "neither"},
		{"asn", "AS13335", "13335", ""},
		{"asn", "as13335", "13335", ""},
		{"asn", "0", "", "not an AS number"},
		{"app", " Salesforce ", "salesforce", ""},
		{"country", "NG", "", "unknown"},
		{"", "x", "", "needs a scope"},
		{"ip", "  ", "", "needs a scope"},
	}
	for _, c := range cases {
		got, err := Normalize(c.scope, c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Normalize(%s, %q) error %v, want %q", c.scope, c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Normalize(%s, %q) = %q, %v; want %q", c.scope, c.in, got, err, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	x := func(id int64, det, scope, value string, exp time.Duration) alert.Exception {
		return alert.Exception{ID: id, Detector: det, Scope: scope, Value: value, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(exp)}
	}
	removed := x(9, "suspicious_ip", "actor", "zed@example.com", time.Hour)
	removed.RemovedAt = now.Add(-time.Minute)
	set := New([]alert.Exception{
		x(1, "suspicious_ip", "actor", "Alice@example.com", time.Hour),
		x(2, "suspicious_ip", "subnet", "198.51.100.0/24", time.Hour),
		x(3, "anonymous_ip", "asn", "AS9009", time.Hour),
		x(4, "mfa_fatigue", "app", "Salesforce", time.Hour),
		x(5, "impossible_travel", "ip", "192.0.2.1", -time.Second), // expired
		removed,
	})
	if set.Len() != 5 || !set.NeedsEvent() {
		t.Fatalf("Len %d NeedsEvent %v", set.Len(), set.NeedsEvent())
	}
	cases := []struct {
		name string
		sub  Subject
		want int64
	}{
		{"actor, other case", Subject{Detector: "suspicious_ip", Actor: "ALICE@example.com"}, 1},
		{"actor, other detector", Subject{Detector: "mfa_fatigue", Actor: "alice@example.com"}, 0},
		{"subnet", Subject{Detector: "suspicious_ip", Actor: "bob@example.com", IP: "198.51.100.200"}, 2},
		{"next subnet", Subject{Detector: "suspicious_ip", Actor: "bob@example.com", IP: "198.51.101.1"}, 0},
		{"asn", Subject{Detector: "anonymous_ip", ASN: 9009}, 3},
		{"asn unknown", Subject{Detector: "anonymous_ip"}, 0},
		{"app", Subject{Detector: "mfa_fatigue", Apps: []string{"0oa1", "salesforce"}}, 4},
		{"expired", Subject{Detector: "impossible_travel", IP: "192.0.2.1"}, 0},
		{"removed", Subject{Detector: "suspicious_ip", Actor: "zed@example.com"}, 0},
		{"bad ip", Subject{Detector: "suspicious_ip", IP: "x"}, 0},
	}
	for _, c := range cases {
		got, ok := set.Match(c.sub, now)
		if (c.want == 0) == ok || ok && got.ID != c.want {
			t.Errorf("%s: match %v %d, want %d", c.name, ok, got.ID, c.want)
		}
	}
	// Expiry is checked at match time.
	if _, ok := set.Match(Subject{Detector: "suspicious_ip", Actor: "alice@example.com"}, now.Add(time.Hour)); ok {
		t.Fatal("an exception still matched at its expiry")
	}
	var none *Set
	if _, ok := none.Match(Subject{Detector: "x"}, now); ok || none.Len() != 0 {
		t.Fatal("nil set matched")
	}
}

func TestValueFor(t *testing.T) {
	s := Subject{Actor: "Alice@Example.com", IP: "203.0.113.7", ASN: 64500, Apps: []string{"Salesforce"}}
	for scope, want := range map[string]string{"actor": "alice@example.com", "ip": "203.0.113.7", "subnet": "203.0.113.0/24", "asn": "64500", "app": "salesforce", "x": ""} {
		if got := ValueFor(scope, s); got != want {
			t.Errorf("ValueFor(%s) = %q, want %q", scope, got, want)
		}
	}
	if ValueFor("asn", Subject{}) != "" || ValueFor("app", Subject{}) != "" {
		t.Fatal("empty subject gave values")
	}
}

func TestBuild(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	from := &alert.Alert{Detector: "suspicious_ip", Actor: "Alice@example.com", IP: "203.0.113.7", Evidence: map[string]any{"asn": 64500.0}}
	known := func(id string) bool { return id == "suspicious_ip" || id == "mfa_fatigue" }
	x, err := Input{Scope: "subnet", Reason: "VPN"}.Build("ann", now, from, known)
	if err != nil || x.Detector != "suspicious_ip" || x.Value != "203.0.113.0/24" || !x.ExpiresAt.Equal(now.Add(DefaultTTL)) || x.CreatedBy != "ann" {
		t.Fatalf("from alert: %+v %v", x, err)
	}
	if x, err := (Input{Scope: "asn", Reason: "r", ExpiresIn: "12h"}).Build("ann", now, from, known); err != nil || x.Value != "64500" || !x.ExpiresAt.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("asn from evidence: %+v %v", x, err)
	}
	bad := []struct {
		in   Input
		from *alert.Alert
		want string
	}{
		{Input{Detector: "suspicious_ip", Reason: "r"}, nil, "no scope"},
		{Input{Scope: "ip", Value: "1.2.3.4", Reason: "r"}, nil, "no detector"},
		{Input{Detector: "nope", Scope: "ip", Value: "1.2.3.4", Reason: "r"}, nil, "unknown"},
		{Input{Detector: "mfa_fatigue", Scope: "ip", Reason: "r"}, from, "differs"},
		{Input{Scope: "app", Reason: "r"}, from, "no app"},
		{Input{Scope: "ip", Value: "1.2.3.4"}, from, "no reason"},
		{Input{Scope: "ip", Reason: "r", ExpiresIn: "soon"}, from, "not a duration"},
		{Input{Scope: "ip", Reason: "r", ExpiresIn: "-1h"}, from, "already be expired"},
		{Input{Scope: "ip", Reason: "r", ExpiresIn: "400d"}, from, "at most 366 days"},
		{Input{Scope: "ip", Reason: "r", ExpiresIn: "1d", ExpiresAt: "2027-01-01T00:00:00Z"}, from, "not both"},
		{Input{Scope: "ip", Reason: "r", ExpiresAt: "tomorrow"}, from, "RFC 3339"},
	}
	for _, b := range bad {
		if _, err := b.in.Build("ann", now, b.from, known); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: error %v, want %q", b.in, err, b.want)
		}
	}
}
