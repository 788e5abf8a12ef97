package traffic_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

func TestScore(t *testing.T) {
	ds := loadCorpus(t).ds
	var alerts []traffic.AlertRef
	// a perfect detector set: one alert per required label, by actor/IP and time only (no event ids)
	for _, l := range ds.Labels {
		if !l.Optional {
			alerts = append(alerts, traffic.AlertRef{Detector: l.Detector, Actor: l.Actor, IP: l.IP, Time: l.End})
		}
	}
	// plus one alert on an optional label (not a false positive) ...
	for _, l := range ds.Labels {
		if l.Optional {
			alerts = append(alerts, traffic.AlertRef{Detector: l.Detector, Actor: l.Actor, IP: l.IP, Time: l.Start})
			break
		}
	}
	// ... and one false positive on a benign user a week before any attack
	alerts = append(alerts, traffic.AlertRef{Detector: "impossible_travel", Actor: ds.Users[0].Login, Time: ds.Start.Add(24 * time.Hour)})
	scores := ds.Score(alerts)
	if len(scores) < 24 {
		t.Fatalf("%d detectors scored", len(scores))
	}
	for _, s := range scores {
		if s.Recall != 1 {
			t.Errorf("%s: recall %.2f, missed %v", s.Detector, s.Recall, s.Missed)
		}
		wantFP := 0
		if s.Detector == "impossible_travel" {
			wantFP = 1
		}
		if s.FalsePositives != wantFP {
			t.Errorf("%s: %d false positives, want %d (%v)", s.Detector, s.FalsePositives, wantFP, s.FalseAlerts)
		}
	}
	// no alerts at all: recall 0 everywhere, no false positives
	for _, s := range ds.Score(nil) {
		if s.Labels > 0 && (s.Recall != 0 || len(s.Missed) != s.Labels) {
			t.Errorf("%s: recall %.2f without alerts", s.Detector, s.Recall)
		}
	}
	// the wrong detector never matches
	l := ds.Labels[0]
	if l.Matches(&traffic.AlertRef{Detector: "nope", Actor: l.Actor, IP: l.IP, Time: l.Start, EventIDs: l.EventIDs}) {
		t.Error("a different detector matched")
	}
	// too late to match without a shared event
	if l.Matches(&traffic.AlertRef{Detector: l.Detector, Actor: l.Actor, Time: l.End.Add(traffic.MatchSlack + time.Minute)}) {
		t.Error("an alert after End+MatchSlack matched")
	}
}

// TestScorecardStrictMatching holds the scoring rules of issue 11 on a
// hand-made dataset: own detector, own actor/target/IP, own window; grouped
// alerts by ID; info alerts neither way; near misses; "no cases".
func TestScorecardStrictMatching(t *testing.T) {
	t0 := time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)
	ds := &traffic.Dataset{
		Config: traffic.Config{Days: 10},
		Users:  make([]traffic.User, 100), // 1000 user-days
		Labels: []traffic.Label{
			{Detector: "failed_logins", Actor: "v@x", IP: "1.1.1.1", Start: t0, End: t0.Add(10 * time.Minute), Scenario: "a#1"},
			{Detector: "password_spray", IP: "2.2.2.1", IPs: []string{"2.2.2.2"}, Start: t0, End: t0.Add(20 * time.Minute), Scenario: "b#1"},
			{Detector: "okta_support_reset", Actor: "system@okta.com", Target: "w@x", Start: t0, End: t0.Add(time.Minute), Scenario: "c#1"},
			{Detector: "unusual_admin", Actor: "v@x", Start: t0, End: t0.Add(10 * time.Minute), Scenario: "a#1", Optional: true},
		},
		NearMisses: []traffic.Label{
			{Detector: "mfa_fatigue", Actor: "n@x", Start: t0, End: t0.Add(10 * time.Minute), Scenario: "d#1"},
		},
	}
	alerts := []traffic.AlertRef{
		// right detector, right actor, but a day later: not a detection, a false positive
		{ID: "1", Detector: "failed_logins", Severity: "high", Actor: "v@x", Time: t0.Add(24 * time.Hour)},
		// right detector and time, wrong actor and IP, shared event id: not a detection
		{ID: "2", Detector: "failed_logins", Severity: "high", Actor: "z@x", IP: "9.9.9.9", Time: t0, EventIDs: []string{"e1"}},
		// info alert on the label: neither a detection nor a false positive
		{ID: "3", Detector: "failed_logins", Severity: "info", Actor: "v@x", Time: t0},
		// a grouped alert that began before the window and was updated inside it (two versions)
		{ID: "4", Detector: "password_spray", Severity: "medium", IP: "2.2.2.2", Time: t0.Add(-2 * time.Hour)},
		{ID: "4", Detector: "password_spray", Severity: "high", IP: "2.2.2.2", Time: t0.Add(-2 * time.Hour), LastTime: t0.Add(5 * time.Minute)},
		// keyed by the account acted on
		{ID: "5", Detector: "okta_support_reset", Severity: "high", Actor: "W@X", Time: t0},
		// an optional label's detector: not a false positive
		{ID: "6", Detector: "unusual_admin", Severity: "medium", Actor: "v@x", Time: t0.Add(time.Minute)},
		// an alert on a near miss: a false positive and a below-threshold hit
		{ID: "7", Detector: "mfa_fatigue", Severity: "high", Actor: "n@x", Time: t0.Add(5 * time.Minute)},
	}
	var sc traffic.Scorecard
	sc.Known("session_hijack")
	sc.Add(ds, alerts)
	by := map[string]traffic.DetectorScore{}
	for _, s := range sc.Scores() {
		by[s.Detector] = s
	}
	if s := by["failed_logins"]; s.Detected != 0 || s.Labels != 1 || s.Recall != 0 || s.FalsePositives != 2 || s.Info != 1 || s.Alerts != 3 {
		t.Errorf("failed_logins: %+v", s)
	}
	if s := by["password_spray"]; s.Detected != 1 || s.Alerts != 1 || s.FalsePositives != 0 || s.MaxAlertsPerIncident != 1 {
		t.Errorf("password_spray (grouped alert through a secondary IP): %+v", s)
	}
	if s := by["okta_support_reset"]; s.Detected != 1 {
		t.Errorf("okta_support_reset (alert keyed by the target): %+v", s)
	}
	if s := by["unusual_admin"]; s.FalsePositives != 0 || !s.NoCases {
		t.Errorf("unusual_admin (optional only): %+v", s)
	}
	if s := by["mfa_fatigue"]; s.Below != 1 || s.BelowAlerts != 1 || s.FalsePositives != 1 || len(s.BelowHits) != 1 {
		t.Errorf("mfa_fatigue (near miss alerted): %+v", s)
	}
	if s := by["session_hijack"]; !s.NoCases || !math.IsNaN(s.Recall) || s.Alerts != 0 {
		t.Errorf("session_hijack: a detector without cases must say no cases, got %+v", s)
	}
	fp, rate := sc.Pack()
	if fp != 3 || rate != 3 {
		t.Errorf("pack: %d false positives, %.2f per 1000 user-days; want 3 and 3.00", fp, rate)
	}
	if tab := sc.Table(); !strings.Contains(tab, "no cases") || !strings.Contains(tab, "3 false positives over 1000 user-days") {
		t.Errorf("table:\n%s", tab)
	}
}

// TestScorecardPackAlertsPerIncident: the pack's worst incident counts the
// pages an analyst gets for one scenario instance — distinct non-info
// alerts of any detector, labelled for it or not, naming its actor, target
// or source IP inside its window; versions of one grouped alert count once.
func TestScorecardPackAlertsPerIncident(t *testing.T) {
	t0 := time.Date(2025, 3, 12, 10, 0, 0, 0, time.UTC)
	ds := &traffic.Dataset{
		Config: traffic.Config{Days: 10},
		Users:  make([]traffic.User, 100),
		Labels: []traffic.Label{
			{Detector: "mass_destructive", Actor: "adm@x", IP: "5.5.5.5", Start: t0, End: t0.Add(10 * time.Minute), Scenario: "m#1"},
			{Detector: "log_stream_tampering", Actor: "adm@x", IP: "5.5.5.5", Start: t0.Add(2 * time.Minute), End: t0.Add(2 * time.Minute), Scenario: "m#1"},
			{Detector: "failed_logins", Actor: "v@x", Start: t0, End: t0.Add(10 * time.Minute), Scenario: "f#1"},
		},
	}
	alerts := []traffic.AlertRef{
		{ID: "1", Detector: "mass_destructive", Severity: "critical", Actor: "adm@x", Time: t0.Add(8 * time.Minute)},
		{ID: "1", Detector: "mass_destructive", Severity: "critical", Actor: "adm@x", Time: t0.Add(8 * time.Minute), LastTime: t0.Add(9 * time.Minute)},
		{ID: "2", Detector: "log_stream_tampering", Severity: "critical", Actor: "adm@x", Time: t0.Add(2 * time.Minute)},
		// an alert opened hours earlier and updated inside the window: a page about this incident
		{ID: "3", Detector: "unusual_admin", Severity: "high", Actor: "adm@x", Time: t0.Add(-6 * time.Hour), LastTime: t0.Add(time.Minute)},
		// a detector with no label on the scenario, by its source IP
		{ID: "4", Detector: "anonymous_ip", Severity: "medium", IP: "5.5.5.5", Time: t0.Add(3 * time.Minute)},
		// info (context) and out-of-window alerts are not pages about it
		{ID: "5", Detector: "admin_activity_untrusted_ip", Severity: "info", Actor: "adm@x", Time: t0},
		{ID: "6", Detector: "unusual_admin", Severity: "high", Actor: "adm@x", Time: t0.Add(5 * time.Hour)},
		{ID: "7", Detector: "failed_logins", Severity: "high", Actor: "v@x", Time: t0.Add(time.Minute)},
	}
	var sc traffic.Scorecard
	sc.Add(ds, alerts)
	if sc.PackMaxPerIncident != 4 || sc.PackWorstIncident != "m#1" {
		t.Fatalf("worst incident %d alerts (%s), want 4 (m#1)", sc.PackMaxPerIncident, sc.PackWorstIncident)
	}
}
