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
	"log/slog"
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
	Users    int           // default 300 (the generator needs at least 40)
	History  time.Duration // history before now, served as the backfill; default 7 days
	Now      time.Time     // default time.Now()
	Posture  string        // orgsim profile: weak, strong, stig, mixed (default mixed)
	Token    string        // SSWS token; default random
	NoAttack bool          // no labelled attacks (history and live)
	NoLive   bool          // no live traffic after Now
	Tick     time.Duration // how often live traffic is added; default 1s
	// LiveAttackEvery is the interval between live attacks (default 20m).
	LiveAttackEvery time.Duration
	// FirstLiveAttack, when > 0, starts the QuickAttacks this long after
	// Now, so a viewer sees a live detection within minutes rather than
	// after LiveAttackEvery/2 (the Grafana demo mode uses it; the CLI demo
	// calls InjectAttacks once its backfill is done instead).
	FirstLiveAttack time.Duration
	// RateLimitPerMinute of /api/v1/logs (simulator default 120) and
	// MgmtRateLimit of the management endpoints (simulator default 600).
	RateLimitPerMinute int
	MgmtRateLimit      int
	Logger             *slog.Logger // the simulator's request log (nil: none)
}

// Org is a running simulated org.
type Org struct {
	URL     string
	Token   string
	Lists   map[string][]string // IP lists for the pipeline's ipLists
	History *traffic.Dataset    // the generated history; Labels holds only the served window's attacks
	Loaded  int                 // history events served
	Sim     *oktasim.Server
	Mgmt    *orgsim.Org

	stream *traffic.Stream
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once

	mu   sync.Mutex
	live int
}

// RandomToken returns a fresh SSWS-looking token for the simulator.
func RandomToken() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "00sim" + hex.EncodeToString(b), nil
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
		t, err := RandomToken()
		if err != nil {
			return nil, err
		}
		o.Token = t
	}
	attacks := !o.NoAttack
	window := now.Add(-o.History)
	// Whole days up to today; with attacks the generator needs at least 10
	// days (the first 7 are the learning period), so a shorter window is
	// cut from the end of a longer history.
	days := int(o.History/(24*time.Hour)) + 1
	start := window.Truncate(24 * time.Hour)
	if attacks && days < 10 {
		start = start.AddDate(0, 0, days-10)
		days = 10
	}
	ds, err := traffic.Generate(traffic.Config{Seed: o.Seed, Users: o.Users, Start: start, Days: days + 1, Attacks: attacks})
	if err != nil {
		return nil, fmt.Errorf("demo: generate history: %w", err)
	}
	mgmt, err := orgsim.NewAt(o.Posture, now)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	sim := oktasim.New(oktasim.Options{
		OrgName: "oktaguard-demo", Addr: o.Addr, Token: o.Token, Mgmt: mgmt,
		RateLimitPerMinute: o.RateLimitPerMinute, DefaultLimit: o.MgmtRateLimit, Logger: o.Logger, Seed: o.Seed,
	})
	// Events become visible in delivery order (late events after their
	// delay); what is delivered after now arrives with the live feed.
	del, err := ds.DeliveryOrder()
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	batch := make([]json.RawMessage, 0, len(del))
	for _, d := range del {
		if d.At.After(now) {
			break
		}
		if pub, ok := publishedOf(d.Event); ok && !pub.Before(window) {
			batch = append(batch, d.Event)
		}
	}
	if err := sim.Add(batch...); err != nil {
		return nil, fmt.Errorf("demo: load history: %w", err)
	}
	var labels []traffic.Label
	for _, l := range ds.Labels {
		if !l.Start.Before(window) && !l.End.After(now) {
			labels = append(labels, l)
		}
	}
	ds.Labels = labels
	url, err := sim.Start()
	if err != nil {
		return nil, fmt.Errorf("demo: start simulator: %w", err)
	}
	org := &Org{URL: url, Token: o.Token, Lists: ds.Lists.Map(), History: ds, Loaded: len(batch), Sim: sim, Mgmt: mgmt, stop: make(chan struct{})}
	if !o.NoLive {
		org.stream, err = traffic.NewStream(traffic.Config{Seed: o.Seed, Users: o.Users, Attacks: attacks, LiveAttackEvery: o.LiveAttackEvery}, now)
		if err != nil {
			_ = sim.Close()
			return nil, fmt.Errorf("demo: live traffic: %w", err)
		}
		if o.FirstLiveAttack > 0 && attacks {
			if err := org.InjectAttacks(now.Add(o.FirstLiveAttack)); err != nil {
				_ = sim.Close()
				return nil, err
			}
		}
		org.wg.Add(1)
		go org.feed(o.Tick)
	}
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

// QuickAttacks are the live attack kinds whose detector fires on their
// first events (seconds after the start, not after an hour like
// impossible_travel): a sign-in from a threat-intelligence address, a
// burst of failed sign-ins (about 30 events over a few minutes, so the
// event count visibly grows) and a FastPass phishing report.
var QuickAttacks = []string{"suspicious_ip", "failed_logins", "fastpass_phishing"}

// InjectAttacks starts the QuickAttacks at at (each a second after the
// previous). Their events reach the simulator as the clock passes their
// delivery time; LiveLabels lists them.
func (org *Org) InjectAttacks(at time.Time) error {
	if org.stream == nil {
		return fmt.Errorf("demo: no live traffic (NoLive) to inject attacks into")
	}
	for i, k := range QuickAttacks {
		if err := org.stream.Inject(k, at.Add(time.Duration(i)*time.Second)); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// LiveEvents is the number of live events added since Start.
func (org *Org) LiveEvents() int {
	org.mu.Lock()
	defer org.mu.Unlock()
	return org.live
}

// LiveLabels are the labelled attacks started by the live feed so far.
func (org *Org) LiveLabels() []traffic.Label {
	if org.stream == nil {
		return nil
	}
	return org.stream.Labels()
}

// Close stops the live feed and the simulator.
func (org *Org) Close() {
	org.once.Do(func() {
		close(org.stop)
		org.wg.Wait()
		_ = org.Sim.Close()
	})
}

func publishedOf(raw json.RawMessage) (time.Time, bool) {
	var v struct {
		Published time.Time `json:"published"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Published.IsZero() {
		return time.Time{}, false
	}
	return v.Published, true
}
