package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/exception"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// recentEvents bounds how many events' ASN and apps the suppression stage
// remembers for alerts released later by the engine's reorder buffer.
const recentEvents = 8192

// suppressor is the pipeline stage between detection and commit that
// drops the alerts an analyst's exception covers. It reloads the
// exceptions from the store whenever they changed (a resource, the CLI or
// another process added or removed one), so a change applies to the next
// page without a restart; expiry is checked against the clock at match
// time, so an exception lapses on its own.
type suppressor struct {
	st  store.Triager // nil: the backend has no triage; nothing is suppressed
	log *slog.Logger

	mu      sync.Mutex
	version string
	set     *exception.Set
	loaded  bool

	// uuid -> what an alert's subject needs from its event (ring-bounded)
	extra map[string]eventExtra
	ring  []string
	next  int
}

type eventExtra struct {
	asn  int
	apps []string
}

func newSuppressor(b store.Backend, log *slog.Logger) *suppressor {
	s := &suppressor{log: log, extra: map[string]eventExtra{}, ring: make([]string, recentEvents)}
	if b == nil {
		return s
	}
	st, err := store.AsTriager(b)
	if err != nil {
		log.Warn("exceptions are not applied", "error", err)
		return s
	}
	s.st = st
	return s
}

// refresh reloads the exceptions when the store's version changed. On a
// read error the previous set stays in force (before the first load,
// nothing is suppressed: an alert shown is better than one lost).
func (s *suppressor) refresh(ctx context.Context) *exception.Set {
	if s.st == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.st.ExceptionsVersion(ctx)
	if err != nil {
		s.log.Warn("cannot check exceptions; keeping the ones loaded", "error", err)
		return s.set
	}
	if s.loaded && v == s.version {
		return s.set
	}
	xs, err := s.st.Exceptions(ctx, store.ExceptionQuery{Limit: store.DefaultMaxLimit})
	if err != nil {
		s.log.Warn("cannot load exceptions; keeping the ones loaded", "error", err)
		return s.set
	}
	s.set, s.version, s.loaded = exception.New(xs), v, true
	return s.set
}

// remember keeps the ASN and apps of a page's events for alerts that the
// engine releases later.
func (s *suppressor) remember(evs []event.Event) {
	for i := range evs {
		ev := &evs[i]
		x := eventExtra{asn: ev.IP.ASN}
		if x.asn == 0 {
			x.asn = ev.Security.ASNumber
		}
		for _, t := range ev.TargetsOfType("AppInstance") {
			x.apps = append(x.apps, t.ID, t.AlternateID, t.DisplayName)
		}
		if x.asn == 0 && len(x.apps) == 0 {
			continue
		}
		if old := s.ring[s.next]; old != "" {
			delete(s.extra, old)
		}
		s.ring[s.next] = ev.UUID
		s.extra[ev.UUID] = x
		s.next = (s.next + 1) % len(s.ring)
	}
}

// subject is what an alert is matched on: the alert's own detector, actor
// and IP; the ASN and apps of its newest known event (else the ASN its
// evidence names).
func (s *suppressor) subject(a *alert.Alert) exception.Subject {
	sub := exception.Subject{Detector: a.Detector, Actor: a.Actor, IP: a.IP}
	for i := len(a.EventIDs) - 1; i >= 0; i-- {
		if x, ok := s.extra[a.EventIDs[i]]; ok {
			sub.ASN, sub.Apps = x.asn, x.apps
			break
		}
	}
	if sub.ASN == 0 {
		sub.ASN = exception.EvidenceASN(a.Evidence)
	}
	return sub
}

// filter returns the alerts no exception covers and, per exception id,
// how many it suppressed (with the suppressed alerts' detectors).
func (s *suppressor) filter(ctx context.Context, alerts []alert.Alert, fresh []event.Event, now time.Time) ([]alert.Alert, []suppression) {
	set := s.refresh(ctx)
	if set.Len() == 0 {
		return alerts, nil
	}
	if set.NeedsEvent() {
		s.remember(fresh)
	}
	if len(alerts) == 0 {
		return alerts, nil
	}
	kept := alerts[:0:0]
	var out []suppression
	for i := range alerts {
		if x, ok := set.Match(s.subject(&alerts[i]), now); ok {
			out = append(out, suppression{exceptionID: x.ID, detector: alerts[i].Detector})
			continue
		}
		kept = append(kept, alerts[i])
	}
	return kept, out
}

type suppression struct {
	exceptionID int64
	detector    string
}

// exceptionHits is a page's suppressions per exception id, committed
// with the page (store.Batch.ExceptionHits).
func exceptionHits(sups []suppression) map[int64]int64 {
	if len(sups) == 0 {
		return nil
	}
	hits := make(map[int64]int64, len(sups))
	for _, s := range sups {
		hits[s.exceptionID]++
	}
	return hits
}

// countSuppressed counts a committed page's suppressions in the metrics
// and the status (their hits on the exceptions were committed with the
// page).
func (p *Pipeline) countSuppressed(sups []suppression) {
	if len(sups) == 0 {
		return
	}
	for _, s := range sups {
		p.m.Suppressed(s.detector)
	}
	p.mu.Lock()
	p.status.Suppressed += int64(len(sups))
	p.mu.Unlock()
}
