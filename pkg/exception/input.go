package exception

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// Input is an exception as a user gives it (resource body, CLI flags).
type Input struct {
	Detector  string `json:"detector"`
	Scope     string `json:"scope"`
	Value     string `json:"value"`     // default: the dismissed alert's value for the scope
	Reason    string `json:"reason"`    // required: why this is benign
	ExpiresIn string `json:"expiresIn"` // Go duration or days ("30d"); default 30d
	ExpiresAt string `json:"expiresAt"` // RFC 3339; instead of expiresIn
}

// ParseTTL reads a lifetime: a Go duration ("12h", "45m") or days ("30d").
func ParseTTL(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	return 0, fmt.Errorf("expiry %q is not a duration (e.g. 30d, 12h)", s)
}

// Build validates the input into an exception created by `by` at now.
// from, when set, is the alert being dismissed: it supplies the detector
// and a value the input leaves out. known reports whether a detector id
// exists (nil accepts any).
func (in Input) Build(by string, now time.Time, from *alert.Alert, known func(string) bool) (alert.Exception, error) {
	x := alert.Exception{Detector: strings.TrimSpace(in.Detector), Scope: strings.ToLower(strings.TrimSpace(in.Scope)),
		Reason: strings.TrimSpace(in.Reason), CreatedBy: by, CreatedAt: now}
	if x.Scope == "" {
		return x, fmt.Errorf("exception has no scope: give one of %s", strings.Join(alert.Scopes, ", "))
	}
	value := in.Value
	if from != nil {
		if x.Detector == "" {
			x.Detector = from.Detector
		} else if x.Detector != from.Detector {
			return x, fmt.Errorf("exception detector %q differs from the alert's (%s)", x.Detector, from.Detector)
		}
		if strings.TrimSpace(value) == "" {
			value = ValueFor(x.Scope, Subject{Actor: from.Actor, IP: from.IP, ASN: EvidenceASN(from.Evidence)})
			if value == "" {
				return x, fmt.Errorf("the alert has no %s to scope the exception to: give a value", x.Scope)
			}
		}
	}
	if x.Detector == "" {
		return x, errors.New("exception has no detector")
	}
	if known != nil && !known(x.Detector) {
		return x, fmt.Errorf("detector %q is unknown", x.Detector)
	}
	v, err := Normalize(x.Scope, value)
	if err != nil {
		return x, err
	}
	x.Value = v
	if x.Reason == "" {
		return x, errors.New("exception has no reason: say why this is benign")
	}
	switch {
	case in.ExpiresIn != "" && in.ExpiresAt != "":
		return x, errors.New("give expiresIn or expiresAt, not both")
	case in.ExpiresAt != "":
		t, err := time.Parse(time.RFC3339, in.ExpiresAt)
		if err != nil {
			return x, fmt.Errorf("expiresAt %q is not an RFC 3339 time", in.ExpiresAt)
		}
		x.ExpiresAt = t.UTC()
	default:
		ttl := DefaultTTL
		if in.ExpiresIn != "" {
			if ttl, err = ParseTTL(in.ExpiresIn); err != nil {
				return x, err
			}
		}
		x.ExpiresAt = now.Add(ttl)
	}
	if !x.ExpiresAt.After(now) {
		return x, errors.New("the exception would already be expired")
	}
	if x.ExpiresAt.Sub(now) > MaxTTL {
		return x, fmt.Errorf("an exception lasts at most %d days", int(MaxTTL.Hours()/24))
	}
	return x, nil
}

// EvidenceASN is the AS number an alert's evidence names (0 when none).
func EvidenceASN(ev map[string]any) int {
	switch v := ev["asn"].(type) {
	case int:
		return v
	case float64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(strings.TrimPrefix(strings.ToUpper(v), "AS"))
		return n
	}
	return 0
}
