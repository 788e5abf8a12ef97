package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// Background builds (store.Build): work on the org's existing data that a
// schema migration leaves to do in steps after the open (the Geomap actor
// sets of a store migrated from schema 7, geo_sets.go). A build runs only
// on the handle that leads the org: Lead starts it when it takes or renews
// the lease, and stops it when another instance holds the lease; Resign
// and Close stop it. Every step also checks the lease's fencing token
// inside its transaction, as a commit does, so a deposed leader's step
// fails rather than competing with the new leader's. A failed step (a
// refused connection, a failover, a permission, a lock timeout) is
// reported — the state, the error with the password scrubbed, the
// failures in a row — and retried after a backoff doubling from
// buildRetryMin to buildRetryMax; Close cancels the wait and the step in
// flight. The steps are resumable, so a stopped build goes on from where
// it was at the next leader's start.

// Defaults of the retry backoff.
const (
	buildRetryMin = time.Second
	buildRetryMax = time.Minute
)

// bgBuild is one background build of a handle.
type bgBuild struct {
	// step runs one step with the lease token the build was started with
	// and returns the work left (0: done).
	step     func(ctx context.Context, fence int64) (int64, error)
	scrub    func(ctx context.Context, err error) string // the error as reported, without secrets
	retryMin time.Duration
	retryMax time.Duration

	mu      sync.Mutex
	cur     store.Build
	notify  []func(store.Build)
	cancel  context.CancelFunc // stops the running goroutine; nil when none
	done    chan struct{}      // closed when the last started goroutine ends
	running bool               // a goroutine was started and not stopped
	closed  bool
}

func newBuild(name, unit string, remaining int64, step func(context.Context, int64) (int64, error), scrub func(context.Context, error) string, retryMin, retryMax time.Duration) *bgBuild {
	if retryMin <= 0 {
		retryMin = buildRetryMin
	}
	if retryMax < retryMin {
		retryMax = max(retryMin, buildRetryMax)
	}
	b := &bgBuild{step: step, scrub: scrub, retryMin: retryMin, retryMax: retryMax}
	b.cur = store.Build{Name: name, Unit: unit, Remaining: remaining, State: store.BuildWaiting}
	if remaining == 0 {
		b.cur.State = store.BuildDone
	}
	return b
}

// state is the build's current state.
func (b *bgBuild) state() store.Build {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

// onChange registers f for every later change.
func (b *bgBuild) onChange(f func(store.Build)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.notify = append(b.notify, f)
}

// set changes the state under b.mu and returns the callbacks to call
// (outside the lock) with the new state.
func (b *bgBuild) set(change func(*store.Build)) (store.Build, []func(store.Build)) {
	change(&b.cur)
	return b.cur, b.notify
}

func tell(st store.Build, fs []func(store.Build)) {
	for _, f := range fs {
		f(st)
	}
}

// lead starts the build with the lease token fence unless it is running,
// done or closed.
func (b *bgBuild) lead(fence int64) {
	b.mu.Lock()
	if b.closed || b.running || b.cur.State == store.BuildDone {
		b.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	prev, done := b.done, make(chan struct{})
	b.cancel, b.done, b.running = cancel, done, true
	st, fs := b.set(func(c *store.Build) { c.State = store.BuildRunning })
	b.mu.Unlock()
	tell(st, fs)
	go b.run(ctx, fence, prev, done)
}

// follow stops the build (this handle no longer leads): the step in flight
// is cancelled and the state is waiting; it does not wait for the
// goroutine (a later lead does).
func (b *bgBuild) follow() {
	b.mu.Lock()
	if !b.running {
		b.mu.Unlock()
		return
	}
	b.cancel()
	b.running = false
	st, fs := b.set(func(c *store.Build) {
		if c.State != store.BuildDone {
			c.State = store.BuildWaiting
		}
	})
	b.mu.Unlock()
	tell(st, fs)
}

// close stops the build for good and waits for its goroutine (Close).
func (b *bgBuild) close() {
	b.follow()
	b.mu.Lock()
	b.closed = true
	done := b.done
	b.mu.Unlock()
	if done != nil {
		<-done
	}
}

// run steps until the build is done or stopped, retrying failed steps.
func (b *bgBuild) run(ctx context.Context, fence int64, prev, done chan struct{}) {
	defer close(done)
	if prev != nil {
		select { // the goroutine of an earlier leadership ends first
		case <-prev:
		case <-ctx.Done():
			return
		}
	}
	delay := b.retryMin
	for {
		left, err := b.step(ctx, fence)
		if ctx.Err() != nil {
			return // stopped: follow or close set the state
		}
		if errors.Is(err, store.ErrFenced) {
			// another instance leads now: it builds
			b.mu.Lock()
			b.running = false
			st, fs := b.set(func(c *store.Build) { c.State = store.BuildWaiting })
			b.mu.Unlock()
			tell(st, fs)
			return
		}
		if err != nil {
			msg := b.scrub(ctx, err)
			b.mu.Lock()
			st, fs := b.set(func(c *store.Build) {
				c.State, c.LastError, c.LastErrorAt = store.BuildRetrying, msg, time.Now().UTC()
				c.Failures++
			})
			b.mu.Unlock()
			tell(st, fs)
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, b.retryMax)
			continue
		}
		delay = b.retryMin
		b.mu.Lock()
		st, fs := b.set(func(c *store.Build) {
			c.Remaining, c.Failures, c.State = left, 0, store.BuildRunning
			if left == 0 {
				c.State = store.BuildDone
			}
		})
		if left == 0 {
			b.running = false
		}
		b.mu.Unlock()
		tell(st, fs)
		if left == 0 {
			return
		}
	}
}

// wait waits until the build is done (nil), or a step fails when
// failFast (its error), or ctx ends: tests and benchmarks.
func (b *bgBuild) wait(ctx context.Context, failFast bool) error {
	ch := make(chan struct{}, 1)
	wake := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	b.onChange(func(store.Build) { wake() })
	wake()
	for {
		select {
		case <-ch:
		case <-ctx.Done():
			if st := b.state(); st.LastError != "" {
				return errors.Join(ctx.Err(), errors.New(st.LastError))
			}
			return ctx.Err()
		}
		switch st := b.state(); {
		case st.State == store.BuildDone:
			return nil
		case failFast && st.State == store.BuildRetrying:
			return errors.New(st.LastError)
		}
	}
}

// Builds is the state of the handle's background builds (store.BuildReporter).
func (s *Store) Builds() []store.Build {
	if s.geoBuild == nil {
		return nil
	}
	return []store.Build{s.geoBuild.state()}
}

// OnBuild calls f after every change of a build's state.
func (s *Store) OnBuild(f func(store.Build)) {
	if s.geoBuild != nil {
		s.geoBuild.onChange(f)
	}
}

var _ store.BuildReporter = (*Store)(nil)

// buildErr is a failed step's error as reported: classed and explained
// like a failed write (explainOp), the password scrubbed.
func (s *Store) buildErr(ctx context.Context, err error) string {
	return s.scrub(s.explainOp(ctx, err).Error())
}
