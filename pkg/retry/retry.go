// Package retry is the one backoff helper of oktaguard: exponential delays
// with jitter, and a sleep that ends with its context. The Okta client
// (retried requests, 429s without reset headers) and the pipeline (failed
// polls and commits) both use it.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is the wait before retry n (counted from 1): base·2^(n-1), capped
// at max, then jittered uniformly into [d/2, d) so that clients that failed
// together do not retry together.
func Delay(n int, base, max time.Duration) time.Duration {
	return Jitter(Exp(n, base, max))
}

// Exp is base·2^(n-1) capped at max, without jitter (n counts from 1).
func Exp(n int, base, max time.Duration) time.Duration {
	if n < 1 {
		n = 1
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Jitter returns a duration uniformly in [d/2, d) (d itself when d ≤ 1ns).
func Jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half))) // #nosec G404 -- jitter of a backoff, not a secret
}

// Sleep waits d or until ctx ends, whichever comes first, and returns
// ctx.Err() when ctx ended (also when d ≤ 0 and ctx is already done).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
