// Package pipeline owns the ingestion loop of one Okta org:
// poll → decode → dedup → enrich → detect → commit → count. A page's new
// events, the alerts they raise, the detection engine's state and the
// checkpoint that follows the page are committed in one store
// transaction, so a restart (or a kill -9 between fetching and
// committing) resumes exactly where the last commit left off and nothing
// is stored twice.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/fastcache"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/enrich"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/posture"
	"github.com/oktaguard/oktaguard/pkg/retry"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/backend"
)

// seenCacheBytes bounds the in-memory uuid seen-set (fastcache evicts the
// oldest entries beyond it; the store's unique key stays authoritative).
const seenCacheBytes = 32 << 20

// Options are the pipeline's collaborators. Every field is optional.
type Options struct {
	Logger  *slog.Logger
	Metrics *metrics.Metrics // nil is a valid no-op
	// Store is used instead of opening Settings.Storage.Path; the caller
	// keeps ownership (Close does not close it).
	Store store.Backend
	// OktaOptions are passed to okta.NewClient (transport, backoff, ...).
	OktaOptions []okta.Option
	// DetectOptions are passed to detect.NewEngine.
	DetectOptions []detect.Option
	// Now is the clock (default time.Now).
	Now func() time.Time
	// PruneInterval is how often retention pruning runs (default 1h).
	PruneInterval time.Duration
	// BeforeCommit, when set, is called after a page was fetched and
	// processed and before it is committed or held for a later commit
	// (n counts pages from 1). Tests use it to kill the process between
	// fetch and commit.
	BeforeCommit func(n int)
	// BatchEvents and BatchAge bound a commit of several full pages
	// (backfill, catch-up): defaults DefaultBatchEvents and
	// DefaultBatchAge; BatchEvents 1 commits every page on its own.
	BatchEvents int
	BatchAge    time.Duration
	// BatchCommitBudget bounds how long one commit may take: the next
	// batch's events bound follows the last commit's pace (default a
	// sixth of LeaseTTL; see adaptBatch).
	BatchCommitBudget time.Duration
	// PostureDebounce is the wait between a posture-relevant event and
	// the re-evaluation it triggers (default 5s).
	PostureDebounce time.Duration
	// PostureFirstReport is when the first posture evaluation publishes a
	// partial report if inputs are still being read (default
	// DefaultPostureFirstReport).
	PostureFirstReport time.Duration
	// LeaseTTL is how long the org's lease lasts without renewal (default
	// 15s): a dead leader is replaced within LeaseTTL + LeaseRetry.
	LeaseTTL time.Duration
	// LeaseRetry is how often a follower tries to take the lease (default 1s).
	LeaseRetry time.Duration
	// InstanceID names this instance in the lease, health and metrics
	// (default host/pid/random).
	InstanceID string
	// ShutdownGrace bounds how long an in-flight request may still finish
	// after the context is cancelled (default: the okta request timeout,
	// at most 30s).
	ShutdownGrace time.Duration
}

// Status is a snapshot of the pipeline's health.
type Status struct {
	Running            bool
	BackfillProgress   float64 // 0..1
	BackfillDone       bool
	BackfillSince      time.Time
	MaxPublished       time.Time
	LastPollSuccess    time.Time     // the newest poll whose page is stored (held pages count once committed)
	Lag                time.Duration // now - newest published committed
	RateLimitLimit     int
	RateLimitRemaining int
	RateLimitBudget    int // requests/minute this collector allows itself
	// LastError is the most recent error (not cleared by later successes:
	// compare LastErrorAt with LastPollSuccess).
	LastError      string
	LastErrorAt    time.Time
	EventsIngested int64 // new events committed by this process
	Duplicates     int64 // events dropped as already stored
	Rejected       int64 // events that failed to decode
	Degraded       int64 // events decoded with an optional field treated as absent (event.Event.Degraded)
	Alerts         int64 // new alerts committed by this process
	Suppressed     int64 // alerts an exception suppressed (this process)
	Pages          int64
	PagesSkipped   int64 // pages stepped past unread (see okta.Page.Skipped)
	// InputProblems are the rejected enrichment inputs (IP-list lines,
	// failed list or GeoIP reloads), one line each (enrich.Status.Problems).
	InputProblems []string
	// GeoIP is each configured GeoIP database as in use: the last one that
	// loaded (type, build date) and a failed reload since, if any.
	GeoIP            []enrich.DBStatus
	CursorRecoveries int64
	PostureScore     float64
	PostureProfile   string
	PostureAt        time.Time
	// HA: Role is "leader" (this instance ingests and evaluates posture) or
	// "follower" (it serves queries; Leader ingests); "" before the first
	// lease attempt.
	Role       string
	Leader     string // the instance holding the org's lease ("" = none)
	Instance   string // this instance
	LeaseToken int64
	// ReadOnly: the store may only be read (the user's privileges, a
	// read-only session or a hot standby), so this instance follows
	// and never leads (a query-only replica).
	ReadOnly bool
	// StoreIntegrity is the SQLite store's integrity check, run in the
	// background after the open (State "" for PostgreSQL).
	StoreIntegrity store.Integrity
	// StoreBuilds are the store's background builds (PostgreSQL's geo
	// sets after a migration; none for SQLite): state, work left, last
	// error (store.Build).
	StoreBuilds []store.Build
}

// Update is what a live-tail subscriber receives after each commit.
type Update struct {
	Events []event.Event
	// Alerts are new alerts: each opens an incident (its id is new).
	Alerts []alert.Alert
	// Updated are grouped alerts published before whose incident grew in
	// this commit (another match: count, last time, targets, event ids,
	// maybe severity): the same id, the new version — a consumer replaces
	// the alert it holds with that id.
	Updated []alert.Alert
}

// Pipeline runs ingestion for one org.
type Pipeline struct {
	s        config.Settings
	o        Options
	log      *slog.Logger
	m        *metrics.Metrics
	now      func() time.Time
	st       store.Backend
	ownStore bool
	client   *okta.Client
	poller   *okta.LogPoller
	enr      *enrich.Enricher
	eng      *detect.Engine
	matched  map[string]int64 // engine matches already counted in metrics, per detector
	seen     *fastcache.Cache
	// logged: the rejected events logged already (log once each; kept
	// apart from seen, which a takeover forgets)
	logged   map[string]struct{}
	suppress *suppressor
	// batchCap is the events bound of the next batch (0: Options'),
	// set from each commit's pace (adaptBatch); ingest's goroutine only
	batchCap int

	runMu sync.Mutex // one Run at a time

	mu     sync.Mutex
	status Status
	cp     store.Checkpoint
	haveCP bool
	pages  int

	subMu  sync.Mutex
	subs   map[int]chan Update
	nextID int

	posture *postureState

	closeOnce sync.Once
}

// countMatches adds the engine's matched findings since the last call to
// the matches metric (called after a successful commit).
func (p *Pipeline) countMatches() {
	if p.matched == nil {
		p.matched = map[string]int64{}
	}
	for det, n := range p.eng.Stats().Matches {
		if d := n - p.matched[det]; d > 0 {
			p.m.DetectionMatches(det, d)
			p.matched[det] = n
		}
	}
}

// New builds the pipeline: validates settings, opens the store (unless
// given), creates the Okta client, the enricher and the detection engine,
// and restores the engine's state from the store.
func New(s config.Settings, o Options) (*Pipeline, error) {
	ctx := context.Background()
	s.Okta = s.Okta.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p := &Pipeline{s: s, o: o, log: o.Logger, m: o.Metrics, now: o.Now, subs: map[int]chan Update{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.o.PruneInterval <= 0 {
		p.o.PruneInterval = time.Hour
	}
	if p.o.InstanceID == "" {
		p.o.InstanceID = NewInstanceID()
	}
	p.status.Instance = p.o.InstanceID
	if p.o.PostureDebounce <= 0 {
		p.o.PostureDebounce = 5 * time.Second
	}
	if p.o.PostureFirstReport <= 0 {
		p.o.PostureFirstReport = DefaultPostureFirstReport
	}
	if p.o.ShutdownGrace <= 0 {
		p.o.ShutdownGrace = min(s.Okta.RequestTimeout, 30*time.Second)
	}
	oopts := append([]okta.Option{okta.WithLogger(p.log), okta.WithObserver(p.m)}, o.OktaOptions...)
	client, err := okta.NewClient(ctx, s.Okta, oopts...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.client = client
	p.poller = okta.NewLogPoller(client)
	if o.Store != nil {
		p.st = o.Store
	} else {
		st, err := backend.Open(ctx, StorageConfig(s.Storage, client.OrgURL().String()))
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		p.st, p.ownStore = st, true
	}
	p.watchIntegrity()
	p.watchBuilds()
	p.storeFile(ctx)
	// Every rejected enrichment input (bad IP-list lines, failed list or
	// GeoIP reloads, undecodable GeoIP records) is logged (file:line
	// samples) and counted as it happens, and shown in Status (health,
	// /readyz) through enrich.Status.Problems.
	ec := s.EnrichConfig()
	var logMu sync.Mutex
	logged := map[string]bool{} // a damaged GeoIP record is met once per IP: log each problem once
	ec.OnReject = func(source string, n int, problem string) {
		p.m.InputRejected(source, n)
		logMu.Lock()
		first := true
		if strings.Contains(problem, "a record cannot be decoded") {
			first = !logged[problem] && len(logged) < 1000
			if first {
				logged[problem] = true
			}
		}
		logMu.Unlock()
		if first {
			p.log.Warn("enrichment input rejected", "source", source, "problem", problem)
		}
	}
	ec.OnGeoIPReloadFailed = p.m.GeoIPReloadFailed
	p.enr, err = enrich.New(ec)
	if err != nil {
		p.closeStore()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if err := p.resetEngine(ctx); err != nil {
		p.enr.Close()
		p.closeStore()
		return nil, err
	}
	p.seen = fastcache.New(seenCacheBytes)
	p.batchCap = 1000 // one full Okta page, then adaptBatch
	p.suppress = newSuppressor(p.st, p.log)
	cp, ok, err := p.st.LoadCheckpoint(ctx)
	if err != nil {
		p.enr.Close()
		p.closeStore()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.cp, p.haveCP = cp, ok
	p.status.BackfillDone = ok && cp.BackfillDone
	p.status.BackfillSince = cp.BackfillSince
	p.status.MaxPublished = cp.MaxPublished
	if p.status.BackfillDone {
		p.status.BackfillProgress = 1
	}
	p.posture = newPostureState(p)
	return p, nil
}

// resetEngine (re)creates the detection engine from the committed state,
// so that after a failed commit the in-memory baselines match the store.
func (p *Pipeline) resetEngine(ctx context.Context) error {
	eng, err := detect.NewEngine(p.s.Detectors, p.o.DetectOptions...)
	if err != nil {
		return fmt.Errorf("pipeline: detectors: %w", err)
	}
	state, err := p.st.AllState(ctx, detect.StateKeyPrefix)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	if len(state) > 0 {
		if err := eng.LoadState(state); err != nil {
			return fmt.Errorf("%w: %w", errStateCorrupt, err)
		}
	}
	p.eng = eng
	return nil
}

func (p *Pipeline) closeStore() {
	if p.ownStore && p.st != nil {
		p.st.Close()
	}
}

// Store returns the pipeline's store.
func (p *Pipeline) Store() store.Backend { return p.st }

// Client returns the Okta client.
func (p *Pipeline) Client() *okta.Client { return p.client }

// Settings returns the effective settings.
func (p *Pipeline) Settings() config.Settings { return p.s }

// Close releases the store (when opened by New) and the enricher.
func (p *Pipeline) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.subMu.Lock()
		for id, ch := range p.subs {
			close(ch)
			delete(p.subs, id)
		}
		p.subMu.Unlock()
		if p.enr != nil {
			p.enr.Close()
		}
		if p.ownStore {
			err = p.st.Close()
		}
	})
	return err
}

// CheckInputs checks the enrichment files (GeoIP databases, IP lists) now,
// as the periodic check does: a changed file is loaded, or its failure
// recorded (Status.GeoIP, InputProblems) with the data before kept in use.
// The health check calls it so that it reports the files as they are.
func (p *Pipeline) CheckInputs() {
	_, _ = p.enr.Reload()
}

// Status returns a snapshot of the pipeline's health.
func (p *Pipeline) Status() Status {
	p.mu.Lock()
	st := p.status
	p.mu.Unlock()
	rl := p.client.RateLimit(okta.LogsPath)
	st.RateLimitLimit, st.RateLimitRemaining, st.RateLimitBudget = rl.Limit, rl.Remaining, rl.Budget
	if !st.MaxPublished.IsZero() {
		st.Lag = p.now().Sub(st.MaxPublished)
	}
	es := p.enr.Status()
	st.InputProblems, st.GeoIP = es.Problems(), es.Databases
	if ir, ok := p.st.(store.IntegrityReporter); ok {
		st.StoreIntegrity = ir.Integrity()
	}
	if br, ok := p.st.(store.BuildReporter); ok {
		st.StoreBuilds = br.Builds()
	}
	return st
}

// writeFailed counts a write other than a page commit that the store
// refused (a prune, a posture report or regression, exception hits, the
// lease) by class, as commitBatch counts a page commit's; a write stopped
// by ctx (shutdown, lost leadership) is not the store's failure.
func (p *Pipeline) writeFailed(ctx context.Context, err error) {
	if err != nil && ctx.Err() == nil {
		p.m.StoreWriteFailed(store.WriteFailureClass(err))
	}
}

// watchIntegrity publishes the store's integrity check (a SQLite store
// checks its file in the background after the open): the metric now and
// when it finishes, and its result in the log.
func (p *Pipeline) watchIntegrity() {
	ir, ok := p.st.(store.IntegrityReporter)
	if !ok {
		return
	}
	p.m.StoreIntegrity(ir.Integrity().State)
	ir.OnIntegrity(func(in store.Integrity) {
		p.m.StoreIntegrity(in.State)
		switch in.State {
		case store.IntegrityCorrupt:
			p.log.Error("store integrity check found damage; commits are refused", "path", in.Path, "error", in.Err)
		case store.IntegrityStopped:
			p.log.Warn("store integrity check did not finish", "path", in.Path, "error", in.Err)
		case store.IntegrityOK:
			if !in.Started.IsZero() {
				p.log.Info("store integrity check passed", "path", in.Path, "took", in.Finished.Sub(in.Started).Round(time.Millisecond).String())
			}
		}
	})
}

// watchBuilds publishes the store's background builds (a PostgreSQL store
// migrated from schema 7 builds the Geomap's actor sets on the org's
// leader): their state and work left in the metrics, now and at every
// change, and each failed step (retried after a backoff) in the log and
// the failures counter.
func (p *Pipeline) watchBuilds() {
	br, ok := p.st.(store.BuildReporter)
	if !ok {
		return
	}
	for _, b := range br.Builds() {
		p.m.StoreBuild(b.Name, b.State, b.Remaining)
	}
	br.OnBuild(func(b store.Build) {
		p.m.StoreBuild(b.Name, b.State, b.Remaining)
		switch b.State {
		case store.BuildRetrying:
			p.m.StoreBuildFailed(b.Name)
			p.log.Warn("store background build failed; retrying", "build", b.Name, "failures", b.Failures, "remaining", b.Remaining, "unit", b.Unit, "error", b.LastError)
		case store.BuildDone:
			p.log.Info("store background build done", "build", b.Name)
		}
	})
}

// Subscribe returns a channel receiving an Update after every commit that
// added events, alerts or alert updates, and a cancel function. A subscriber that does
// not keep up misses updates (the store has everything).
func (p *Pipeline) Subscribe(buf int) (<-chan Update, func()) {
	if buf < 1 {
		buf = 16
	}
	ch := make(chan Update, buf)
	p.subMu.Lock()
	id := p.nextID
	p.nextID++
	p.subs[id] = ch
	p.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			p.subMu.Lock()
			if c, ok := p.subs[id]; ok {
				delete(p.subs, id)
				close(c)
			}
			p.subMu.Unlock()
		})
	}
}

func (p *Pipeline) publish(u Update) {
	p.subMu.Lock()
	defer p.subMu.Unlock()
	for _, ch := range p.subs {
		select {
		case ch <- u:
		default:
		}
	}
}

func (p *Pipeline) setError(err error) {
	p.mu.Lock()
	p.status.LastError = err.Error()
	p.status.LastErrorAt = p.now()
	p.mu.Unlock()
}

// isFatal reports errors that retrying cannot fix: bad credentials,
// missing scopes, DPoP, forbidden.
func isFatal(err error) bool {
	return errors.Is(err, okta.ErrUnauthorized) || errors.Is(err, okta.ErrInsufficientScope) ||
		errors.Is(err, okta.ErrDPoP) || errors.Is(err, okta.ErrForbidden)
}

// startCursor decides where polling resumes.
func (p *Pipeline) startCursor() okta.Cursor {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.haveCP && p.cp.NextURL != "" {
		if _, err := p.poller.ValidateCursor(p.cp.NextURL); err == nil {
			return okta.Cursor{Next: p.cp.NextURL}
		} else {
			p.log.Warn("stored cursor is unusable, re-reading from the newest stored event minus the overlap", "error", err)
			p.status.CursorRecoveries++
		}
	}
	if p.haveCP {
		return okta.Cursor{Since: p.recoverSinceLocked()}
	}
	since := p.now().Add(-p.s.Okta.Backfill).UTC()
	p.cp = store.Checkpoint{BackfillSince: since}
	p.status.BackfillSince = since
	return okta.Cursor{Since: since}
}

// recoverSinceLocked is the since of a lost cursor: newest stored
// published minus the overlap (or the backfill start if nothing is stored).
func (p *Pipeline) recoverSinceLocked() time.Time {
	if !p.cp.MaxPublished.IsZero() {
		s := p.cp.MaxPublished.Add(-p.s.Okta.Overlap)
		// Okta rejects since older than 180 days; never ask for more than the retention.
		if floor := p.now().Add(-okta.MaxBackfill); s.Before(floor) {
			s = floor
		}
		return s.UTC()
	}
	if !p.cp.BackfillSince.IsZero() {
		return p.cp.BackfillSince
	}
	return p.now().Add(-p.s.Okta.Backfill).UTC()
}

// Run polls until ctx is cancelled (then it lets the request in flight
// finish within the shutdown grace, commits that page and returns nil) or
// until a fatal error (invalid or revoked credentials, missing scope),
// which it returns. Other errors are retried with backoff; Status shows
// the last one.
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.runMu.TryLock() {
		return errors.New("pipeline: already running")
	}
	defer p.runMu.Unlock()
	p.mu.Lock()
	p.status.Running = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.status.Running = false
		p.mu.Unlock()
	}()
	return p.lead(ctx)
}

// ingest is the leader's loop: poll, process and commit until ctx ends
// (nil), a fatal error, or a commit fenced by a new leader (errLeaseLost).
func (p *Pipeline) ingest(ctx context.Context) error {
	bg, stopBG := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pruneLoop(bg) }()
	go func() { defer wg.Done(); p.posture.loop(bg) }()
	defer func() { stopBG(); wg.Wait() }()

	cur := p.startCursor()
	// Full pages (a backfill or a catch-up) are held and committed
	// together (batch.go); committed is where polling resumes when the
	// held pages are dropped by a failed commit.
	committed := cur
	var held *batch
	commitHeld := func() error {
		if held == nil {
			return nil
		}
		b := held
		held = nil
		if err := p.commitBatch(context.WithoutCancel(ctx), b); err != nil {
			cur = committed
			return err
		}
		committed, cur = b.next, b.next
		return nil
	}
	failures := 0
	for {
		if ctx.Err() != nil {
			// shutdown: what is held is committed, not dropped
			if err := commitHeld(); err != nil {
				if errors.Is(err, store.ErrFenced) {
					return errLeaseLost
				}
				p.setError(err)
				p.log.Error("commit at shutdown failed; the pages held since the last commit will be fetched again", "error", err)
			}
			return nil
		}
		// The request in flight may finish after ctx is cancelled (bounded
		// by the grace), so its page is committed rather than dropped; a
		// failing request is not retried after ctx ends (PollDraining).
		pctx, cancel := graceContext(ctx, p.o.ShutdownGrace)
		page, err := p.poller.PollDraining(pctx, ctx, cur)
		cancel()
		if err != nil {
			// what is held is committed before a recovery or a backoff
			if cerr := commitHeld(); cerr != nil {
				if stop, rerr := p.commitFailed(ctx, cerr); stop {
					return rerr
				}
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, okta.ErrCursor) {
				p.mu.Lock()
				since := p.recoverSinceLocked()
				p.status.CursorRecoveries++
				p.mu.Unlock()
				p.log.Warn("System Log cursor lost, re-reading from the newest stored event minus the overlap",
					"since", since.Format(time.RFC3339), "overlap", p.s.Okta.Overlap.String(), "error", err)
				p.setError(err)
				cur = okta.Cursor{Since: since}
				committed = cur
				continue
			}
			p.setError(err)
			if isFatal(err) {
				p.log.Error("polling stopped", "error", err)
				return fmt.Errorf("pipeline: %w", err)
			}
			failures++
			d := backoff(failures, p.s.Okta.PollInterval)
			p.log.Warn("poll failed, retrying", "error", err, "retry_in", d.String())
			if sleep(ctx, d) != nil {
				return nil
			}
			continue
		}
		failures = 0
		held, err = p.hold(context.WithoutCancel(ctx), held, page)
		if err != nil {
			held, cur = nil, committed
		} else if p.due(held, page) {
			err = commitHeld()
		} else {
			cur = held.next
		}
		if err != nil {
			if stop, rerr := p.commitFailed(ctx, err); stop {
				return rerr
			}
			continue
		}
		if !page.Full {
			d := p.s.Okta.PollInterval + p.client.PollJitter(p.s.Okta.PollInterval) + jitter(p.s.Okta.PollInterval/20)
			if sleep(ctx, d) != nil {
				return nil
			}
		}
	}
}

// commitFailed handles a failed page or commit: a fenced commit ends the
// leader's loop (errLeaseLost); otherwise the engine is rebuilt from the
// store and the caller polls again, after a backoff, from the last
// committed cursor. stop reports that ingest returns ret.
func (p *Pipeline) commitFailed(ctx context.Context, err error) (stop bool, ret error) {
	if errors.Is(err, store.ErrFenced) {
		p.log.Warn("another instance took the org over; the pages held since the last commit are left to it", "error", err)
		return true, errLeaseLost
	}
	p.setError(err)
	if errors.Is(err, store.ErrDiverged) {
		// the store is not at this instance's last commit (a database
		// failover lost commits): the leader's loop starts over from
		// what the store holds (lead: takeover)
		p.log.Error("the store is not at this instance's last commit; reloading the checkpoint and detector state from it and fetching again from there", "error", err)
		return true, errStartOver
	}
	p.log.Error("commit failed, the pages held since the last commit will be fetched again", "error", err)
	if rerr := p.resetEngine(context.WithoutCancel(ctx)); rerr != nil {
		if errors.Is(rerr, errStateCorrupt) {
			return true, rerr
		}
		// the store cannot be read either (down, failing over): start
		// over from it once it answers
		p.setError(rerr)
		p.log.Warn("cannot reload the detector state from the store after the failed commit; starting over from the store once it answers", "error", rerr)
		return true, errStartOver
	}
	if sleep(ctx, backoff(1, p.s.Okta.PollInterval)) != nil {
		return true, nil
	}
	return false, nil
}

// graceContext is a context that ends grace after parent ends.
func graceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(parent, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-ctx.Done():
		}
	})
	return ctx, func() { stop(); cancel() }
}

// backoff is the wait before retry n of a failed poll or commit: from
// 500ms doubling up to the poll interval (at least 1s), jittered.
func backoff(n int, limit time.Duration) time.Duration {
	return retry.Delay(n, 500*time.Millisecond, max(limit, time.Second))
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d))) // #nosec G404 -- jitter of a wait, not a secret
}

func sleep(ctx context.Context, d time.Duration) error { return retry.Sleep(ctx, d) }

func rejectReason(err error) string {
	switch {
	case errors.Is(err, event.ErrMissingField):
		return "missing_field"
	case errors.Is(err, event.ErrBadTime), errors.Is(err, event.ErrTimeRange):
		return "bad_time"
	default:
		return "malformed"
	}
}

// pruneLoop deletes events older than storage.retention at start and
// every PruneInterval (retention 0 keeps everything).
func (p *Pipeline) pruneLoop(ctx context.Context) {
	if p.s.Storage.Retention <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(p.o.PruneInterval)
	defer t.Stop()
	for {
		if _, err := p.PruneNow(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("retention pruning failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneNow deletes the events published before now - storage.retention.
func (p *Pipeline) PruneNow(ctx context.Context) (int64, error) {
	if p.s.Storage.Retention <= 0 {
		return 0, nil
	}
	cut := p.now().Add(-p.s.Storage.Retention)
	n, err := p.st.Prune(ctx, cut)
	if err != nil {
		p.writeFailed(ctx, err)
		return n, fmt.Errorf("pipeline: prune: %w", err)
	}
	if n > 0 {
		p.log.Info("retention pruning", "deleted_events", n, "before", cut.Format(time.RFC3339))
	}
	p.storeFile(ctx)
	return n, nil
}

// storeFile publishes the SQLite store's size, free pages and auto-vacuum
// mode (oktaguard_store_file_bytes, _free_bytes, _auto_vacuum).
func (p *Pipeline) storeFile(ctx context.Context) {
	fs, ok := p.st.(store.FileStatser)
	if !ok {
		return
	}
	st, err := fs.FileStats(ctx)
	if err != nil {
		p.log.Debug("store file stats", "error", err)
		return
	}
	p.m.StoreFile(st.Bytes, st.FreeBytes, st.AutoVacuum)
}

// savePosture stores a posture report with its per-check statuses.
func (p *Pipeline) savePosture(ctx context.Context, rep posture.Report) error {
	js, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("pipeline: posture report: %w", err)
	}
	rec := store.PostureRecord{Time: rep.EvaluatedAt, Profile: rep.Profile, Score: rep.Score, JSON: js}
	for _, c := range rep.Checks {
		rec.Checks = append(rec.Checks, store.PostureCheckStatus{
			ID: c.ID, Title: c.Title, Category: c.Category, Severity: string(c.Severity),
			Status: string(c.Status), Findings: len(c.Findings), Failing: c.Failing(),
		})
	}
	if err := p.st.SavePostureReport(ctx, rec); err != nil {
		p.writeFailed(ctx, err)
		return fmt.Errorf("pipeline: %w", err)
	}
	return nil
}
