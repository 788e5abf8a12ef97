// Package testwait is how oktaguard's tests wait: for a condition, with a
// deadline, never for a fixed time. A test that sleeps "long enough" is
// slow on a quiet machine and flaky on a loaded one; a test that waits for
// what it needs is neither.
//
// Until fails the test when the deadline passes; For reports it, for
// goroutines other than the test's own (which may not call t.Fatal) and for
// callers with their own failure message. The condition is checked at once
// and then every Poll, on the caller's goroutine (so a test's condition
// may call t.Fatal). Tests only: no binary links this package.
// TestNoFixedSleepInTests (package pkg) fails on a time.Sleep in any
// _test.go file that does not say why it must sleep ("sleep-ok: ...").
package testwait

import (
	"testing"
	"time"
)

// Poll is how often a condition is checked again.
const Poll = 10 * time.Millisecond

// For checks cond at once and then every Poll until it holds (true) or
// timeout passes (false).
func For(timeout time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(Poll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond() // one last look: the deadline is not a reason to miss it
		}
	}
}

// Until waits like For and fails the test, naming what it waited for,
// when timeout passes first. Call it from the test's goroutine.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !For(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
