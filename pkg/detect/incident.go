package detect

import (
	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// One incident is one alert. Findings of a detector are grouped per
// (detector, actor — or source for actor-less findings —, Finding.Key)
// while the condition lasts: the first opens an incident and raises its
// alert; a match inside the re-arm window updates that alert (same id) —
// Count, LastTime, Targets and EventIDs grow (bounded, with totals in
// the evidence), and a more severe match raises the severity and takes
// over title, summary and evidence — and the engine emits the updated
// alert again so the store can upsert it by id. After the quiet period
// (`rearm`) a new match opens a new incident.

// Bounds of an incident's alert.
const (
	maxIncidentEventIDs = 50   // eventIds kept on the alert
	maxIncidentTargets  = 20   // targets kept on the alert
	maxIncidentHashes   = 4096 // distinct event / target hashes kept for the totals
	maxTargetsPerEvent  = 3    // targets taken from one event
)

// dedupEntry is one open incident.
type dedupEntry struct {
	First int64 `json:"f"` // unix seconds of the first match
	Last  int64 `json:"l"` // unix seconds of the latest match
	// A is the incident's alert as last emitted. State saved before
	// incidents were grouped has none: such an entry only suppresses.
	A  *Alert   `json:"a,omitempty"`
	N  int      `json:"n,omitempty"`  // matches (findings)
	ET int      `json:"et,omitempty"` // distinct events
	TT int      `json:"tt,omitempty"` // distinct targets
	EH []uint32 `json:"eh,omitempty"` // hashes of the distinct events (bounded)
	TH []uint32 `json:"th,omitempty"` // hashes of the distinct targets (bounded)
}

// addHash adds h to a bounded set and reports whether it was new (past the
// bound every value counts as new: the totals become upper bounds).
func addHash(set *[]uint32, h uint32) bool {
	for _, x := range *set {
		if x == h {
			return false
		}
	}
	if len(*set) < maxIncidentHashes {
		*set = append(*set, h)
	}
	return true
}

// addMatch folds a finding's events and targets into the incident.
func (de *dedupEntry) addMatch(f *Finding) bool {
	a := de.A
	changed := false
	de.N++
	for _, id := range f.EventIDs {
		if id == "" || !addHash(&de.EH, hash32(id)) {
			continue
		}
		de.ET++
		changed = true
		if len(a.EventIDs) < maxIncidentEventIDs {
			a.EventIDs = append(a.EventIDs, id)
		}
	}
	for _, t := range f.Targets {
		if t == "" || !addHash(&de.TH, hash32(t)) {
			continue
		}
		de.TT++
		changed = true
		if len(a.Targets) < maxIncidentTargets {
			a.Targets = append(a.Targets, t)
		}
	}
	a.Count = max(de.ET, de.N)
	a.Evidence["matches"] = de.N
	a.Evidence["eventsTotal"] = de.ET
	if de.TT > 0 {
		a.Evidence["targetsTotal"] = de.TT
	}
	return changed
}

// update folds a match inside the incident window into the incident's
// alert; it reports whether the alert changed (and must be re-emitted).
func (de *dedupEntry) update(f *Finding, sev string) bool {
	a := de.A
	changed := false
	if t := f.Time.UTC(); t.After(a.LastTime) {
		a.LastTime = t
		changed = true
	}
	if alert.SeverityRank(sev) > alert.SeverityRank(a.Severity) {
		// the most severe match explains the alert
		prevSummary := a.Summary
		if f.IP != "" {
			a.IP, a.Country = f.IP, f.Country
		}
		ev := f.Evidence
		if ev == nil {
			ev = map[string]any{}
		}
		if first, ok := a.Evidence["firstSummary"]; ok {
			ev["firstSummary"] = first
		} else {
			ev["firstSummary"] = prevSummary
		}
		a.Severity, a.Title, a.Summary, a.Evidence = sev, f.Title, f.Summary, ev
		changed = true
	} else if f.Summary != "" && f.Summary != a.Summary {
		a.Evidence["lastSummary"] = f.Summary
	}
	if de.addMatch(f) {
		changed = true
	}
	return changed
}

// snapshot copies the alert so later updates of the incident do not
// change alerts already handed out.
func snapshot(a *Alert) Alert {
	out := *a
	out.EventIDs = append(make([]string, 0, len(a.EventIDs)), a.EventIDs...)
	if len(a.Targets) > 0 {
		out.Targets = append([]string(nil), a.Targets...)
	}
	out.MITRE = append([]string(nil), a.MITRE...)
	out.Evidence = make(map[string]any, len(a.Evidence))
	for k, v := range a.Evidence {
		out.Evidence[k] = v
	}
	return out
}

// eventTargets names what the event acted on, for an incident's Targets:
// its User targets other than the actor; for an administrative action
// without one, its first named target.
func eventTargets(ev *event.Event) []string {
	if ev == nil {
		return nil
	}
	var out []string
	for i := range ev.Targets {
		t := &ev.Targets[i]
		if t.Type != "User" || len(out) >= maxTargetsPerEvent {
			continue
		}
		if (t.ID != "" && t.ID == ev.Actor.ID) || (t.AlternateID != "" && normLogin(t.AlternateID) == normLogin(ev.Actor.AlternateID)) {
			continue
		}
		if n := targetName(t); n != "" {
			if t.AlternateID != "" && t.AlternateID != "unknown" {
				n = normLogin(t.AlternateID)
			}
			out = append(out, n)
		}
	}
	if len(out) == 0 && ev.IsAdminAction() && len(ev.Targets) > 0 {
		if n := targetName(&ev.Targets[0]); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Final returns the alerts of a stream that may carry updates (the same
// id emitted again as its incident grows) in their final form: one alert
// per id, the last version, in the order the ids first appeared. Replay
// and tests use it; the pipeline upserts by id instead.
func Final(alerts []Alert) []Alert {
	idx := make(map[string]int, len(alerts))
	out := make([]Alert, 0, len(alerts))
	for _, a := range alerts {
		if i, ok := idx[a.ID]; ok {
			out[i] = a
			continue
		}
		idx[a.ID] = len(out)
		out = append(out, a)
	}
	return out
}

func copyCounts(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
