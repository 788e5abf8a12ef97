package okta

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/oktaguard/oktaguard/pkg/retry"
)

// assumedLimit is the per-minute limit assumed for a bucket whose responses
// carry no X-Rate-Limit-Limit header (the smallest Okta plan's logs limit).
const assumedLimit = 20

// max429Wait caps one wait derived from X-Rate-Limit-Reset, so a wrong
// server clock cannot stall the collector for hours.
const max429Wait = 5 * time.Minute

// RateLimit is the last rate-limit state observed for a bucket.
type RateLimit struct {
	Limit     int       // X-Rate-Limit-Limit (0 = unknown)
	Remaining int       // X-Rate-Limit-Remaining
	Reset     time.Time // X-Rate-Limit-Reset converted to the local clock (zero = unknown)
	// Budget is the number of requests per rate-limit window (one minute)
	// this client allows itself in the bucket: floor(share × Limit).
	Budget int
}

// pacer keeps one principal under its share of a bucket's per-minute
// limit. It spaces request starts evenly at 60s/floor(share×limit) (a
// token bucket of depth one, so no 60-second window can hold more than the
// budget), keeps a reserve in X-Rate-Limit-Remaining, and after a 429
// blocks until X-Rate-Limit-Reset + 1 s measured against the server's Date
// header (exponential backoff with jitter when the headers are missing).
type pacer struct {
	mu           sync.Mutex
	share        float64
	window       time.Duration
	reserveFrac  float64
	backoffBase  time.Duration
	backoffMax   time.Duration
	limit        int
	sawResponse  bool
	remaining    int
	haveRem      bool
	resetAt      time.Time
	nextAt       time.Time
	lastStart    time.Time
	blockedUntil time.Time
	c429         int
	now          func() time.Time
}

func newPacer(share float64, window time.Duration, reserve float64, base, max time.Duration, now func() time.Time) *pacer {
	if window <= 0 {
		window = time.Minute
	}
	return &pacer{share: share, window: window, reserveFrac: reserve, backoffBase: base, backoffMax: max, now: now}
}

func (p *pacer) budgetLocked() int {
	l := p.limit
	if l <= 0 {
		if !p.sawResponse {
			return 0
		}
		l = assumedLimit
	}
	b := int(math.Floor(p.share * float64(l)))
	if b < 1 {
		b = 1
	}
	return b
}

func (p *pacer) spacingLocked() time.Duration {
	b := p.budgetLocked()
	if b == 0 {
		return 0
	}
	// A margin (2 % + 20 ms) so timer slack and network jitter never
	// squeeze budget+1 request arrivals into one rate-limit window.
	return time.Duration(float64(p.window)/float64(b)*1.02) + 20*time.Millisecond
}

// blocked is when a 429's block ends, or the zero time when none is active.
func (p *pacer) blocked() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blockedUntil.After(p.now()) {
		return p.blockedUntil
	}
	return time.Time{}
}

// wait blocks until the next request may start and reserves that slot.
func (p *pacer) wait(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := p.now()
		t := p.nextAt
		if p.blockedUntil.After(t) {
			t = p.blockedUntil
		}
		if !now.Before(t) {
			p.lastStart = now
			p.nextAt = now.Add(p.spacingLocked())
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if err := retry.Sleep(ctx, t.Sub(now)); err != nil {
			return err
		}
	}
}

// sent records the moment a request whose slot wait reserved actually
// goes out. Anything between the slot and the send (the concurrency
// semaphore, scheduling on a loaded machine) would otherwise let that
// request arrive late and the next, spaced from the slot, arrive less than
// one spacing after it; spacing from the send keeps arrivals apart.
func (p *pacer) sent(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if at.After(p.lastStart) {
		p.lastStart = at
	}
	if next := p.lastStart.Add(p.spacingLocked()); next.After(p.nextAt) {
		p.nextAt = next
	}
}

// observe records one response (status 0 = none).
func (p *pacer) observe(status int, h http.Header, recvAt time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == 0 || h == nil {
		return
	}
	p.sawResponse = true
	limit, okL := headerInt(h, "X-Rate-Limit-Limit")
	if okL && limit > 0 { // Limit: 0 marks a concurrency 429
		p.limit = limit
	}
	// The spacing may only now be known (first response) or have changed.
	if next := p.lastStart.Add(p.spacingLocked()); next.After(p.nextAt) {
		p.nextAt = next
	}
	if rem, ok := headerInt(h, "X-Rate-Limit-Remaining"); ok && !(okL && limit == 0) {
		p.remaining, p.haveRem = rem, true
	}
	var resetWait time.Duration
	haveReset := false
	if reset, ok := headerInt64(h, "X-Rate-Limit-Reset"); ok {
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			resetWait = time.Duration(reset-d.Unix()) * time.Second
			haveReset = true
		} else {
			resetWait = time.Unix(reset, 0).Sub(recvAt)
			haveReset = true
		}
		p.resetAt = recvAt.Add(resetWait)
	}
	if status == http.StatusTooManyRequests {
		p.c429++
		var wait time.Duration
		if haveReset {
			wait = resetWait + time.Second
			if wait < time.Second {
				wait = time.Second
			}
			if wait > max429Wait {
				wait = max429Wait
			}
		} else {
			wait = retry.Delay(p.c429, p.backoffBase, p.backoffMax)
		}
		if until := recvAt.Add(wait); until.After(p.blockedUntil) {
			p.blockedUntil = until
		}
		return
	}
	p.c429 = 0
	if p.haveRem && p.limit > 0 && haveReset {
		reserve := int(math.Ceil(p.reserveFrac * float64(p.limit)))
		if reserve < 1 {
			reserve = 1
		}
		if p.remaining <= reserve && p.resetAt.After(recvAt) {
			until := p.resetAt.Add(time.Second)
			if until.Sub(recvAt) > max429Wait {
				until = recvAt.Add(max429Wait)
			}
			if until.After(p.blockedUntil) {
				p.blockedUntil = until
			}
		}
	}
}

func (p *pacer) state() RateLimit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return RateLimit{Limit: p.limit, Remaining: p.remaining, Reset: p.resetAt, Budget: p.budgetLocked()}
}
