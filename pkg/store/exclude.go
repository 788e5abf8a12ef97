package store

import (
	"fmt"
	"strings"
)

// Exclusion drops the events whose Field equals Value exactly: Explore's
// "filter out value" and a `!=` ad hoc filter. Field is a log label name
// (ExclusionFields); an outcome is compared in upper case.
type Exclusion struct {
	Field string
	Value string
}

// MaxExclusions bounds the exclusions of one query.
const MaxExclusions = 64

// ExclusionFields maps an Exclusion's Field to its events column (the same
// in every backend).
var ExclusionFields = map[string]string{
	"eventType": "event_type",
	"actor":     "actor",
	"outcome":   "outcome",
	"ip":        "ip",
	"country":   "country",
	"sessionId": "session_id",
}

// CheckExclusions reports an unknown field or too many exclusions as an
// ErrInvalidQuery.
func CheckExclusions(ex []Exclusion) error {
	if len(ex) > MaxExclusions {
		return fmt.Errorf("store: %w: %d exclusions, at most %d", ErrInvalidQuery, len(ex), MaxExclusions)
	}
	for _, e := range ex {
		if _, ok := ExclusionFields[e.Field]; !ok {
			return fmt.Errorf("store: %w: cannot exclude on field %q", ErrInvalidQuery, e.Field)
		}
	}
	return nil
}

// ExclusionCond is the condition ("<column> <> ?", one argument) of a
// checked exclusion; prefix qualifies the column (e.g. "e.").
func ExclusionCond(prefix string, e Exclusion) (cond string, arg any) {
	v := e.Value
	if e.Field == "outcome" {
		v = strings.ToUpper(v)
	}
	return prefix + ExclusionFields[e.Field] + " <> ?", v
}
