package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

// ErrPostureDisabled is returned by RefreshPosture when posture.enabled is false.
var ErrPostureDisabled = errors.New("pipeline: posture evaluation is disabled (posture.enabled: false)")

// postureState schedules posture evaluations: on start, every
// posture.interval and soon after a posture-relevant event.
type postureState struct {
	p    *Pipeline
	kick chan struct{}

	mu     sync.Mutex // one evaluation at a time
	last   posture.Report
	hasRep bool
}

func newPostureState(p *Pipeline) *postureState {
	return &postureState{p: p, kick: make(chan struct{}, 1)}
}

// notice requests an early evaluation when a committed event changes
// something the posture checks read (policies, authenticators, admin
// roles, apps, zones, API tokens, IdPs, org settings).
func (ps *postureState) notice(evs []event.Event) {
	for i := range evs {
		if PostureRelevant(evs[i].EventType) {
			select {
			case ps.kick <- struct{}{}:
			default:
			}
			return
		}
	}
}

func (ps *postureState) loop(ctx context.Context) {
	if !ps.p.s.Posture.Enabled {
		<-ctx.Done()
		return
	}
	interval := ps.p.s.Posture.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	run := func() {
		if _, err := ps.p.RefreshPosture(ctx); err != nil && ctx.Err() == nil {
			ps.p.log.Warn("posture evaluation failed", "error", err)
		}
	}
	run()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			run()
		case <-ps.kick:
			// Debounce: a burst of changes gives one evaluation.
			if sleep(ctx, ps.p.o.PostureDebounce) != nil {
				return
			}
			select { // coalesce kicks that arrived meanwhile
			case <-ps.kick:
			default:
			}
			run()
		}
	}
}

// RefreshPosture fetches a snapshot of the org's configuration through
// the Okta client, evaluates it with the configured profile, records the
// score and per-check metrics and keeps the report (LatestPosture).
func (p *Pipeline) RefreshPosture(ctx context.Context) (posture.Report, error) {
	if !p.s.Posture.Enabled {
		return posture.Report{}, ErrPostureDisabled
	}
	prof, err := posture.ProfileByName(p.s.Posture.Profile)
	if err != nil {
		return posture.Report{}, fmt.Errorf("pipeline: posture: %w", err)
	}
	ps := p.posture
	ps.mu.Lock()
	defer ps.mu.Unlock()
	snap, err := okta.FetchSnapshot(ctx, p.client)
	if err != nil {
		return posture.Report{}, fmt.Errorf("pipeline: posture: %w", err)
	}
	rep := posture.EvaluateAt(snap, prof, p.now())
	prev, hasPrev := p.previousPosture(ctx, rep.Profile)
	if err := p.savePosture(ctx, rep); err != nil {
		p.log.Warn("posture report not stored", "error", err)
	}
	if hasPrev {
		if _, err := p.recordRegressions(ctx, prev, rep); err != nil {
			p.log.Warn("posture regressions not stored", "error", err)
		}
	}
	p.m.PostureScore(rep.Profile, rep.Score)
	for _, c := range rep.Checks {
		if c.Status == posture.Pass || c.Status == posture.Fail || c.Status == posture.Partial {
			p.m.CheckPassing(c.ID, c.Status == posture.Pass)
		}
	}
	ps.last, ps.hasRep = rep, true
	p.mu.Lock()
	p.status.PostureScore = rep.Score
	p.status.PostureProfile = rep.Profile
	p.status.PostureAt = rep.EvaluatedAt
	p.mu.Unlock()
	return rep, nil
}

// LatestPosture returns the last report evaluated by this pipeline.
func (p *Pipeline) LatestPosture() (posture.Report, bool) {
	p.posture.mu.Lock()
	defer p.posture.mu.Unlock()
	return p.posture.last, p.posture.hasRep
}
