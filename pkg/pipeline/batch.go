package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Bounds of a commit that holds several pages (Options.BatchEvents,
// Options.BatchAge). While the poller returns full pages (a backfill, or
// a catch-up after downtime: more is waiting), each page is decoded,
// deduplicated, enriched and run through the detectors at once, but its
// commit is held: the pages' events, alerts, detector state and the last
// page's next link go to the store in one transaction when the held pages
// reach DefaultBatchEvents events, when the first of them was held
// DefaultBatchAge ago, when a short page arrives (the head of the log:
// committed at once, live latency unchanged), when a poll fails, or when
// the pipeline stops. A commit's dirtied index leaves and roll-up rows are
// then shared by ~ten 1 000-event pages instead of one (docs/performance.md,
// "Backfill commits several pages"). The age is 10 s rather than a
// couple: at the default rate share a 120-requests-a-minute org is paced
// to one page a second, so ten pages take ~10 s, and a shorter age would
// cap the batches below ten pages; what a backfill's commit delays are
// alerts on past events, while the live head is committed at once.
const (
	DefaultBatchEvents = 10000
	DefaultBatchAge    = 10 * time.Second
)

// publishEvents is the most events one Update carries (Okta's page limit).
const publishEvents = 1000

// batch is what the pages held for one commit carry.
type batch struct {
	pages      int
	size       int                 // events read (stored, dropped and rejected)
	ids        map[string]struct{} // uuids of events: dedup across the held pages
	events     []event.Event
	alerts     []alert.Alert
	suppressed []suppression
	released   int // events the reorder buffer released by the clock
	dups       int
	rejected   int
	degraded   int
	cp         store.Checkpoint // the checkpoint after the newest held page
	next       okta.Cursor      // where polling continues after it
	started    time.Time        // when the first page was held (pipeline clock)
	now        time.Time        // the newest page's clock
}

func (p *Pipeline) batchLimits() (int, time.Duration) {
	n, age := p.o.BatchEvents, p.o.BatchAge
	if n <= 0 {
		n = DefaultBatchEvents
	}
	if age <= 0 {
		age = DefaultBatchAge
	}
	return n, age
}

// due reports whether the held pages must be committed now, page being
// the newest of them.
func (p *Pipeline) due(b *batch, page okta.Page) bool {
	_, age := p.batchLimits()
	return !page.Full || page.Next == "" || b.size >= p.batchBound() || b.now.Sub(b.started) >= age
}

// batchBound is the events bound of the next commit: the configured one,
// lowered to what the last commit's pace allows (adaptBatch).
func (p *Pipeline) batchBound() int {
	n, _ := p.batchLimits()
	if p.batchCap > 0 {
		n = min(n, p.batchCap)
	}
	return n
}

// commitBudget is how long one commit may hold the store's writer: the
// lease is renewed through the same writer (SQLite) or row (PostgreSQL),
// and a renewal that waits past its timeout for most of the lease's TTL
// deposes the leader. Default: a sixth of the lease TTL (2.5 s).
func (p *Pipeline) commitBudget() time.Duration {
	if p.o.BatchCommitBudget > 0 {
		return p.o.BatchCommitBudget
	}
	ttl, _ := p.leaseParams()
	return ttl / 6
}

// adaptBatch sets the events bound of the next batch from the last
// commit (n events in d): the number the budget allows at the commit's
// pace, at most twice the last batch, so that the batches grow from one
// Okta page to DefaultBatchEvents on a fast store and stay below the
// budget on a slow or busy one.
func (p *Pipeline) adaptBatch(n int, d time.Duration) {
	if n <= 0 {
		return
	}
	next := 2 * n
	if d > 0 {
		next = min(next, int(float64(n)*float64(p.commitBudget())/float64(d)))
	}
	p.batchCap = max(next, 1)
}

// handlePage decodes, dedups, enriches, detects and commits one page and
// returns the cursor for the next poll.
func (p *Pipeline) handlePage(ctx context.Context, page okta.Page) (okta.Cursor, error) {
	b, err := p.hold(ctx, nil, page)
	if err != nil {
		return okta.Cursor{}, err
	}
	if err := p.commitBatch(ctx, b); err != nil {
		return okta.Cursor{}, err
	}
	return b.next, nil
}

// hold decodes, dedups, enriches and detects one page and adds it to b
// (a new batch when b is nil), which it returns; nothing is committed.
// Dedup spans the held pages: an event of an earlier held page is dropped
// like a stored one.
func (p *Pipeline) hold(ctx context.Context, b *batch, page okta.Page) (*batch, error) {
	now := p.now()
	if b == nil {
		p.mu.Lock()
		cp := p.cp
		p.mu.Unlock()
		b = &batch{ids: map[string]struct{}{}, cp: cp, started: now}
	}
	b.now = now
	b.pages++
	b.size += len(page.Events)
	if page.Skipped != nil {
		p.m.PageSkipped()
		p.mu.Lock()
		p.status.PagesSkipped++
		p.mu.Unlock()
		p.log.Error("System Log page skipped: it could not be split into events on any attempt; its events are lost",
			"page", page.Requested, "next", page.Next, "error", page.Skipped)
	}
	evs, errs := event.DecodePage(page.Events)
	for _, err := range errs {
		reason := rejectReason(err)
		var de *event.DecodeError
		uuid := ""
		if errors.As(err, &de) {
			uuid = de.UUID
		}
		p.m.Rejected(reason)
		if key := uuid + ":" + err.Error(); !p.loggedOnce(key) {
			p.log.Warn("event rejected", "uuid", uuid, "reason", reason, "error", err)
		}
	}
	b.rejected += len(errs)
	degraded := 0
	for i := range evs {
		if len(evs[i].Degraded) > 0 {
			degraded++
			p.log.Debug("event kept with fields of an unexpected type treated as absent", "uuid", evs[i].UUID, "fields", strings.Join(evs[i].Degraded, ","))
		}
	}
	b.degraded += degraded
	// Dedup: duplicates within the held pages, then the seen-set, then the
	// store. The events kept are moved down in place (an event is ~1 KB:
	// a backfill copied each one up to four times on its way to the store).
	kept := 0
	dups := 0
	for i := range evs {
		u := evs[i].UUID
		if _, dup := b.ids[u]; dup || p.seen.Has([]byte(u)) {
			dups++
			continue
		}
		b.ids[u] = struct{}{}
		if kept != i {
			evs[kept] = evs[i]
		}
		kept++
	}
	cand := evs[:kept]
	fresh := cand
	if len(cand) > 0 {
		ids := make([]string, len(cand))
		pubs := make([]time.Time, len(cand))
		for i := range cand {
			ids[i], pubs[i] = cand[i].UUID, cand[i].Published
		}
		have, err := p.st.HasEventsAt(ctx, ids, pubs)
		if err != nil {
			return b, fmt.Errorf("pipeline: dedup: %w", err)
		}
		if len(have) > 0 {
			kept := 0
			for i := range cand {
				if have[cand[i].UUID] {
					dups++
					p.seen.Set([]byte(cand[i].UUID), nil)
					continue
				}
				if kept != i {
					cand[kept] = cand[i]
				}
				kept++
			}
			fresh = cand[:kept]
		}
	}
	for i := 0; i < dups; i++ {
		p.m.Rejected("duplicate")
	}
	b.dups += dups
	var alerts []alert.Alert
	maxPub := b.cp.MaxPublished
	for i := range fresh {
		p.enr.Enrich(&fresh[i])
		alerts = append(alerts, p.eng.Process(&fresh[i])...)
		if fresh[i].Published.After(maxPub) {
			maxPub = fresh[i].Published
		}
	}
	// At the head of the log (a short page: nothing more is waiting) the
	// reorder buffer is released by the clock, so a live attack alerts a
	// reorder window after its events, not when unrelated traffic arrives.
	if !page.Full {
		held := p.eng.Buffered()
		alerts = append(alerts, p.eng.Advance(now)...)
		b.released += held - p.eng.Buffered()
	}
	alerts, suppressed := p.suppress.filter(ctx, alerts, fresh, now)
	switch {
	case b.events == nil && p.due(b, page):
		b.events = fresh // the batch ends with this page: no copy
	case b.events == nil:
		// the first of several pages: room for the pages up to the bound,
		// so that each event is copied once
		per := max(len(page.Events), 1)
		b.events = make([]event.Event, 0, (p.batchBound()+per-1)/per*per)
		fallthrough
	default:
		b.events = append(b.events, fresh...)
	}
	b.alerts = append(b.alerts, alerts...)
	b.suppressed = append(b.suppressed, suppressed...)
	b.cp.MaxPublished = maxPub
	b.cp.UpdatedAt = time.Time{}
	b.cp.NextURL = page.Next
	if !page.Full {
		b.cp.BackfillDone = true
	}
	if page.Next != "" {
		b.next = okta.Cursor{Next: page.Next}
	} else {
		// Okta always sends a next link in polling mode; without one, reopen
		// a chain from the newest event minus the overlap (dups dropped).
		s := maxPub.Add(-p.s.Okta.Overlap)
		if maxPub.IsZero() {
			s = b.cp.BackfillSince
		}
		b.next = okta.Cursor{Since: s}
		p.log.Warn("page had no next link; reopening the polling chain", "since", s.Format(time.RFC3339))
	}
	p.mu.Lock()
	p.pages++
	n := p.pages
	progress := p.setProgressLocked(b.cp, now) // how far the held pages reach: it moves with every page
	p.mu.Unlock()
	p.m.BackfillProgress(progress)
	if p.o.BeforeCommit != nil {
		p.o.BeforeCommit(n)
	}
	return b, nil
}

// loggedLimit bounds the rejected events remembered as logged: past it
// the set starts over (a flood of distinct bad events is logged again
// rather than held in memory without bound; each is counted either way).
const loggedLimit = 4096

// loggedOnce reports whether key was logged already, and remembers it.
func (p *Pipeline) loggedOnce(key string) bool {
	if _, ok := p.logged[key]; ok {
		return true
	}
	if p.logged == nil || len(p.logged) >= loggedLimit {
		p.logged = map[string]struct{}{}
	}
	p.logged[key] = struct{}{}
	return false
}

// commitBatch commits the held pages in one transaction: their events,
// their alerts (an incident that grew across them once, in its latest
// version), the detector state changed since the last commit and the
// checkpoint of the newest page. Only then are the uuids added to the
// seen-set, the counters moved and subscribers told. On error nothing of
// b is stored: the caller resets the engine from the store and polls
// again from the last committed cursor.
func (p *Pipeline) commitBatch(ctx context.Context, b *batch) error {
	p.mu.Lock()
	prev, haveCP := p.cp, p.haveCP
	p.mu.Unlock()
	cp := b.cp
	unchanged := len(b.events) == 0 && len(b.alerts) == 0 && b.released == 0 && cp.NextURL == prev.NextURL && cp.BackfillDone == prev.BackfillDone && haveCP
	inserted := 0
	if !unchanged {
		var state detect.StateDelta
		if len(b.events) > 0 || b.released > 0 {
			// only what changed since the last commit (everything on the
			// first commit of this engine); a failed commit rebuilds the
			// engine from the store (resetEngine)
			var err error
			state, err = p.eng.SaveStateDelta()
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
		}
		alerts := detect.Final(b.alerts) // an incident that grew across the held pages: its latest version
		t0 := time.Now()
		res, err := p.st.Commit(ctx, store.Batch{Events: b.events, Alerts: alerts, Checkpoint: &cp, State: state.Put, StateReset: state.Reset,
			ExceptionHits: exceptionHits(b.suppressed), HitsAt: b.now})
		if err != nil {
			p.m.StoreWriteFailed(store.WriteFailureClass(err))
			return fmt.Errorf("pipeline: commit: %w", err)
		}
		if b.size > 0 {
			p.adaptBatch(b.size, time.Since(t0))
		}
		for i := range b.events {
			p.seen.Set([]byte(b.events[i].UUID), nil)
		}
		p.countSuppressed(b.suppressed)
		inserted = res.EventsInserted
		var newAlerts, updated []alert.Alert
		for i, a := range alerts {
			if i < len(res.AlertInserted) && !res.AlertInserted[i] {
				if i < len(res.AlertUpdated) && res.AlertUpdated[i] {
					updated = append(updated, a) // an incident that grew: not a new detection
				}
				continue
			}
			newAlerts = append(newAlerts, a)
			p.m.Detection(a.Detector, a.Severity)
		}
		p.countMatches()
		p.storeFile(ctx)
		newEvents := b.events
		if len(res.Inserted) == len(b.events) && res.EventsInserted < len(b.events) {
			newEvents = make([]event.Event, 0, res.EventsInserted)
			for i := range b.events {
				if res.Inserted[i] {
					newEvents = append(newEvents, b.events[i])
				}
			}
		}
		p.mu.Lock()
		p.cp, p.haveCP = cp, true
		p.status.EventsIngested += int64(res.EventsInserted)
		p.status.Alerts += int64(len(newAlerts))
		p.mu.Unlock()
		if len(newEvents) > 0 || len(newAlerts) > 0 || len(updated) > 0 {
			// after the status below: a subscriber sees the counts of what it receives
			defer func() {
				p.posture.notice(newEvents)
				// in updates of at most one Okta page of events, as before
				// batching: a live tail sends each as one frame
				for len(newEvents) > publishEvents {
					p.publish(Update{Events: newEvents[:publishEvents:publishEvents]})
					newEvents = newEvents[publishEvents:]
				}
				p.publish(Update{Events: newEvents, Alerts: newAlerts, Updated: updated})
			}()
		}
	}
	// A poll is successful once its page is stored: a store that cannot
	// commit (disk full) stalls LastPollSuccess like an unreachable Okta,
	// so /readyz, health and the stalled-ingestion alert see it.
	now := b.now
	p.mu.Lock()
	p.status.LastPollSuccess = now
	p.status.Pages += int64(b.pages)
	p.status.Duplicates += int64(b.dups)
	p.status.Rejected += int64(b.rejected)
	p.status.Degraded += int64(b.degraded)
	p.status.MaxPublished = p.cp.MaxPublished
	p.status.BackfillDone = p.cp.BackfillDone
	progress := p.setProgressLocked(p.cp, now)
	maxP := p.cp.MaxPublished
	p.mu.Unlock()
	p.m.PollSuccess(now)
	p.m.Degraded(b.degraded)
	p.m.BackfillProgress(progress)
	if !maxP.IsZero() {
		p.m.PollLag(now.Sub(maxP))
	}
	// Counted last: a scrape that sees this commit's events also sees the
	// lag and backfill progress it reached (the exporter end-to-end test
	// once scraped all events counted with the lag of the page before).
	p.m.EventsIngested(inserted)
	return nil
}

// setProgressLocked sets the backfill progress for a checkpoint (the
// committed one, or the held pages') and returns it: (newest published -
// backfill start) / (now - backfill start) until the first short page,
// then 1.
func (p *Pipeline) setProgressLocked(cp store.Checkpoint, now time.Time) float64 {
	since := cp.BackfillSince
	if p.status.BackfillDone || cp.BackfillDone {
		p.status.BackfillProgress = 1
	} else if !since.IsZero() && now.After(since) && !cp.MaxPublished.IsZero() {
		r := float64(cp.MaxPublished.Sub(since)) / float64(now.Sub(since))
		p.status.BackfillProgress = min(max(r, 0), 0.999)
	}
	return p.status.BackfillProgress
}
