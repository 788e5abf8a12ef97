package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Query types (contract names); handlers.go registers each one.
const (
	QueryActivity       = "activity"
	QueryAlerts         = "alerts"
	QueryTimeseries     = "timeseries"
	QueryGeo            = "geo"
	QueryPosture        = "posture"
	QueryPostureHistory = "posture_history"
	QueryUsers          = "users"
	// QueryLogsVolume is Explore's logs volume of an activity query.
	QueryLogsVolume   = "logs_volume"
	QueryExceptions   = "exceptions"
	QueryAlertHistory = "alert_history"
	QueryUser         = "user"
)

// Limits of a query's row count.
const (
	DefaultLimit = 1000
	MaxLimit     = 50000
)

// queryModel is a query's JSON model (contract: {"queryType": ..., filters}).
type queryModel struct {
	QueryType string `json:"queryType"`

	Actor     string `json:"actor"`
	EventType string `json:"eventType"`
	Outcome   string `json:"outcome"`
	IP        string `json:"ip"`
	Country   string `json:"country"`
	Text      string `json:"text"`
	SessionID string `json:"sessionId"`
	Format    string `json:"format"`
	// Exclude (activity, logs_volume): drop the events whose log label
	// equals a value (Explore's "filter out value", `!=` ad hoc filters).
	Exclude []labelFilter `json:"exclude"`
	// Direction (activity): "backward" (default) returns the newest events
	// of the range first; "forward" the oldest first, as Explore's log
	// context after a line asks.
	Direction string `json:"direction"`

	Detector string `json:"detector"`
	Severity string `json:"severity"`

	Source   string `json:"source"`
	GroupBy  string `json:"groupBy"`
	Interval string `json:"interval"`

	Profile  string `json:"profile"`
	Status   string `json:"status"`
	Category string `json:"category"`
	Check    string `json:"check"`
	// Drift (posture_history): return the recorded regressions (check,
	// resource, from, to, and the event and actor that caused them)
	// instead of the score, e.g. for dashboard annotations.
	Drift bool `json:"drift"`
	// All (exceptions): list expired and removed exceptions too.
	All bool `json:"all"`
	// View (user): which part of one user's story (see query_user.go).
	View string `json:"view"`

	Limit *json.Number `json:"limit"`

	limit    int
	interval time.Duration
	// statuses are the alert triage statuses the status filter selects
	// (alerts, alert_history, timeseries of alerts); nil: all.
	statuses []string
	// fromAlert is set for alert-rule queries.
	fromAlert bool
}

var (
	validOutcomes   = set("SUCCESS", "FAILURE", "SKIPPED", "ALLOW", "DENY", "CHALLENGE", "UNKNOWN")
	validSeverities = set("info", "low", "medium", "high", "critical")
	validGroupBy    = map[string]string{"": "", "eventType": "events", "outcome": "events", "country": "events", "detector": "alerts", "severity": "alerts"}
	validStatuses   = set("pass", "fail", "error", "not_applicable", "manual", "partial")
)

func set(v ...string) map[string]bool {
	m := make(map[string]bool, len(v))
	for _, s := range v {
		m[s] = true
	}
	return m
}

// parseQuery decodes and validates a query. requestType is the DataQuery's
// queryType (alert rules set it there); the model's queryType is the
// fallback (dashboards put it in the model).
func parseQuery(raw []byte, requestType string) (queryModel, error) {
	var q queryModel
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&q); err != nil {
			return q, fmt.Errorf("query model is not valid JSON: %w", err)
		}
	}
	if requestType != "" {
		q.QueryType = requestType
	}
	if q.QueryType == "" {
		return q, fmt.Errorf("queryType is missing (one of %s)", strings.Join(QueryTypes, ", "))
	}
	if _, known := lookupQueryType(q.QueryType); !known {
		return q, fmt.Errorf("unknown queryType %q (one of %s)", q.QueryType, strings.Join(QueryTypes, ", "))
	}
	q.limit = DefaultLimit
	if q.Limit != nil && q.Limit.String() != "" {
		n, err := q.Limit.Int64()
		if err != nil {
			return q, fmt.Errorf("limit %q is not an integer", q.Limit.String())
		}
		if n <= 0 || n > MaxLimit {
			return q, fmt.Errorf("limit %d is out of range [1, %d]", n, MaxLimit)
		}
		q.limit = int(n)
	}
	q.Outcome = strings.ToUpper(strings.TrimSpace(q.Outcome))
	if q.Outcome != "" && !validOutcomes[q.Outcome] {
		return q, fmt.Errorf("outcome %q is unknown (SUCCESS, FAILURE, SKIPPED, ALLOW, DENY, CHALLENGE, UNKNOWN)", q.Outcome)
	}
	q.Severity = strings.ToLower(strings.TrimSpace(q.Severity))
	for _, s := range splitList(q.Severity) {
		if !validSeverities[s] {
			return q, fmt.Errorf("severity %q is unknown (info, low, medium, high, critical)", s)
		}
	}
	if _, ok := validGroupBy[q.GroupBy]; !ok {
		return q, fmt.Errorf("groupBy %q is unknown (eventType, outcome, country, detector, severity or empty)", q.GroupBy)
	}
	switch q.Source {
	case "":
		q.Source = validGroupBy[q.GroupBy]
		if q.Source == "" {
			q.Source = "events"
			if q.Detector != "" || q.Severity != "" {
				q.Source = "alerts"
			}
		}
	case "events", "alerts":
		if need := validGroupBy[q.GroupBy]; need != "" && need != q.Source {
			return q, fmt.Errorf("groupBy %s needs source %s", q.GroupBy, need)
		}
	default:
		return q, fmt.Errorf("source %q is unknown (events or alerts)", q.Source)
	}
	if q.Interval != "" {
		d, err := time.ParseDuration(q.Interval)
		if err != nil || d < time.Second {
			return q, fmt.Errorf("interval %q is not a duration of at least 1s", q.Interval)
		}
		q.interval = d
	}
	switch q.Format {
	case "", "table", "logs":
	default:
		return q, fmt.Errorf("format %q is unknown (table or logs)", q.Format)
	}
	if err := q.parseStatus(); err != nil {
		return q, err
	}
	switch q.Direction {
	case "", "backward", "forward":
	default:
		return q, fmt.Errorf("direction %q is unknown (backward or forward)", q.Direction)
	}
	if err := checkExclusions(q.Exclude); err != nil {
		return q, err
	}
	switch q.Profile {
	case "", "baseline", "stig":
	default:
		return q, fmt.Errorf("profile %q is unknown (baseline or stig)", q.Profile)
	}
	for name, v := range map[string]string{"actor": q.Actor, "eventType": q.EventType, "ip": q.IP, "country": q.Country, "text": q.Text, "sessionId": q.SessionID, "detector": q.Detector, "check": q.Check, "category": q.Category} {
		if len(v) > 512 {
			return q, fmt.Errorf("%s is longer than 512 characters", name)
		}
	}
	return q, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// errNotNumeric is returned for alert-rule queries whose type has no numeric form.
var errNotNumeric = errors.New("is not numeric: alert rules can use timeseries or posture_history")

// bucket picks the time-series bucket: the query's interval, else
// Grafana's interval, never so small that the range has more than
// maxPoints (default 1000) buckets.
func bucket(q queryModel, grafanaInterval time.Duration, from, to time.Time, maxPoints int64) time.Duration {
	d := q.interval
	if d == 0 {
		d = grafanaInterval
	}
	if d < time.Second {
		d = time.Minute
	}
	if maxPoints <= 0 || maxPoints > 10000 {
		maxPoints = 1000
	}
	if span := to.Sub(from); span > 0 {
		if minD := span / time.Duration(maxPoints); d < minD {
			d = minD.Truncate(time.Second) + time.Second
		}
	}
	return d
}
