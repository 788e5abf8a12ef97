package detect

import "strings"

// One incident, one alert — across detectors too. Some detectors describe
// a special case of what another one reports: when the more specific one
// has an incident open on the same actor (opened by this event or earlier,
// inside its re-arm window), a NEW alert of the subsumed detector adds
// nothing for the analyst. It is not raised: the open incident's alert
// records it in evidence.subsumed (detector, severity, summary) and is
// re-emitted, and the subsumed detector's own incident stays open without
// an alert, so its later matches in the window stay quiet too.
// An alert already raised is never withdrawn (a live consumer has it).

// subsumedBy maps a detector to the detectors that subsume it.
var subsumedBy = map[string][]string{
	// A session created in one place and replayed from another far away
	// is the journey impossible_travel measures: session_hijack names the
	// session, the origin and the replay (with the travel facts in
	// evidence.subsumed).
	"impossible_travel": {"session_hijack"},
	// unusual_admin's new-network condition is this rule's check (the
	// same learned networks, the same hostile-address signal): when both
	// run, the admin's incident is unusual_admin's one alert, which lists
	// every condition that matched (evidence.conditions).
	"admin_activity_untrusted_ip": {"unusual_admin", "helpdesk_chain"},
	// A help-desk reset followed by an enrolment and admin access is the
	// whole story of a social-engineered admin takeover: helpdesk_chain's
	// alert names the reset, the enrolment and the access; the generic
	// findings on that access (a risky sign-in reaching the console, no
	// MFA since the password) are recorded on it.
	// A sign-in after months of silence has no 30-day country baseline:
	// every country is "infrequent". dormant_account_activity's alert names
	// the return (with the previous sign-in); the country finding is
	// recorded on it. (Seen replaying the public Sekoia samples: a user
	// back from 90 days in the same country and on the same address got
	// both alerts.)
	"infrequent_country":     {"dormant_account_activity"},
	"unusual_admin":          {"helpdesk_chain"},
	"admin_console_weak_mfa": {"helpdesk_chain"},
}

// maxSubsumed bounds evidence.subsumed of one alert.
const maxSubsumed = 10

// subsume applies subsumedBy to the incidents opened while handling one
// event (opened: their dedup keys); out[from:] are this event's alerts.
func (e *Engine) subsume(from int, opened []string, sec int64) {
	for _, k := range opened {
		det, rest, _ := strings.Cut(k, "\x00")
		by := subsumedBy[det]
		if len(by) == 0 {
			continue
		}
		actor, _, _ := strings.Cut(rest, "\x00")
		de, ok := e.dedup[k]
		if !ok || de.A == nil || actor == "" {
			continue
		}
		yk, ok := e.openIncident(by, actor, sec)
		if !ok {
			continue
		}
		x := de.A
		// withdraw x from this event's output (it was never handed out)
		keep := e.out[:from]
		for _, a := range e.out[from:] {
			if a.ID != x.ID {
				keep = append(keep, a)
			}
		}
		e.out = keep
		de.A = nil
		e.dedup[k] = de
		e.dedupChanged.mark(k)
		e.stats.Alerts[det]--
		e.stats.Suppressed["subsumed"]++
		// record it on the subsuming alert and re-emit that
		y := e.dedup[yk]
		note := map[string]any{"detector": x.Detector, "severity": x.Severity, "summary": x.Summary, "time": x.Time}
		var prev []any // []any also after a state restore (JSON)
		if p, ok := y.A.Evidence["subsumed"].([]any); ok {
			prev = p
		}
		if len(prev) < maxSubsumed {
			y.A.Evidence["subsumed"] = append(prev[:len(prev):len(prev)], note)
		}
		for _, id := range x.EventIDs {
			if id != "" && addHash(&y.EH, hash32(id)) {
				y.ET++
				if len(y.A.EventIDs) < maxIncidentEventIDs {
					y.A.EventIDs = append(y.A.EventIDs, id)
				}
			}
		}
		y.A.Evidence["eventsTotal"] = y.ET
		e.dedup[yk] = y
		e.dedupChanged.mark(yk)
		replaced := false
		for i := from; i < len(e.out); i++ {
			if e.out[i].ID == y.A.ID {
				e.out[i] = snapshot(y.A)
				replaced = true
			}
		}
		if !replaced {
			e.out = append(e.out, snapshot(y.A))
			e.stats.Updates[y.A.Detector]++
		}
	}
}

// openIncident finds an open incident with an alert of one of the
// detectors on actor (dedup keys are detector \x00 actor \x00 key).
func (e *Engine) openIncident(dets []string, actor string, sec int64) (string, bool) {
	for _, det := range dets {
		rearm := int64(defaultRearm.Seconds())
		for _, d := range e.dets {
			if d.reg.Info.ID == det && d.rearm > 0 {
				rearm = int64(d.rearm.Seconds())
			}
		}
		prefix := det + "\x00" + actor + "\x00"
		for k, de := range e.dedup {
			if de.A != nil && strings.HasPrefix(k, prefix) && sec-de.Last < rearm {
				return k, true
			}
		}
	}
	return "", false
}
