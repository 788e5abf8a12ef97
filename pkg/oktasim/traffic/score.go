package traffic

import (
	"sort"
	"time"
)

// AlertRef is the part of an alert (pkg/alert.Alert) that scoring needs.
type AlertRef struct {
	Detector string
	Actor    string // actor.alternateId
	IP       string
	Time     time.Time // event time of the alert
	EventIDs []string
}

// DetectorScore is one detector's result against the labels.
type DetectorScore struct {
	Detector          string
	Labels            int      // required labels
	Detected          int      // required labels matched by at least one alert
	Recall            float64  // Detected / Labels (1 when there are no labels)
	Alerts            int      // alerts of this detector
	FalsePositives    int      // alerts matching no label (required or optional)
	FPPer1000UserDays float64  // FalsePositives per 1000 user-days of the dataset
	Missed            []string // scenario ids of the undetected required labels
	FalseAlerts       []AlertRef
}

// MatchSlack is how far past a label's End an alert may be stamped and still
// match it (detectors alert on the last event of a window, dedup, reorder).
const MatchSlack = 2 * time.Hour

// Matches reports whether alert a is about label l: same detector, and either
// a shared event id, or the same actor (or, for IP-keyed labels, the same IP)
// with the alert's time inside [Start-5m, End+MatchSlack].
func (l *Label) Matches(a *AlertRef) bool {
	if a.Detector != l.Detector {
		return false
	}
	for _, id := range a.EventIDs {
		for _, lid := range l.EventIDs {
			if id == lid {
				return true
			}
		}
	}
	if a.Time.Before(l.Start.Add(-5*time.Minute)) || a.Time.After(l.End.Add(MatchSlack)) {
		return false
	}
	if l.Actor != "" && a.Actor == l.Actor {
		return true
	}
	return l.IP != "" && a.IP == l.IP
}

// Score compares alerts with the dataset's labels, per detector: recall over
// required labels, and alerts matching no label as false positives (an alert
// matching an Optional label is neither). Detectors with neither labels nor
// alerts are omitted; the result is sorted by detector id.
func (d *Dataset) Score(alerts []AlertRef) []DetectorScore {
	by := map[string]*DetectorScore{}
	get := func(id string) *DetectorScore {
		s := by[id]
		if s == nil {
			s = &DetectorScore{Detector: id}
			by[id] = s
		}
		return s
	}
	userDays := float64(len(d.Users)) * float64(d.Config.Days)
	for i := range d.Labels {
		l := &d.Labels[i]
		if l.Optional {
			continue
		}
		s := get(l.Detector)
		s.Labels++
		hit := false
		for j := range alerts {
			if l.Matches(&alerts[j]) {
				hit = true
				break
			}
		}
		if hit {
			s.Detected++
		} else {
			s.Missed = append(s.Missed, l.Scenario)
		}
	}
	for j := range alerts {
		a := &alerts[j]
		s := get(a.Detector)
		s.Alerts++
		matched := false
		for i := range d.Labels {
			if d.Labels[i].Matches(a) {
				matched = true
				break
			}
		}
		if !matched {
			s.FalsePositives++
			s.FalseAlerts = append(s.FalseAlerts, *a)
		}
	}
	out := make([]DetectorScore, 0, len(by))
	for _, s := range by {
		s.Recall = 1
		if s.Labels > 0 {
			s.Recall = float64(s.Detected) / float64(s.Labels)
		}
		if userDays > 0 {
			s.FPPer1000UserDays = float64(s.FalsePositives) * 1000 / userDays
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Detector < out[j].Detector })
	return out
}
