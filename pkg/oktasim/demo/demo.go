// Package demo runs a complete simulated Okta org: the System Log
// simulator filled with a realistic history (the backfill window) with
// labelled attacks, live traffic fed in as the clock advances, and the
// Management API of an org profile for posture. `oktaguard demo`,
// `oktaguard sim` and the Grafana plugin's demo mode all use it.
package demo

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// Options configure the demo org. Zero values take the defaults.
type Options struct {
	Addr     string        // listen address; default 127.0.0.1:0
	Seed     int64         // default 1
	Users    int           // default 300
	History  time.Duration // history before now, served as the backfill; default 7 days
	Now      time.Time     // default time.Now()
	Posture  string        // orgsim profile: weak, strong, stig, mixed (default mixed)
	Token    string        // SSWS token; default random
	Tick     time.Duration // how often live traffic is added; default 1s
	NoAttack bool          // no labelled attacks (history and live)
	// LiveAttackEvery is the interval between live attacks (default 20m).
	LiveAttackEvery time.Duration
	// RateLimitPerMinute of /api/v1/logs (default 120).
	RateLimitPerMinute int
}

// Org is a running simulated org.
type Org struct {
	URL     string
	Token   string
	Lists   map[string][]string // IP lists for the pipeline's ipLists
	History *traffic.Dataset    // the backfilled history (events and labels)
	Sim     *oktasim.Server
	Mgmt    *orgsim.Org

	stream *traffic.Stream
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu   sync.Mutex
	live int
}

// Start generates the history, starts the simulator and the live feed.
func Start(o Options) (*Org, error) {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Users == 0 {
		o.Users = 300
	}
	if o.History <= 0 {
		o.History = 7 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	now := o.Now.UTC()
	if o.Posture == "" {
		o.Posture = "mixed"
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	if o.Token == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		o.Token = "demo-" + hex.EncodeToString(b)
	}
	attacks := !o.NoAttack
	// History: whole days ending today; events after now are not served yet.
	days := int(o.History/(24*time.Hour)) + 1
	start := now.Add(-o.History).Truncate(24 * time.Hour)
	// The generator needs at least 10 days with attacks (7 of learning
	// first); generate from earlier and serve only the window.
	genStart := start
	if attacks && days < 10 {
		genStart = start.AddDate(0, 0, days-10)
		days = 10
	}
	ds, err := traffic.Generate(traffic.Config{Seed: o.Seed, Users: o.Users, Start: genStart, Days: days + 1, Attacks: attacks})
	if err != nil {
		return nil, fmt.Errorf("demo: generate history: %w", err)
	}
	mgmt, err := orgsim.NewAt(o.Posture, now)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	sim := oktasim.New(oktasim.Options{
		OrgName: "oktaguard-demo", Addr: o.Addr, Token: o.Token, Mgmt: mgmt.Handler(),
		RateLimitPerMinute: o.RateLimitPerMinute,
	})
	window := now.Add(-o.History)
	var hist []traffic.Label
	batch := make([]json.RawMessage, 0, len(ds.Events))
	for _, raw := range ds.Events {
		pub, ok := publishedOf(raw)
		if !ok || pub.Before(window) || pub.After(now) {
			continue
		}
		batch = append(batch, raw)
	}
	if err := sim.Add(batch...); err != nil {
		return nil, fmt.Errorf("demo: load history: %w", err)
	}
	for _, l := range ds.Labels {
		if !l.Start.Before(window) && !l.End.After(now) {
			hist = append(hist, l)
		}
	}
	ds.Labels = hist
	url, err := sim.Start()
	if err != nil {
		return nil, fmt.Errorf("demo: start simulator: %w", err)
	}
	stream, err := traffic.NewStream(traffic.Config{Seed: o.Seed, Users: o.Users, Attacks: attacks, LiveAttackEvery: o.LiveAttackEvery}, now)
	if err != nil {
		_ = sim.Close()
		return nil, fmt.Errorf("demo: live traffic: %w", err)
	}
	org := &Org{URL: url, Token: o.Token, Lists: ds.Lists.Map(), History: ds, Sim: sim, Mgmt: mgmt, stream: stream, stop: make(chan struct{})}
	org.wg.Add(1)
	go org.feed(o.Tick)
	return org, nil
}

func (org *Org) feed(tick time.Duration) {
	defer org.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-org.stop:
			return
		case now := <-t.C:
			evs := org.stream.Next(now)
			if len(evs) == 0 {
				continue
			}
			if err := org.Sim.Add(evs...); err == nil {
				org.mu.Lock()
				org.live += len(evs)
				org.mu.Unlock()
			}
		}
	}
}

// LiveEvents is the number of live events added since Start.
func (org *Org) LiveEvents() int {
	org.mu.Lock()
	defer org.mu.Unlock()
	return org.live
}

// Close stops the live feed and the simulator.
func (org *Org) Close() {
	org.once.Do(func() {
		close(org.stop)
		org.wg.Wait()
		_ = org.Sim.Close()
	})
}

// LiveLabels are the labelled attacks started by the live feed so far.
func (org *Org) LiveLabels() []traffic.Label { return org.stream.Labels() }

func publishedOf(raw json.RawMessage) (time.Time, bool) {
	var v struct {
		Published time.Time `json:"published"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Published.IsZero() {
		return time.Time{}, false
	}
	return v.Published, true
}
