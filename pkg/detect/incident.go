package detect

import (
	"strings"

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
	if r, was := alert.SeverityRank(sev), alert.SeverityRank(a.Severity); r > was || f.Summarises && r == was {
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
		conds := mergeConditions(a.Evidence, f.Evidence)
		a.Severity, a.Title, a.Summary, a.Evidence = sev, f.Title, f.Summary, ev
		if len(conds) > 1 {
			a.Evidence["conditions"] = conds
		}
		changed = true
	} else {
		if f.Summary != "" && f.Summary != a.Summary {
			a.Evidence["lastSummary"] = f.Summary
		}
		if conds := mergeConditions(a.Evidence, f.Evidence); len(conds) > 1 {
			if p, _ := a.Evidence["conditions"].([]any); len(p) != len(conds) {
				a.Evidence["conditions"] = conds
				changed = true
			}
		}
	}
	if de.addMatch(f) {
		changed = true
	}
	return changed
}

// maxSourceIPs bounds evidence.sourceIPs of a campaign's alert.
const maxSourceIPs = 20

// joinCampaign folds a source-keyed finding of a GroupSources detector
// into the open incident of another source whose latest match is at most
// within seconds old (the most recent one): one campaign, one alert. It
// reports whether it did.
func (e *Engine) joinCampaign(id string, f *Finding, sev string, sec, rearm, within int64, fixed bool) bool {
	prefix := id + "\x00\x00"
	best, bestLast := "", int64(0)
	for k, de := range e.dedup {
		if de.A == nil || !strings.HasPrefix(k, prefix) {
			continue
		}
		ref := de.Last
		if fixed {
			ref = de.First
		}
		if sec-ref >= rearm || sec-de.Last > within || sec < de.First {
			continue
		}
		if de.Last > bestLast || de.Last == bestLast && k < best {
			best, bestLast = k, de.Last
		}
	}
	if best == "" {
		return false
	}
	de := e.dedup[best]
	a := de.A
	var ips []any
	if p, ok := a.Evidence["sourceIPs"].([]any); ok { // []any also after a state restore (JSON)
		ips = p
	} else if a.IP != "" {
		ips = []any{a.IP}
	}
	total := len(ips)
	if t, ok := a.Evidence["sourceIPsTotal"]; ok {
		total = toInt(t)
	}
	known := f.IP == ""
	for _, x := range ips {
		if x == f.IP {
			known = true
		}
	}
	if !known {
		total++
		if len(ips) < maxSourceIPs {
			ips = append(ips[:len(ips):len(ips)], f.IP)
		}
	}
	if sec > de.Last {
		de.Last = sec
	}
	e.stats.Suppressed["dedup"]++
	changed := de.update(f, sev)
	// update may have taken over the evidence (a more severe match)
	if p, _ := a.Evidence["sourceIPs"].([]any); len(p) != len(ips) {
		changed = true
	}
	a.Evidence["sourceIPs"] = ips
	a.Evidence["sourceIPsTotal"] = total
	if changed {
		e.stats.Updates[id]++
		e.out = append(e.out, snapshot(a))
	}
	e.dedup[best] = de
	e.dedupChanged.mark(best)
	return true
}

// toInt reads a count from evidence (int, or float64 after a JSON restore).
func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return int(x)
	case int64:
		return int(x)
	}
	return 0
}

// maxConditions bounds evidence.conditions of one alert.
const maxConditions = 10

// mergeConditions lists the distinct conditions (evidence.condition, or a
// rule's evidence.pattern) that
// matched in one incident, in the order they first matched: a detector
// that checks several (unusual_admin: new network, new action type,
// volume, ...) raises one alert per actor and window, and the analyst sees
// every reason on it. prev is the alert's evidence, next the new match's.
func mergeConditions(prev, next map[string]any) []any {
	var list []any
	if p, ok := prev["conditions"].([]any); ok { // []any also after a state restore (JSON)
		list = p
	} else if c := conditionOf(prev); c != "" {
		list = []any{c}
	}
	c := conditionOf(next)
	if c == "" || len(list) >= maxConditions {
		return list
	}
	for _, x := range list {
		if x == c {
			return list
		}
	}
	return append(list[:len(list):len(list)], c)
}

// conditionOf names what matched: a detector's evidence.condition, else a
// rule's evidence.pattern.
func conditionOf(ev map[string]any) string {
	if c, ok := ev["condition"].(string); ok && c != "" {
		return c
	}
	c, _ := ev["pattern"].(string)
	return c
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
