package traffic_test

import (
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
