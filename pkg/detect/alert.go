package detect

import "time"

// Severity levels of an alert (contract).
const (
	SeverityInfo     = "info"
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

// Alert is one detection (contract: JSON field names are relied on by
// dashboards, alert rules, the replay CLI and outside tests).
type Alert struct {
	ID       string         `json:"id"`
	Detector string         `json:"detector"`
	Severity string         `json:"severity"`
	Time     time.Time      `json:"time"` // event time, RFC 3339
	Actor    string         `json:"actor"`
	ActorID  string         `json:"actorId"`
	IP       string         `json:"ip"`
	Country  string         `json:"country"`
	Title    string         `json:"title"`
	Summary  string         `json:"summary"`
	Evidence map[string]any `json:"evidence"`
	EventIDs []string       `json:"eventIds"`
	MITRE    []string       `json:"mitre"`
}
