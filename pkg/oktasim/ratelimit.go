package oktasim

import (
	"math"
	"strconv"
	"sync"
	"time"
)

// rateLimiter implements Okta's per-minute buckets: one window per endpoint
// bucket (org-wide), with a per-principal ceiling of share × the bucket.
// A window opens at the first request after the previous one expired and
// lasts Options.RateLimitWindow (one minute); X-Rate-Limit-Reset is its end.
type rateLimiter struct {
	mu       sync.Mutex
	window   time.Duration
	share    float64
	windows  map[string]*rlWindow
	shares   map[string]float64 // per-principal share overrides
	inflight map[string]int
}

type rlWindow struct {
	end         time.Time
	org         int
	byPrincipal map[string]int
	emitted     map[string]bool // System Log events already emitted in this window
}

// rlState is what the X-Rate-Limit-* headers report.
type rlState struct {
	limit     int // the principal's ceiling
	remaining int
	reset     int64 // epoch seconds
}

func (s rlState) apply(h map[string][]string) {
	h["X-Rate-Limit-Limit"] = []string{strconv.Itoa(s.limit)}
	h["X-Rate-Limit-Remaining"] = []string{strconv.Itoa(s.remaining)}
	h["X-Rate-Limit-Reset"] = []string{strconv.FormatInt(s.reset, 10)}
}

func newRateLimiter(window time.Duration, share float64) *rateLimiter {
	return &rateLimiter{window: window, share: share, windows: map[string]*rlWindow{}, shares: map[string]float64{}, inflight: map[string]int{}}
}

func ceilSeconds(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

func (rl *rateLimiter) ceiling(limit int, principal string) int {
	share := rl.share
	if s, ok := rl.shares[principal]; ok {
		share = s
	}
	c := int(math.Floor(float64(limit) * share))
	if c < 1 {
		c = 1
	}
	if c > limit {
		c = limit
	}
	return c
}

// cur returns the live window of a bucket, opening a new one if needed; mu held.
func (rl *rateLimiter) cur(bucket string, now time.Time, open bool) *rlWindow {
	w := rl.windows[bucket]
	if w == nil || !now.Before(w.end) {
		if !open {
			return nil
		}
		w = &rlWindow{end: now.Add(rl.window), byPrincipal: map[string]int{}}
		rl.windows[bucket] = w
	}
	return w
}

// take consumes one request for principal in bucket if both the principal's
// ceiling and the org bucket allow it.
func (rl *rateLimiter) take(bucket string, limit int, principal string, now time.Time) (bool, rlState) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	w := rl.cur(bucket, now, true)
	ceil := rl.ceiling(limit, principal)
	used := w.byPrincipal[principal]
	st := rlState{limit: ceil, reset: ceilSeconds(w.end)}
	if used >= ceil || w.org >= limit {
		return false, st
	}
	w.org++
	w.byPrincipal[principal] = used + 1
	st.remaining = min(ceil-used-1, limit-w.org)
	return true, st
}

// peek reports the state without consuming (for responses that are rejected
// before they count, e.g. 401).
func (rl *rateLimiter) peek(bucket string, limit int, principal string, now time.Time) rlState {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	ceil := rl.ceiling(limit, principal)
	w := rl.cur(bucket, now, false)
	if w == nil {
		return rlState{limit: ceil, remaining: ceil, reset: ceilSeconds(now.Add(rl.window))}
	}
	return rlState{limit: ceil, remaining: max(0, min(ceil-w.byPrincipal[principal], limit-w.org)), reset: ceilSeconds(w.end)}
}

// enter registers an in-flight request; false if max would be exceeded
// (max <= 0 disables the check).
func (rl *rateLimiter) enter(bucket string, max int) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if max > 0 && rl.inflight[bucket] >= max {
		return false
	}
	rl.inflight[bucket]++
	return true
}

func (rl *rateLimiter) leave(bucket string) {
	rl.mu.Lock()
	rl.inflight[bucket]--
	rl.mu.Unlock()
}

// SetPrincipalShare overrides the rate-limit share (0 < share <= 1) for one
// principal (see PrincipalForToken / PrincipalForClient), as Okta's Principal
// Rate Limits API does.
func (s *Server) SetPrincipalShare(principal string, share float64) {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	if share <= 0 || share > 1 {
		delete(s.rl.shares, principal)
		return
	}
	s.rl.shares[principal] = share
}

// once reports whether kind has not yet been marked in bucket's current
// window, marking it.
func (rl *rateLimiter) once(bucket, kind string, now time.Time) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	w := rl.cur(bucket, now, true)
	if w.emitted == nil {
		w.emitted = map[string]bool{}
	}
	if w.emitted[kind] {
		return false
	}
	w.emitted[kind] = true
	return true
}

// orgUsed returns the org-wide count of bucket's current window.
func (rl *rateLimiter) orgUsed(bucket string, now time.Time) int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if w := rl.cur(bucket, now, false); w != nil {
		return w.org
	}
	return 0
}
