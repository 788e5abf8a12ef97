package oktasim

import (
	"maps"
	"sync"
	"time"
)

// Stats is a snapshot of what the simulator served.
type Stats struct {
	// Requests is every request received (all paths, all statuses).
	Requests int64
	// ByEndpoint counts requests per rate-limit bucket: "/api/v1/logs",
	// "/oauth2/v1/token", "/api/v1/users", ... (see docs/simulator.md).
	ByEndpoint map[string]int64
	// ByStatus counts responses per HTTP status (truncated bodies count
	// under the status that was sent).
	ByStatus map[int]int64
	// RateLimited counts 429 responses of every kind (bucket exhausted,
	// concurrency, injected storms).
	RateLimited int64
	// ConcurrencyRejected counts the 429s caused by too many in-flight
	// requests (injected or real).
	ConcurrencyRejected int64
	// Faults counts injected faults by kind.
	Faults map[FaultKind]int64
	// MaxLogsPerWindow is, per principal (PrincipalForToken /
	// PrincipalForClient), the largest number of authenticated
	// /api/v1/logs requests seen in any sliding window of
	// Options.RateLimitWindow (one minute), whatever their status.
	MaxLogsPerWindow map[string]int
	// MaxLogsPerWindowAny is the maximum of MaxLogsPerWindow.
	MaxLogsPerWindowAny int
	// LogsByMinute counts /api/v1/logs requests (all principals, all
	// statuses) per clock minute (simulator clock, truncated to the minute).
	LogsByMinute map[time.Time]int
	// EventsServed counts events returned in /api/v1/logs pages.
	EventsServed int64
	// TokensIssued counts access tokens issued by /oauth2/v1/token.
	TokensIssued int64
}

type statsCollector struct {
	mu     sync.Mutex
	window time.Duration
	s      Stats
	recent map[string][]time.Time // principal -> logs request times in the window
}

func newStats(window time.Duration) *statsCollector {
	return &statsCollector{
		window: window,
		s: Stats{
			ByEndpoint:       map[string]int64{},
			ByStatus:         map[int]int64{},
			Faults:           map[FaultKind]int64{},
			MaxLogsPerWindow: map[string]int{},
			LogsByMinute:     map[time.Time]int{},
		},
		recent: map[string][]time.Time{},
	}
}

func (c *statsCollector) request(endpoint string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Requests++
	c.s.ByEndpoint[endpoint]++
	c.s.ByStatus[status]++
	if status == 429 {
		c.s.RateLimited++
	}
}

// logsRequest records one authenticated logs request of principal at now.
func (c *statsCollector) logsRequest(principal string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.LogsByMinute[now.UTC().Truncate(time.Minute)]++
	ts := c.recent[principal]
	cut := now.Add(-c.window)
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = append(ts[i:], now)
	c.recent[principal] = ts
	if len(ts) > c.s.MaxLogsPerWindow[principal] {
		c.s.MaxLogsPerWindow[principal] = len(ts)
	}
	if len(ts) > c.s.MaxLogsPerWindowAny {
		c.s.MaxLogsPerWindowAny = len(ts)
	}
}

func (c *statsCollector) fault(k FaultKind) {
	c.mu.Lock()
	c.s.Faults[k]++
	if k == FaultConcurrency {
		c.s.ConcurrencyRejected++
	}
	c.mu.Unlock()
}

func (c *statsCollector) add(f func(s *Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *statsCollector) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.s
	out.ByEndpoint = maps.Clone(c.s.ByEndpoint)
	out.ByStatus = maps.Clone(c.s.ByStatus)
	out.Faults = maps.Clone(c.s.Faults)
	out.MaxLogsPerWindow = maps.Clone(c.s.MaxLogsPerWindow)
	out.LogsByMinute = maps.Clone(c.s.LogsByMinute)
	return out
}

// Stats returns a snapshot of the request counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// ResetStats zeroes every counter (rate-limit windows are not touched).
func (s *Server) ResetStats() {
	n := newStats(s.opts.RateLimitWindow)
	s.stats.mu.Lock()
	s.stats.s = n.s
	s.stats.recent = n.recent
	s.stats.mu.Unlock()
}
