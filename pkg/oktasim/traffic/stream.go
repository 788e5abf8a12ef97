package traffic

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Stream yields the org's traffic live: events whose delivery time
// (published, plus a delay for late events) has passed the caller's clock.
// With Config.Attacks it starts a labelled attack every LiveAttackEvery.
// It is safe for concurrent use.
type Stream struct {
	mu         sync.Mutex
	g          *gen
	from       time.Time
	nextDay    int
	lastNow    time.Time
	nextAttack time.Time
	attackN    int
	kinds      []*scenario
	info       *Dataset
}

// streamDays is the horizon of a stream's calendar (about 27 years).
const streamDays = 10000

// NewStream starts live traffic at from. cfg.Start (default: from minus the
// 7-day learning period) is when the org's history begins: the days between
// Start and from are simulated silently so Okta's behaviours (New IP, New
// Device, ...) continue a real history. Events before from are never returned.
func NewStream(cfg Config, from time.Time) (*Stream, error) {
	if from.IsZero() {
		return nil, fmt.Errorf("%w: stream start time is zero", ErrConfig)
	}
	from = from.UTC()
	if cfg.Start.IsZero() {
		cfg.Start = from.Add(-LearningPeriod)
	}
	attacks := cfg.Attacks
	cfg.Attacks = false // Days may be short; live attacks don't need the calendar check
	if cfg.Start.After(from) {
		return nil, fmt.Errorf("%w: Start %v after stream start %v", ErrConfig, cfg.Start, from)
	}
	cfg.Days = 0
	n, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	n.Days = streamDays
	n.Attacks = attacks
	g, err := newGen(n)
	if err != nil {
		return nil, err
	}
	g.emitFrom = from
	g.planTrips()
	s := &Stream{g: g, from: from, lastNow: from}
	for i := range scenarioTable {
		if g.wantScenario(&scenarioTable[i]) && !scenarioTable[i].extended {
			s.kinds = append(s.kinds, &scenarioTable[i])
		}
	}
	if attacks {
		s.nextAttack = from.Add(n.LiveAttackEvery / 2)
	}
	s.info = &Dataset{Config: n, Start: n.Start, Users: g.o.exportUsers(), Lists: g.lists(), PenTester: g.o.pentest.login,
		Automation: []string{g.o.provApp.AltID, g.o.svcUser.login, g.o.ciUser.login, g.o.syncUser.login}, Scenarios: ScenarioKinds()}
	for _, nw := range g.w.nets {
		s.info.Networks = append(s.info.Networks, *nw)
	}
	return s, nil
}

// Info describes the streamed org (users, IP lists, network table); its
// Events and Labels are empty (see Labels).
func (s *Stream) Info() *Dataset { return s.info }

// Next returns, in delivery order, every event that became visible in
// (previous now, now]. Calls with a clock that goes backwards return nothing.
func (s *Stream) Next(now time.Time) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	now = now.UTC()
	if !now.After(s.lastNow) {
		return nil
	}
	g := s.g
	// a local day k has events in [Start+k*24h-11h, Start+(k+1)*24h+12h]:
	// generate every day that can hold an event due by now
	for s.nextDay < streamDays && !g.start.AddDate(0, 0, s.nextDay).Add(-11*time.Hour).After(now) {
		d := s.nextDay
		for _, u := range g.o.users {
			g.userDay(u, d)
		}
		g.automationDay(d)
		g.serviceDay(d)
		g.pentestDay(d)
		s.nextDay++
	}
	for len(s.kinds) > 0 && !s.nextAttack.IsZero() && !s.nextAttack.After(now.Add(time.Minute)) {
		s.startAttack(s.kinds[s.attackN%len(s.kinds)], s.nextAttack)
		s.nextAttack = s.nextAttack.Add(g.cfg.LiveAttackEvery)
	}
	due := func(x *rec) int64 { return x.t + int64(x.delay) }
	sort.Slice(g.recs, func(i, j int) bool {
		a, b := &g.recs[i], &g.recs[j]
		if da, db := due(a), due(b); da != db {
			return da < db
		}
		return a.seq < b.seq
	})
	lim := now.UnixNano()
	var out []json.RawMessage
	i := 0
	for ; i < len(g.recs) && due(&g.recs[i]) <= lim; i++ {
		out = append(out, g.recs[i].raw)
	}
	rest := make([]rec, len(g.recs)-i)
	copy(rest, g.recs[i:])
	g.recs = rest
	s.lastNow = now
	return out
}

// startAttack runs one live scenario of kind k starting at at (s.mu held).
func (s *Stream) startAttack(k *scenario, at time.Time) {
	g := s.g
	s.attackN++
	sc := &scenCtx{id: fmt.Sprintf("live-%s#%d", k.kind, s.attackN), n: 1 + (s.attackN/max(1, len(s.kinds)))%max(1, k.instances),
		day: at.Truncate(24 * time.Hour), fixed: at}
	r := newRnd(uint64(g.cfg.Seed), 0x11fe_0000+uint64(s.attackN)) // #nosec G115 -- simulator: seeds, stream ids and hashes reinterpreted bit for bit; wrapping is harmless (reproducible traffic, not input)
	_ = k.run(g, r, sc)                                            // scenario errors only come from an inconsistent network table, checked by Generate's tests
}

// Inject starts one labelled live attack of the given kind (a
// ScenarioKinds name that a Stream can start live) at at, outside the
// round robin of Config.LiveAttackEvery. Its events are returned by Next
// once the clock passes their delivery time, and its labels join Labels.
// The demo uses it to show an attack as soon as its backfill is done.
func (s *Stream) Inject(kind string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = at.UTC()
	if at.Before(s.from) {
		return fmt.Errorf("%w: live attack at %v, before the stream start %v", ErrConfig, at, s.from)
	}
	for i := range scenarioTable {
		if k := &scenarioTable[i]; k.kind == kind && !k.extended {
			s.startAttack(k, at)
			return nil
		}
	}
	return fmt.Errorf("%w: %q is not a live attack kind", ErrConfig, kind)
}

// Labels returns the labels of the live attacks started so far (an attack's
// later events may still be in the future).
func (s *Stream) Labels() []Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Label(nil), s.g.labels...)
}
