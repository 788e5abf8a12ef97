// Package alert holds the types shared by detection, storage and serving:
// the Alert contract, its severities and its triage statuses. It imports
// nothing of oktaguard's, so the store and the plugin need not import the
// detection engine.
package alert

import "time"

// Severity levels of an alert (contract).
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// SeverityRank orders severities (info=1 … critical=5); unknown is 0.
func SeverityRank(s string) int {
	switch s {
	case SeverityInfo:
		return 1
	case SeverityLow:
		return 2
	case SeverityMedium:
		return 3
	case SeverityHigh:
		return 4
	case SeverityCritical:
		return 5
	}
	return 0
}

// Triage statuses of an alert (contract).
const (
	StatusOpen         = "open"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
	StatusDismissed    = "dismissed"
)

// Alert is one incident (contract: JSON field names are relied on by
// dashboards, alert rules, the replay CLI and outside tests). One incident is
// one alert: a new match inside the incident window updates the same ID,
// raising Count and LastTime and adding to Targets and EventIDs (bounded; the
// totals are in Evidence).
type Alert struct {
	ID       string         `json:"id"`
	Detector string         `json:"detector"`
	Severity string         `json:"severity"`
	Time     time.Time      `json:"time"` // event time of the first match, RFC 3339
	Actor    string         `json:"actor"`
	ActorID  string         `json:"actorId"`
	IP       string         `json:"ip"`
	Country  string         `json:"country"`
	Title    string         `json:"title"`
	Summary  string         `json:"summary"`
	Evidence map[string]any `json:"evidence"`
	EventIDs []string       `json:"eventIds"`
	MITRE    []string       `json:"mitre"`

	// Round 2: incident grouping and triage.
	Count    int       `json:"count,omitempty"`   // matched events in the incident
	LastTime time.Time `json:"lastTime,omitzero"` // event time of the latest match
	Targets  []string  `json:"targets,omitempty"` // bounded; the total is in Evidence
	Status   string    `json:"status,omitempty"`  // open|acknowledged|resolved|dismissed
}
