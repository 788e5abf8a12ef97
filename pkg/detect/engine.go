// Package detect is oktaguard's detection engine: event-time processing of
// normalized Okta events through a registry of detectors with per-user and
// per-tenant baselines, learning periods, deduplication, sensitivity tiers,
// scoping and persistable state.
package detect

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// Engine defaults.
const (
	DefaultReorderWindow  = 2 * time.Minute
	DefaultReorderLimit   = 10000
	DefaultLearningPeriod = 7 * 24 * time.Hour
	DefaultBaselineWindow = 30 * 24 * time.Hour
	defaultRearm          = 24 * time.Hour
	pruneEvery            = time.Hour
)

// Option tunes an Engine.
type Option func(*options)

type options struct {
	reorderWindow  time.Duration
	reorderLimit   int
	learningPeriod time.Duration
}

// WithReorderWindow sets how much event time the reorder buffer holds
// (default 2 min; 0 processes every event immediately).
func WithReorderWindow(d time.Duration) Option {
	return func(o *options) { o.reorderWindow = max(d, 0) }
}

// WithReorderLimit caps the number of events held in the reorder buffer
// (default 10000); the oldest is released when it is full.
func WithReorderLimit(n int) Option { return func(o *options) { o.reorderLimit = max(n, 1) } }

// WithLearningPeriod sets the per-user and tenant learning period
// (default 7 days; 0 disables learning).
func WithLearningPeriod(d time.Duration) Option {
	return func(o *options) { o.learningPeriod = max(d, 0) }
}

// Stats are the engine's counters since it was created.
type Stats struct {
	Events      int64            // events released to the detectors
	Late        int64            // events older than the reorder watermark (processed immediately)
	Duplicates  int64            // events with a uuid already waiting in the buffer (dropped)
	Buffered    int              // events currently held in the reorder buffer
	Alerts      map[string]int64 // incidents (new alerts) per detector
	Matches     map[string]int64 // findings per detector: a new incident or a match inside an open one (after scope and learning)
	Updates     map[string]int64 // per detector: matches that changed an open incident's alert (same id re-emitted)
	Suppressed  map[string]int64 // per reason: "dedup", "learning", "scope"
	TrackedUser int              // users with a baseline
}

type detRuntime struct {
	resolved
	det Detector
}

// Engine runs the enabled detectors over events in event-time order. It is
// not safe for concurrent use; the pipeline owns one per data source.
type Engine struct {
	opts options
	dets []*detRuntime
	all  []*detRuntime // every registered detector, enabled or not (state keys)
	// byType: the detectors of dets that an event of the type is handed
	// to, built on first sight of the type (see typeGate), and the type's
	// slot (Context.typeSlot)
	byType map[string]typeEntry

	base baselines

	dedup map[string]dedupEntry

	buf        pendHeap
	free       []*pending // released buffer slots, reused to avoid an allocation per event
	pendingIDs map[string]struct{}
	seq        uint64
	maxSeen    int64 // unix nanos of the newest event seen
	watermark  int64 // unix nanos of the newest event released
	lastPrune  int64 // unix seconds (event time)
	// slotAt: the event time (unix s) up to which the prune slots were
	// pruned (prune_slots.go; not state: 0 after a load); pruneLump makes
	// every prune whole, at the hourly prune (tests: the behaviour before)
	slotAt    int64
	pruneLump bool

	ctx    Context
	out    []Alert
	opened []string // dedup keys of the incidents opened by the current event (subsume.go)
	stats  Stats

	// incremental state (state.go): whether SaveStateDelta made its full
	// first save, and the hashes of the keys saved whole
	stateSaved bool
	stateHash  map[string]uint64
	// dedup keys changed since the last state save (state.go)
	dedupChanged changeSet
	// reorder-buffer slots (by seq) pushed or released since the last
	// state save, tracked once a save was made (state.go)
	pendChanged map[uint64]bool
}

// NewEngine validates cfg and builds an engine with every enabled detector.
func NewEngine(cfg Config, opts ...Option) (*Engine, error) {
	res, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		opts:       options{reorderWindow: DefaultReorderWindow, reorderLimit: DefaultReorderLimit, learningPeriod: DefaultLearningPeriod},
		dedup:      make(map[string]dedupEntry),
		pendingIDs: make(map[string]struct{}),
		stats:      Stats{Alerts: map[string]int64{}, Matches: map[string]int64{}, Updates: map[string]int64{}, Suppressed: map[string]int64{}},
	}
	for _, o := range opts {
		o(&e.opts)
	}
	e.base.init()
	for _, r := range res {
		d, err := r.reg.New(r.params)
		if err != nil {
			return nil, fmt.Errorf("detectors.%s: %w", r.reg.Info.ID, err)
		}
		if ub, ok := d.(userBound); ok {
			ub.bindUsers(&e.base)
		}
		dr := &detRuntime{resolved: r, det: d}
		e.all = append(e.all, dr)
		if r.enabled {
			e.dets = append(e.dets, dr)
		}
	}
	e.ctx.e = e
	return e, nil
}

// Enabled lists the ids of the enabled detectors in run order.
func (e *Engine) Enabled() []string {
	out := make([]string, len(e.dets))
	for i, d := range e.dets {
		out[i] = d.reg.Info.ID
	}
	return out
}

// Stats returns a copy of the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Alerts = copyCounts(e.stats.Alerts)
	s.Suppressed = copyCounts(e.stats.Suppressed)
	s.Matches = copyCounts(e.stats.Matches)
	s.Updates = copyCounts(e.stats.Updates)
	s.Buffered = len(e.buf)
	s.TrackedUser = len(e.base.users)
	return s
}

// Process accepts one event. Events are held in a small reorder buffer
// (the reorder window of event time, at most the reorder limit of events)
// and released to the detectors in published order; an event older than
// what was already released is processed at once (never dropped). The
// event is copied, so the caller may reuse ev. Process returns the alerts
// raised by the events released by this call.
func (e *Engine) Process(ev *event.Event) []Alert {
	e.out = nil
	if ev == nil {
		return nil
	}
	t := ev.Published.UnixNano()
	if ev.Published.IsZero() || t < e.watermark {
		e.stats.Late++
		e.handle(ev)
		return e.takeOut()
	}
	if ev.UUID != "" {
		if _, dup := e.pendingIDs[ev.UUID]; dup {
			e.stats.Duplicates++
			return nil
		}
		e.pendingIDs[ev.UUID] = struct{}{}
	}
	e.seq++
	var p *pending
	if n := len(e.free); n > 0 {
		p, e.free = e.free[n-1], e.free[:n-1]
	} else {
		p = new(pending)
	}
	p.ev, p.seq = *ev, e.seq
	heap.Push(&e.buf, p)
	e.markPending(p.seq, true)
	if t > e.maxSeen {
		e.maxSeen = t
	}
	limit := e.maxSeen - int64(e.opts.reorderWindow)
	for len(e.buf) > 0 && (e.buf[0].ev.Published.UnixNano() <= limit || len(e.buf) > e.opts.reorderLimit) {
		e.release()
	}
	return e.takeOut()
}

// Advance releases the buffered events whose event time is at least the
// reorder window before now (a wall clock) and returns the alerts they
// raise. Process alone releases an event only when a newer one arrives a
// reorder window later, so in a quiet org a live attack's last events
// would wait for unrelated traffic; a live poller calls Advance after each
// poll that reached the head of the log. An event delivered later than
// that is still processed (as late), never dropped.
func (e *Engine) Advance(now time.Time) []Alert {
	e.out = nil
	limit := now.Add(-e.opts.reorderWindow).UnixNano()
	for len(e.buf) > 0 && e.buf[0].ev.Published.UnixNano() <= limit {
		e.release()
	}
	return e.takeOut()
}

// Buffered is the number of events held in the reorder buffer.
func (e *Engine) Buffered() int { return len(e.buf) }

// Flush releases every buffered event (end of a replay or shutdown) and
// returns the alerts they raise. The emptied buffer's storage is freed
// (each slot holds a whole event): an idle engine keeps only its state.
func (e *Engine) Flush() []Alert {
	e.out = nil
	for len(e.buf) > 0 {
		e.release()
	}
	e.buf, e.free = nil, nil
	e.pendingIDs = make(map[string]struct{})
	return e.takeOut()
}

func (e *Engine) takeOut() []Alert {
	out := e.out
	e.out = nil
	return out
}

func (e *Engine) release() {
	p := heap.Pop(&e.buf).(*pending)
	e.markPending(p.seq, false)
	delete(e.pendingIDs, p.ev.UUID)
	if t := p.ev.Published.UnixNano(); t > e.watermark {
		e.watermark = t
	}
	e.handle(&p.ev)
	p.ev = event.Event{} // drop references before reuse
	if len(e.free) < 256 {
		e.free = append(e.free, p)
	}
}

// handle runs every detector over one event, then updates the shared
// baselines (detectors compare with the baseline before the event).
func (e *Engine) handle(ev *event.Event) {
	e.stats.Events++
	now := ev.Published
	if now.IsZero() {
		now = time.Unix(0, e.watermark).UTC()
	}
	sec := now.Unix()
	if e.lastPrune == 0 {
		e.lastPrune = sec
	}
	if e.slotAt == 0 {
		e.slotAt = sec
	}
	if sec-e.lastPrune >= int64(pruneEvery/time.Second) {
		e.prune(now)
		e.lastPrune = sec
	}
	if sec/pruneSlotSec > e.slotAt/pruneSlotSec {
		// the slots of the minutes passed (all after an hour or more)
		e.pruneSlices(now, sec)
	}
	c := &e.ctx
	c.Now = now
	c.ev = ev
	c.user = e.base.touchUser(ev, sec)
	if e.base.tenantFirst == 0 || sec < e.base.tenantFirst {
		e.base.tenantFirst = sec
	}
	from := len(e.out)
	e.opened = e.opened[:0]
	te := e.detsFor(ev.EventType)
	c.typeSlot = te.slot
	for _, d := range te.dets {
		c.det = d
		d.det.Handle(c, ev)
	}
	c.det = nil
	c.typeSlot = 0
	if len(e.opened) > 0 {
		e.subsume(from, e.opened, sec)
	}
	e.base.record(ev, c.user, sec)
	c.ev = nil
	c.user = nil
}

// typeGate is a Detector whose Handle does nothing at all (no state
// change, no finding) for events of some types: the engine then does not
// call it for them.
type typeGate interface {
	skipsType(typ string) bool
}

// maxTypeGates bounds Engine.byType: past that many distinct event types
// (only hostile input has so many), the list is worked out per event.
const maxTypeGates = 4096

// typeEntry is what the engine knows of one event type: the detectors an
// event of the type is handed to and the type's slot, a number from 1 up
// given to each type on first sight, for detectors that remember what
// they worked out per type (the rule pack's type masks); 0 when the type
// has none (past maxTypeGates types).
type typeEntry struct {
	dets []*detRuntime
	slot int
}

// detsFor returns the enabled detectors that an event of type typ is
// handed to, in their order, with the type's slot.
func (e *Engine) detsFor(typ string) typeEntry {
	if te, ok := e.byType[typ]; ok {
		return te
	}
	l := make([]*detRuntime, 0, len(e.dets))
	for _, d := range e.dets {
		if g, ok := d.det.(typeGate); ok && g.skipsType(typ) {
			continue
		}
		l = append(l, d)
	}
	if e.byType == nil {
		e.byType = map[string]typeEntry{}
	}
	te := typeEntry{dets: l}
	if len(e.byType) < maxTypeGates {
		te.slot = len(e.byType) + 1
		e.byType[typ] = te
	}
	return te
}

func (e *Engine) prune(now time.Time) {
	sec := now.Unix()
	for k, v := range e.dedup {
		det, _, _ := strings.Cut(k, "\x00")
		rearm := defaultRearm
		fixed := false
		if r := lookupRegistration(det); r != nil {
			fixed = r.FixedDedup
			for _, d := range e.all {
				if d.reg == r {
					rearm = d.rearm
				}
			}
		}
		if rearm <= 0 {
			rearm = defaultRearm
		}
		ref := v.Last
		if fixed {
			ref = v.First
		}
		if sec-ref > int64(rearm/time.Second) {
			delete(e.dedup, k)
			e.dedupChanged.mark(k)
		}
	}
	e.base.prune(sec)
	for _, d := range e.all {
		if sp, ok := d.det.(slicedPruner); ok && !e.pruneLump {
			sp.pruneScan(now) // its keys are pruned slot by slot (prune_slots.go)
			continue
		}
		d.det.Prune(now)
	}
}

// Learn says which learning periods gate a finding.
type Learn uint8

// Learning scopes of a finding.
const (
	LearnNone   Learn = 0
	LearnUser   Learn = 1 << 0 // the actor's own 7-day learning period
	LearnTenant Learn = 1 << 1 // the tenant's 7-day learning period
)

// Finding is what a detector reports; the engine applies scoping,
// learning, dedup and fills the Alert's id, detector, MITRE and time.
type Finding struct {
	// Key distinguishes conditions of one actor for dedup (e.g. a country,
	// an IP, a session); "" = one condition per actor.
	Key      string
	Severity string
	Time     time.Time // default: the current event's time
	Actor    string
	ActorID  string
	IP       string
	Country  string
	Title    string
	Summary  string
	Evidence map[string]any
	EventIDs []string
	// Targets name what the finding acted on (users, objects); default:
	// the User targets of the current event other than the actor.
	Targets []string
	// Learn gates the finding on learning periods.
	Learn Learn
	// LearnActor overrides whose learning period applies (default Actor).
	LearnActor string
	// Summarises marks a match that sums the incident up (an attack's end
	// with its totals): inside an open incident it takes over title,
	// summary and evidence at equal severity too.
	Summarises bool
}

// Context is what a detector sees while handling one event.
type Context struct {
	// Now is the current event's time.
	Now  time.Time
	e    *Engine
	det  *detRuntime
	ev   *event.Event
	user *userRec
	// typeSlot is the current event type's slot (typeEntry), 0 when
	// unknown
	typeSlot int
}

// Params are the running detector's effective parameters.
func (c *Context) Params() Params { return c.det.params }

// Sensitivity of the running detector.
func (c *Context) Sensitivity() Sensitivity { return c.det.sens }

// UserSuppressions reports whether user-level suppressions apply
// (sensitivity low or medium).
func (c *Context) UserSuppressions() bool { return c.det.sens != SensitivityHigh }

// TenantSuppressions reports whether tenant-level suppressions apply
// (sensitivity low).
func (c *Context) TenantSuppressions() bool { return c.det.sens == SensitivityLow }

// Emit reports a finding for the current event.
func (c *Context) Emit(f Finding) {
	c.e.emit(c.det, c.Now, f)
}

func (e *Engine) emit(d *detRuntime, now time.Time, f Finding) {
	id := d.reg.Info.ID
	if f.Time.IsZero() {
		f.Time = now
	}
	if f.Targets == nil && e.ctx.ev != nil {
		f.Targets = eventTargets(e.ctx.ev)
	}
	if len(d.include) > 0 && !matchScope(d.include, f.Actor, f.IP) || len(d.exclude) > 0 && matchScope(d.exclude, f.Actor, f.IP) {
		e.stats.Suppressed["scope"]++
		return
	}
	sev := f.Severity
	if sev == "" {
		sev = d.reg.Info.Severity
	}
	if e.learning(f, now) {
		if !d.learningAlerts {
			e.stats.Suppressed["learning"]++
			return
		}
		sev = SeverityInfo
	}
	key := id + "\x00" + strings.ToLower(f.Actor) + "\x00" + f.Key
	sec := now.Unix()
	rearm := int64(d.rearm / time.Second)
	if rearm <= 0 {
		rearm = int64(defaultRearm / time.Second)
	}
	e.stats.Matches[id]++
	if de, ok := e.dedup[key]; ok {
		ref := de.Last
		if d.reg.FixedDedup {
			ref = de.First
		}
		if sec-ref < rearm {
			if sec > de.Last {
				de.Last = sec
			}
			e.stats.Suppressed["dedup"]++
			if de.A != nil && de.update(&f, sev) {
				e.stats.Updates[id]++
				e.out = append(e.out, snapshot(de.A))
			}
			e.dedup[key] = de
			e.dedupChanged.mark(key)
			return
		}
	}
	if d.reg.GroupSources > 0 && f.Actor == "" && e.joinCampaign(id, &f, sev, sec, rearm, int64(d.reg.GroupSources/time.Second), d.reg.FixedDedup) {
		return
	}
	first := ""
	if len(f.EventIDs) > 0 {
		first = f.EventIDs[0]
	}
	h := sha256.Sum256([]byte(id + "\x00" + strings.ToLower(f.Actor) + "\x00" + f.Key + "\x00" + first))
	if f.Evidence == nil {
		f.Evidence = map[string]any{}
	}
	a := Alert{
		ID:       hex.EncodeToString(h[:16]),
		Detector: id,
		Severity: sev,
		Time:     f.Time.UTC(),
		Actor:    f.Actor,
		ActorID:  f.ActorID,
		IP:       f.IP,
		Country:  f.Country,
		Title:    f.Title,
		Summary:  f.Summary,
		Evidence: f.Evidence,
		MITRE:    append([]string(nil), d.reg.Info.MITRE...),
		LastTime: f.Time.UTC(),
	}
	de := dedupEntry{First: sec, Last: sec, A: &a}
	de.addMatch(&f)
	e.dedup[key] = de
	e.dedupChanged.mark(key)
	e.opened = append(e.opened, key)
	e.stats.Alerts[id]++
	e.out = append(e.out, snapshot(&a))
}

func (e *Engine) learning(f Finding, now time.Time) bool {
	lp := int64(e.opts.learningPeriod / time.Second)
	if lp <= 0 || f.Learn == LearnNone {
		return false
	}
	sec := now.Unix()
	if f.Learn&LearnTenant != 0 && (e.base.tenantFirst == 0 || sec-e.base.tenantFirst < lp) {
		return true
	}
	if f.Learn&LearnUser != 0 {
		who := f.LearnActor
		if who == "" {
			who = f.Actor
		}
		u := e.base.lookup(who)
		if u == nil || sec-u.First < lp {
			return true
		}
	}
	return false
}

func matchScope(patterns []string, actor, ip string) bool {
	if matchAny(patterns, actor, ip) {
		return true
	}
	if ip == "" {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, p := range patterns {
		if !strings.Contains(p, "/") {
			continue
		}
		if pfx, err := netip.ParsePrefix(p); err == nil && pfx.Contains(a) {
			return true
		}
	}
	return false
}

// pending is one buffered event.
type pending struct {
	ev  event.Event
	seq uint64
}

type pendHeap []*pending

func (h pendHeap) Len() int { return len(h) }
func (h pendHeap) Less(i, j int) bool {
	if !h[i].ev.Published.Equal(h[j].ev.Published) {
		return h[i].ev.Published.Before(h[j].ev.Published)
	}
	return h[i].seq < h[j].seq
}
func (h pendHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pendHeap) Push(x any)   { *h = append(*h, x.(*pending)) }
func (h *pendHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return x
}

// sortedKeys returns the keys of a string-keyed map in order (for
// deterministic evidence).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
