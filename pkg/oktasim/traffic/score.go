package traffic

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// AlertRef is the part of an alert (pkg/alert.Alert) that scoring needs.
// Alerts that share an ID are one grouped alert updated in place: scoring
// keeps one per ID, spanning [Time, LastTime] of all its versions.
type AlertRef struct {
	ID       string
	Detector string
	Severity string // "info" alerts are context: never a detection, never a false positive
	Actor    string // actor.alternateId
	IP       string
	// IPs are further sources a grouped alert names (a campaign's
	// evidence.sourceIPs); the alert is about each of them.
	IPs      []string
	Time     time.Time // event time of the first match
	LastTime time.Time // event time of the latest match (zero: Time)
	EventIDs []string
}

func (a *AlertRef) last() time.Time {
	if a.LastTime.After(a.Time) {
		return a.LastTime
	}
	return a.Time
}

// Info reports an info-severity alert (recorded context, not a page).
func (a *AlertRef) Info() bool { return strings.EqualFold(a.Severity, "info") }

// MatchBefore and MatchSlack bound a label's window: an alert matches a
// label only when its [Time, LastTime] overlaps [Start-MatchBefore,
// End+MatchSlack]. The slack covers detectors that alert after a quiet
// period (mfa_abandonment waits 30 minutes) and nothing more.
const (
	MatchBefore = 5 * time.Minute
	MatchSlack  = 45 * time.Minute
)

// Matches reports whether alert a is about label l: the label's own
// detector, the label's own actor (or target, when the label names one;
// case-insensitive) or one of its source IPs, and the alert's time span overlapping the label's window. A shared
// event id alone is not enough: an alert of the right detector on the wrong
// actor at the wrong time is not a detection.
func (l *Label) Matches(a *AlertRef) bool {
	return a.Detector == l.Detector && l.about(a)
}

// about reports whether alert a, of any detector, names the label's actor,
// target or source IPs inside its window: what an analyst would read as
// part of the same incident.
func (l *Label) about(a *AlertRef) bool {
	if a.last().Before(l.Start.Add(-MatchBefore)) || a.Time.After(l.End.Add(MatchSlack)) {
		return false
	}
	if l.Actor != "" && strings.EqualFold(a.Actor, l.Actor) {
		return true
	}
	// an alert keyed by the account acted on (e.g. a reset by Okta Support)
	if l.Target != "" && strings.EqualFold(a.Actor, l.Target) {
		return true
	}
	for _, aip := range append([]string{a.IP}, a.IPs...) {
		if aip == "" {
			continue
		}
		if aip == l.IP {
			return true
		}
		for _, ip := range l.IPs {
			if aip == ip {
				return true
			}
		}
	}
	return false
}

// DetectorScore is one detector's result against the labels.
type DetectorScore struct {
	Detector string
	Labels   int // required labels (attacks at or above the threshold, evasions)
	Detected int // required labels matched by at least one non-info alert
	// Recall is Detected/Labels; NaN when the detector has no labelled
	// case (NoCases) — never 1.
	Recall  float64
	NoCases bool
	// Below counts just-below-threshold cases (Dataset.NearMisses) of this
	// detector; BelowAlerts the non-info alerts on them (each one is also a
	// false positive).
	Below       int
	BelowAlerts int
	Alerts      int // distinct alerts (by ID) of this detector, info included
	Info        int // info-severity alerts (context, not counted either way)
	// FalsePositives: non-info alerts matching no label of their own
	// detector (required or optional).
	FalsePositives    int
	FPPer1000UserDays float64
	// Alerts per incident: distinct alerts of this detector on each detected
	// required label (mean and worst).
	AlertsPerIncident    float64
	MaxAlertsPerIncident int
	Missed               []string   // scenario ids of the undetected required labels
	FalseAlerts          []AlertRef // the false positives (Below hits included)
	BelowHits            []string   // scenario ids of the near misses that alerted
	perIncident          int        // sum of alerts over detected labels
}

// dedupAlerts collapses the versions of a grouped alert (same ID) into one
// spanning all of them; the latest version's severity wins. Alerts without
// an ID are kept as they are.
func dedupAlerts(in []AlertRef) []AlertRef {
	out := make([]AlertRef, 0, len(in))
	at := map[string]int{}
	for _, a := range in {
		if a.ID == "" {
			out = append(out, a)
			continue
		}
		i, ok := at[a.ID]
		if !ok {
			at[a.ID] = len(out)
			out = append(out, a)
			continue
		}
		o := &out[i]
		last := o.last()
		if a.last().After(last) {
			last = a.last()
		}
		if a.Time.Before(o.Time) {
			o.Time = a.Time
		}
		o.LastTime = last
		o.Severity = a.Severity
		o.EventIDs = append(o.EventIDs, a.EventIDs...)
		o.IPs = append(o.IPs, a.IPs...)
	}
	return out
}

// Score compares alerts with the dataset's labels, per detector (see
// DetectorScore). Every id in known is reported even without labels or
// alerts ("no cases"); the result is sorted by detector id.
func (d *Dataset) Score(alerts []AlertRef, known ...string) []DetectorScore {
	var sc Scorecard
	sc.Known(known...)
	sc.Add(d, alerts)
	return sc.Scores()
}

// Scorecard accumulates scores over several datasets (seeds, org sizes).
type Scorecard struct {
	UserDays float64
	Datasets int
	by       map[string]*DetectorScore
	// worst incident over the whole pack: distinct non-info alerts of ANY
	// detector (labelled for the scenario or not) naming the actor, target
	// or source IPs of one scenario instance inside its window — the pages
	// an analyst gets for that one incident
	PackMaxPerIncident int
	PackWorstIncident  string
}

func (s *Scorecard) get(id string) *DetectorScore {
	if s.by == nil {
		s.by = map[string]*DetectorScore{}
	}
	x := s.by[id]
	if x == nil {
		x = &DetectorScore{Detector: id}
		s.by[id] = x
	}
	return x
}

// Known registers detector ids to report even when they have no case.
func (s *Scorecard) Known(ids ...string) {
	for _, id := range ids {
		s.get(id)
	}
}

// Add scores one dataset's alerts and accumulates them.
func (s *Scorecard) Add(d *Dataset, alerts []AlertRef) {
	alerts = dedupAlerts(alerts)
	s.Datasets++
	s.UserDays += float64(len(d.Users)) * float64(d.Config.Days)
	tag := ""
	if s.Datasets > 1 || d.Config.Seed != 0 {
		tag = fmt.Sprintf("seed%d/", d.Config.Seed)
	}
	for i := range d.Labels {
		l := &d.Labels[i]
		if l.Optional {
			continue
		}
		x := s.get(l.Detector)
		x.Labels++
		n := 0
		for j := range alerts {
			if !alerts[j].Info() && l.Matches(&alerts[j]) {
				n++
			}
		}
		if n == 0 {
			x.Missed = append(x.Missed, tag+l.Scenario)
			continue
		}
		x.Detected++
		x.perIncident += n
		x.MaxAlertsPerIncident = max(x.MaxAlertsPerIncident, n)
	}
	for i := range d.NearMisses {
		s.get(d.NearMisses[i].Detector).Below++
	}
	for j := range alerts {
		a := &alerts[j]
		x := s.get(a.Detector)
		x.Alerts++
		if a.Info() {
			x.Info++
			continue
		}
		matched := false
		for i := range d.Labels {
			if d.Labels[i].Matches(a) {
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		for i := range d.NearMisses {
			if d.NearMisses[i].Matches(a) {
				x.BelowAlerts++
				x.BelowHits = append(x.BelowHits, tag+d.NearMisses[i].Scenario)
				break
			}
		}
		{
			x.FalsePositives++
			x.FalseAlerts = append(x.FalseAlerts, *a)
		}
	}
	// whole-pack alerts per incident
	byScen := map[string][]*Label{}
	for i := range d.Labels {
		byScen[d.Labels[i].Scenario] = append(byScen[d.Labels[i].Scenario], &d.Labels[i])
	}
	for id, ls := range byScen {
		n := 0
		for j := range alerts {
			if alerts[j].Info() {
				continue
			}
			for _, l := range ls {
				if l.about(&alerts[j]) {
					n++
					break
				}
			}
		}
		if n > s.PackMaxPerIncident || n == s.PackMaxPerIncident && n > 0 && tag+id < s.PackWorstIncident {
			s.PackMaxPerIncident, s.PackWorstIncident = n, tag+id
		}
	}
}

// Scores returns the accumulated per-detector scores, sorted by id.
func (s *Scorecard) Scores() []DetectorScore {
	out := make([]DetectorScore, 0, len(s.by))
	for _, x := range s.by {
		y := *x
		y.NoCases = y.Labels == 0
		y.Recall = math.NaN()
		if y.Labels > 0 {
			y.Recall = float64(y.Detected) / float64(y.Labels)
		}
		if y.Detected > 0 {
			y.AlertsPerIncident = float64(y.perIncident) / float64(y.Detected)
		}
		if s.UserDays > 0 {
			y.FPPer1000UserDays = float64(y.FalsePositives) * 1000 / s.UserDays
		}
		out = append(out, y)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Detector < out[j].Detector })
	return out
}

// Pack returns the false positives of every detector together and their
// rate per 1000 user-days.
func (s *Scorecard) Pack() (fp int, per1000 float64) {
	for _, x := range s.by {
		fp += x.FalsePositives
	}
	if s.UserDays > 0 {
		per1000 = float64(fp) * 1000 / s.UserDays
	}
	return fp, per1000
}

// Table renders the scores as a fixed-width table: one row per detector
// (recall "no cases" when it has no labelled case), then the pack total.
func (s *Scorecard) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s %6s %6s %7s %5s %6s %6s %5s %5s %8s %7s %5s\n",
		"detector", "cases", "found", "recall", "below", "belowA", "alerts", "info", "FP", "FP/1kud", "al/inc", "max")
	for _, x := range s.Scores() {
		rec, api := "no cases", "-"
		if !x.NoCases {
			rec = fmt.Sprintf("%.2f", x.Recall)
		}
		if x.Detected > 0 {
			api = fmt.Sprintf("%.2f", x.AlertsPerIncident)
		}
		fmt.Fprintf(&b, "%-28s %6d %6d %7s %5d %6d %6d %5d %5d %8.3f %7s %5d\n",
			x.Detector, x.Labels, x.Detected, rec, x.Below, x.BelowAlerts, x.Alerts, x.Info, x.FalsePositives, x.FPPer1000UserDays, api, x.MaxAlertsPerIncident)
	}
	fp, rate := s.Pack()
	fmt.Fprintf(&b, "%-28s %d false positives over %.0f user-days = %.3f per 1000 user-days; worst incident %d alerts (%s)\n",
		"PACK", fp, s.UserDays, rate, s.PackMaxPerIncident, s.PackWorstIncident)
	return b.String()
}
