package oktasim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// FaultKind names an injectable failure.
type FaultKind string

// Fault kinds. Each served fault is counted in Stats.Faults.
const (
	// FaultRateLimit answers 429 E0000047 with X-Rate-Limit-Limit, Remaining 0
	// and a Reset of now + Fault.ResetAfter (default 1 s). Not counted
	// against the bucket.
	FaultRateLimit FaultKind = "rate_limit"
	// FaultRateLimitNoReset answers 429 E0000047 without any X-Rate-Limit-*
	// header (SDK v2 then gives up at once: its wait needs Reset).
	FaultRateLimitNoReset FaultKind = "rate_limit_no_reset"
	// FaultConcurrency answers 429 E0000047 with Limit 0 and Remaining 0, as
	// Okta does for a concurrent-request violation.
	FaultConcurrency FaultKind = "concurrency"
	// FaultServerError answers 500 E0000009 ("took too long"), which SDK v2
	// does not retry.
	FaultServerError FaultKind = "server_error"
	// FaultUnavailable answers 503 E0000010.
	FaultUnavailable FaultKind = "unavailable"
	// FaultSlow delays the request by Fault.Delay (default 2 s) and then
	// serves it normally; the request stays in flight meanwhile.
	FaultSlow FaultKind = "slow"
	// FaultTruncated serves the real response with a Content-Length larger
	// than the bytes sent and closes the connection mid-body.
	FaultTruncated FaultKind = "truncated"
	// FaultMalformed serves 200 application/json with a body cut in the
	// middle and ending in garbage (invalid JSON), with the real Link headers.
	FaultMalformed FaultKind = "malformed"
	// FaultEmptyPage serves [] with the request's own cursor as next,
	// although events exist (polling requests only).
	FaultEmptyPage FaultKind = "empty_page"
	// FaultCursorExpired rejects a request carrying `after` with the
	// cursor error (400 E0000001); requests without `after` pass untouched.
	FaultCursorExpired FaultKind = "cursor_expired"
	// FaultTokenRevoked revokes the credential used by the request (the SSWS
	// token, or the OAuth client's access token) and answers 401 E0000011;
	// it stays revoked.
	FaultTokenRevoked FaultKind = "token_revoked"
)

var faultKinds = map[FaultKind]bool{
	FaultRateLimit: true, FaultRateLimitNoReset: true, FaultConcurrency: true, FaultServerError: true,
	FaultUnavailable: true, FaultSlow: true, FaultTruncated: true, FaultMalformed: true,
	FaultEmptyPage: true, FaultCursorExpired: true, FaultTokenRevoked: true,
}

// FaultKinds lists every fault kind.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultRateLimit, FaultRateLimitNoReset, FaultConcurrency, FaultServerError,
		FaultUnavailable, FaultSlow, FaultTruncated, FaultMalformed, FaultEmptyPage,
		FaultCursorExpired, FaultTokenRevoked}
}

// Fault is one injected failure.
//
// A queued fault (Probability == 0) hits the next Count matching requests
// (default 1) in a row, then is removed; faults are consumed in the order they
// were injected. A probabilistic fault (0 < Probability <= 1) hits each
// matching request with that probability, Count times in total (0 =
// unlimited) until ClearFaults.
type Fault struct {
	Kind FaultKind
	// Count is the number of requests to hit (queued default 1;
	// probabilistic default unlimited).
	Count int
	// Probability, if > 0, makes the fault random instead of queued.
	Probability float64
	// Path is the path prefix the fault applies to. "" means /api/v1/logs;
	// "*" means every path (including /oauth2/v1/token).
	Path string
	// Delay is the FaultSlow delay (default 2 s). It is real time, not the
	// simulator clock.
	Delay time.Duration
	// ResetAfter is how far after now X-Rate-Limit-Reset points for
	// FaultRateLimit and FaultConcurrency (default 1 s).
	ResetAfter time.Duration
}

type faultEntry struct {
	f    Fault
	left int // remaining hits; -1 unlimited
}

type faultQueue struct {
	mu    sync.Mutex
	queue []*faultEntry
	prob  []*faultEntry
	rng   *rand.Rand
}

func newFaultQueue(seed int64) *faultQueue {
	return &faultQueue{rng: rand.New(rand.NewPCG(uint64(seed), 0x6f6b7461))} // #nosec G404 G115 -- simulator: a seeded, reproducible fault sequence, not a secret; the seed's bits are reused as is
}

func (f Fault) matches(path string, hasAfter, polling bool) bool {
	p := f.Path
	switch {
	case p == "*":
	case p == "":
		if path != logsPath {
			return false
		}
	default:
		if !strings.HasPrefix(path, p) {
			return false
		}
	}
	switch f.Kind {
	case FaultCursorExpired:
		return hasAfter
	case FaultEmptyPage:
		return path == logsPath && polling
	}
	return true
}

// Inject adds a fault. It returns an error for an unknown kind or a
// probability outside [0, 1].
func (s *Server) Inject(f Fault) error {
	if !faultKinds[f.Kind] {
		return fmt.Errorf("oktasim: unknown fault kind %q", f.Kind)
	}
	if f.Probability < 0 || f.Probability > 1 {
		return fmt.Errorf("oktasim: fault probability %v outside [0, 1]", f.Probability)
	}
	if f.Count < 0 {
		return fmt.Errorf("oktasim: fault count %d is negative", f.Count)
	}
	q := s.faults
	q.mu.Lock()
	defer q.mu.Unlock()
	if f.Probability > 0 {
		left := f.Count
		if left == 0 {
			left = -1
		}
		q.prob = append(q.prob, &faultEntry{f: f, left: left})
		return nil
	}
	if f.Count == 0 {
		f.Count = 1
	}
	q.queue = append(q.queue, &faultEntry{f: f, left: f.Count})
	return nil
}

// ClearFaults removes every queued and probabilistic fault.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.queue, s.faults.prob = nil, nil
	s.faults.mu.Unlock()
}

// PendingFaults returns how many queued fault hits are still to be served
// (probabilistic faults are not counted).
func (s *Server) PendingFaults() int {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	n := 0
	for _, e := range s.faults.queue {
		n += e.left
	}
	return n
}

// pick returns the fault for this request, if any, consuming one hit.
func (q *faultQueue) pick(path string, hasAfter, polling bool) (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, e := range q.queue {
		if !e.f.matches(path, hasAfter, polling) {
			continue
		}
		e.left--
		if e.left <= 0 {
			q.queue = append(q.queue[:i:i], q.queue[i+1:]...)
		}
		return e.f, true
	}
	for i, e := range q.prob {
		if !e.f.matches(path, hasAfter, polling) || q.rng.Float64() >= e.f.Probability {
			continue
		}
		if e.left > 0 {
			e.left--
			if e.left == 0 {
				q.prob = append(q.prob[:i:i], q.prob[i+1:]...)
			}
		}
		return e.f, true
	}
	return Fault{}, false
}
