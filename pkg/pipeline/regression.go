package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/posture"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// causeSlack widens the window searched for the System Log event behind a
// regression: the event may be published shortly before the previous
// evaluation read the org (Okta persists events with a small delay).
const causeSlack = 5 * time.Minute

// previousPosture is the report to compare a new one with: the one this
// pipeline evaluated last, else the newest stored one (after a restart).
func (p *Pipeline) previousPosture(ctx context.Context, profile string) (posture.Report, bool) {
	p.posture.mu.Lock()
	full, hasFull := p.posture.lastFull, p.posture.hasFull
	p.posture.mu.Unlock()
	if hasFull && full.Profile == profile {
		return full, true
	}
	rec, ok, err := p.st.LatestPostureReport(ctx, profile)
	if err != nil || !ok || len(rec.JSON) == 0 {
		return posture.Report{}, false
	}
	var rep posture.Report
	if err := json.Unmarshal(rec.JSON, &rep); err != nil {
		p.log.Warn("stored posture report unreadable; no drift computed", "error", err)
		return posture.Report{}, false
	}
	if rep.Partial { // its unread inputs would hide what changed
		return posture.Report{}, false
	}
	return rep, true
}

// recordRegressions stores every check/resource that got worse between
// prev and cur, linked to the System Log event (and its actor) that most
// likely caused it: the newest posture-relevant event between the two
// evaluations, preferring one whose target names the resource.
func (p *Pipeline) recordRegressions(ctx context.Context, prev, cur posture.Report) ([]store.Regression, error) {
	changes := posture.Regressions(posture.Diff(prev, cur))
	if len(changes) == 0 {
		return nil, nil
	}
	causes, err := p.postureChanges(ctx, prev.EvaluatedAt.Add(-causeSlack), cur.EvaluatedAt)
	if err != nil {
		return nil, err
	}
	var out []store.Regression
	for _, c := range changes {
		r := store.Regression{Time: cur.EvaluatedAt, CheckID: c.Check, Title: c.Title, Resource: c.Resource,
			From: string(c.From), To: string(c.To)}
		if ev, ok := bestCause(causes, c.Resource); ok {
			r.EventID, r.Actor = ev.UUID, ev.Actor
			r.Detail = fmt.Sprintf("%s by %s at %s: %s", ev.EventType, ev.Actor, ev.Published.UTC().Format(time.RFC3339), ev.DisplayMessage)
		} else {
			r.Detail = "no configuration change in the System Log between the two evaluations"
		}
		if err := p.st.SaveRegression(ctx, r); err != nil {
			p.writeFailed(ctx, err)
			return out, fmt.Errorf("pipeline: %w", err)
		}
		p.log.Warn("posture regression", "check", c.Check, "resource", c.Resource, "from", c.From, "to", c.To, "event", r.EventID, "actor", r.Actor)
		out = append(out, r)
	}
	return out, nil
}

// postureChanges returns the posture-relevant events published in
// [from, to], newest first.
func (p *Pipeline) postureChanges(ctx context.Context, from, to time.Time) ([]store.EventRow, error) {
	var out []store.EventRow
	for _, prefix := range postureEventPrefixes {
		rows, err := p.st.QueryEvents(ctx, store.EventQuery{From: from, To: to, EventTypePrefix: prefix, Limit: 200, NoRaw: true})
		if err != nil {
			return nil, fmt.Errorf("pipeline: regression causes: %w", err)
		}
		for _, r := range rows {
			if PostureRelevant(r.EventType) {
				out = append(out, r)
			}
		}
	}
	// newest first across prefixes
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Published.After(out[j-1].Published); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// bestCause picks the newest change whose target or message names the
// resource, else the newest change.
func bestCause(events []store.EventRow, resource string) (store.EventRow, bool) {
	if len(events) == 0 {
		return store.EventRow{}, false
	}
	if name := resourceName(resource); name != "" {
		for _, ev := range events {
			if strings.Contains(strings.ToLower(ev.Target), name) || strings.Contains(strings.ToLower(ev.DisplayMessage), name) {
				return ev, true
			}
		}
	}
	return events[0], true
}

// resourceName extracts the comparable name of a finding's resource, e.g.
// `policy "Contractors" (00p1)` -> contractors.
func resourceName(resource string) string {
	r := strings.ToLower(resource)
	if i := strings.IndexByte(r, '"'); i >= 0 {
		if j := strings.IndexByte(r[i+1:], '"'); j > 0 {
			return r[i+1 : i+1+j]
		}
	}
	if i := strings.Index(r, ":"); i >= 0 {
		r = r[i+1:]
	}
	return strings.TrimSpace(r)
}
