package detect_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// TestRulePackScenario runs the whole engine (every detector and rule
// enabled, the pen-test account scoped out as an operator would) over the
// generator's labelled month and scores the rule pack with the
// generator's own scorer: recall ≥ 0.95 on every labelled rule and at
// most 0.5 false positives per 1000 user-days for every rule.
func TestRulePackScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a month of traffic")
	}
	c := loadCorpus(t)
	cfg := detect.Config{}
	for _, d := range detect.Detectors() {
		cfg[d.ID] = detect.DetectorConfig{Exclude: []string{c.ds.PenTester}}
	}
	e, err := detect.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []detect.Alert
	for i := range c.events {
		alerts = append(alerts, e.Process(&c.events[i])...)
	}
	alerts = append(alerts, e.Flush()...)

	rules := map[string]bool{}
	for _, r := range detect.Rules() {
		rules[r.ID] = true
	}
	var refs []traffic.AlertRef
	for _, a := range alerts {
		if rules[a.Detector] {
			refs = append(refs, traffic.AlertRef{Detector: a.Detector, Actor: a.Actor, IP: a.IP, Time: a.Time, EventIDs: a.EventIDs})
		}
	}
	scores := c.ds.Score(refs)
	labelled := map[string]bool{}
	for _, l := range c.ds.Labels {
		labelled[l.Detector] = true
		if !rules[l.Detector] && !isBaselineDetector(l.Detector) {
			t.Errorf("the generator labels %q, which is neither a rule nor a detector", l.Detector)
		}
	}
	t.Logf("%d events, %d users, %d days; %d rule alerts of %d", len(c.events), len(c.ds.Users), c.ds.Config.Days, len(refs), len(alerts))
	t.Logf("%-28s %6s %6s %7s %7s %5s %8s", "rule", "labels", "found", "recall", "alerts", "FP", "FP/1kud")
	for _, s := range scores {
		if !rules[s.Detector] {
			continue
		}
		t.Logf("%-28s %6d %6d %7.2f %7d %5d %8.2f", s.Detector, s.Labels, s.Detected, s.Recall, s.Alerts, s.FalsePositives, s.FPPer1000UserDays)
		for _, a := range s.FalseAlerts {
			t.Logf("    unlabelled: %s %s %s %s", s.Detector, a.Time.Format(time.RFC3339), a.Actor, a.IP)
		}
		if s.Labels > 0 && s.Recall < 0.95 {
			t.Errorf("%s: recall %.2f < 0.95; missed %v", s.Detector, s.Recall, s.Missed)
		}
		if s.FPPer1000UserDays > 0.5 {
			var b strings.Builder
			for _, a := range s.FalseAlerts {
				fmt.Fprintf(&b, "\n  %s %s %s %v", a.Time.Format(time.RFC3339), a.Actor, a.IP, a.EventIDs)
			}
			t.Errorf("%s: %.2f false positives per 1000 user-days > 0.5:%s", s.Detector, s.FPPer1000UserDays, b.String())
		}
	}
	for id := range labelled {
		if rules[id] {
			found := false
			for _, s := range scores {
				found = found || s.Detector == id
			}
			if !found {
				t.Errorf("%s: labelled but not scored", id)
			}
		}
	}
}

func isBaselineDetector(id string) bool {
	for _, d := range detect.Detectors() {
		if d.ID == id {
			return true
		}
	}
	return false
}
