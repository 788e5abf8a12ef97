package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/posture"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// ErrPostureDisabled is returned by RefreshPosture when posture.enabled is false.
var ErrPostureDisabled = errors.New("pipeline: posture evaluation is disabled (posture.enabled: false)")

// ErrFollower is returned by RefreshPosture on an instance that follows
// the org: only the leader evaluates posture (it alone calls Okta and
// writes reports; the store fences the others' writes too).
var ErrFollower = errors.New("pipeline: this instance follows the org; only the leader evaluates posture")

// DefaultPostureFirstReport is when the first evaluation publishes a
// report even though inputs are still being read (a large org's per-user
// factor reads outlast it): the first report comes within a minute of
// connecting, the complete one when the reads end.
const DefaultPostureFirstReport = 40 * time.Second

// postureState schedules posture evaluations: on start, every
// posture.interval and soon after a posture-relevant event.
type postureState struct {
	p    *Pipeline
	kick chan struct{}
	// requested counts the committed pages whose events asked for an early
	// evaluation (notice), for tests to check which events do.
	requested atomic.Int64

	runMu sync.Mutex // one evaluation at a time

	mu       sync.Mutex // guards the fields below (never held while fetching)
	last     posture.Report
	hasRep   bool
	lastFull posture.Report // the last complete report: the base of the next diff
	hasFull  bool
	running  bool
	started  time.Time
	err      string
	errAt    time.Time
}

// PostureStatus is the state of the posture evaluation.
type PostureStatus struct {
	Enabled     bool
	Running     bool      // an evaluation is in progress
	Started     time.Time // when the current (or last) evaluation started
	HasReport   bool      // a report was evaluated by this pipeline
	Partial     bool      // the latest report was published before every input was read
	EvaluatedAt time.Time
	LastError   string // why the last evaluation failed ("" when it did not)
	LastErrorAt time.Time
}

// PostureStatus reports whether an evaluation is running, the latest
// report and the last failure.
func (p *Pipeline) PostureStatus() PostureStatus {
	ps := p.posture
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return PostureStatus{Enabled: p.s.Posture.Enabled, Running: ps.running, Started: ps.started, HasReport: ps.hasRep,
		Partial: ps.hasRep && ps.last.Partial, EvaluatedAt: ps.last.EvaluatedAt, LastError: ps.err, LastErrorAt: ps.errAt}
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
			ps.requested.Add(1)
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
	// Until a first report exists, a failed evaluation is retried within
	// a minute rather than at the next interval.
	retry := min(interval, time.Minute)
	var retryC <-chan time.Time
	run := func() {
		retryC = nil
		if _, err := ps.p.RefreshPosture(ctx); err != nil && ctx.Err() == nil {
			ps.p.log.Warn("posture evaluation failed", "error", err)
			if _, ok := ps.p.LatestPosture(); !ok {
				retryC = time.After(retry)
			}
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
		case <-retryC:
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
// the Okta client (posture.Fetcher), evaluates it with the configured
// profile, records the score and per-check metrics and keeps the report
// (LatestPosture). When there is no report yet, the evaluation publishes
// a partial report after Options.PostureFirstReport if inputs are still
// being read, then the complete one.
func (p *Pipeline) RefreshPosture(ctx context.Context) (rep posture.Report, err error) {
	if !p.s.Posture.Enabled {
		return posture.Report{}, ErrPostureDisabled
	}
	prof, err := posture.ProfileByName(p.s.Posture.Profile)
	if err != nil {
		return posture.Report{}, fmt.Errorf("pipeline: posture: %w", err)
	}
	p.mu.Lock()
	role, leader := p.status.Role, p.status.Leader
	p.mu.Unlock()
	if role == RoleFollower {
		return posture.Report{}, fmt.Errorf("%w (%s leads)", ErrFollower, leader)
	}
	ps := p.posture
	ps.runMu.Lock()
	defer ps.runMu.Unlock()
	ps.mu.Lock()
	ps.running, ps.started = true, p.now()
	first := !ps.hasRep
	ps.mu.Unlock()
	defer func() {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		ps.running = false
		if err != nil && ctx.Err() == nil {
			ps.err, ps.errAt = err.Error(), p.now()
		} else if err == nil {
			ps.err = ""
		}
	}()
	prev, hasPrev := p.previousPosture(ctx, prof.Name)
	var opts posture.FetchOptions
	if first && !hasPrev { // nothing to show yet: publish early
		opts.PartialAfter = p.o.PostureFirstReport
		opts.OnPartial = func(snap posture.Snapshot) {
			p.publishPosture(ctx, p.evaluatePosture(snap, prof), nil) //nolint:errcheck // the complete report follows
		}
	}
	var f posture.Fetcher = p.client
	snap, err := f.FetchSnapshot(ctx, opts)
	if err != nil {
		return posture.Report{}, fmt.Errorf("pipeline: posture: %w", err)
	}
	rep = p.evaluatePosture(snap, prof)
	var base *posture.Report
	if hasPrev {
		base = &prev
	}
	if err := p.publishPosture(ctx, rep, base); err != nil {
		return posture.Report{}, err
	}
	return rep, nil
}

// evaluatePosture adds what the pipeline knows (its own ingestion health)
// to the snapshot and evaluates it.
func (p *Pipeline) evaluatePosture(snap posture.Snapshot, prof posture.Profile) posture.Report {
	st := p.Status()
	if !st.LastPollSuccess.IsZero() {
		snap.Ingestion = &posture.IngestionStatus{LastPollSuccess: st.LastPollSuccess, Lag: st.Lag}
	}
	return posture.EvaluateAt(snap, prof, p.now())
}

// publishPosture stores a report (and its regressions against prev, when
// given), records its metrics and makes it the latest. A save fenced by
// the store (another instance leads the org now) publishes nothing and
// is returned; other store errors are logged and the report still counts.
func (p *Pipeline) publishPosture(ctx context.Context, rep posture.Report, prev *posture.Report) error {
	if err := p.savePosture(ctx, rep); errors.Is(err, store.ErrFenced) {
		p.log.Warn("posture report not stored: another instance leads the org", "error", err)
		return err
	} else if err != nil {
		p.log.Warn("posture report not stored", "error", err)
	}
	if prev != nil {
		if _, err := p.recordRegressions(ctx, *prev, rep); err != nil {
			p.log.Warn("posture regressions not stored", "error", err)
		}
	}
	p.m.PostureScore(rep.Profile, rep.Score)
	for _, c := range rep.Checks {
		if c.Status == posture.Pass || c.Status == posture.Fail || c.Status == posture.Partial {
			p.m.CheckPassing(c.ID, c.Status == posture.Pass)
		}
	}
	ps := p.posture
	ps.mu.Lock()
	ps.last, ps.hasRep = rep, true
	if !rep.Partial {
		ps.lastFull, ps.hasFull = rep, true
	}
	ps.mu.Unlock()
	p.mu.Lock()
	p.status.PostureScore = rep.Score
	p.status.PostureProfile = rep.Profile
	p.status.PostureAt = rep.EvaluatedAt
	p.mu.Unlock()
	if rep.Partial {
		p.log.Info("first posture report published while inputs are still being read", "score", rep.Score)
	}
	return nil
}

// LatestPosture returns the last report evaluated by this pipeline (it
// does not wait for an evaluation in progress).
func (p *Pipeline) LatestPosture() (posture.Report, bool) {
	p.posture.mu.Lock()
	defer p.posture.mu.Unlock()
	return p.posture.last, p.posture.hasRep
}
