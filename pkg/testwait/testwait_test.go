package testwait

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		for n.Load() < 3 {
			n.Add(1)
		}
	}()
	if !For(time.Minute, func() bool { return n.Load() >= 3 }) {
		t.Fatal("For gave up on a condition that came to hold")
	}
}

func TestForChecksAtOnce(t *testing.T) {
	calls := 0
	// timeout 0: only the first and the last look can see it hold
	if !For(0, func() bool { calls++; return true }) || calls != 1 {
		t.Fatalf("a condition that already holds: calls %d", calls)
	}
}

func TestForGivesUpAtTheDeadline(t *testing.T) {
	start := time.Now()
	calls := 0
	if For(5*Poll, func() bool { calls++; return false }) {
		t.Fatal("For reported a condition that never held")
	}
	if took := time.Since(start); took < 5*Poll {
		t.Fatalf("gave up after %s, before the %s deadline", took, 5*Poll)
	}
	if calls < 2 {
		t.Fatalf("condition checked %d times: it is polled, not checked once", calls)
	}
}

// fakeTB records a failure instead of stopping the goroutine.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

func TestUntilFailsNamingWhat(t *testing.T) {
	f := &fakeTB{TB: t}
	Until(f, Poll, "the answer", func() bool { return false })
	if !strings.Contains(f.failed, "waiting for the answer") {
		t.Fatalf("Until on a condition that never held: failure %q, want one naming what it waited for", f.failed)
	}
	f = &fakeTB{TB: t}
	Until(f, time.Minute, "the answer", func() bool { return true })
	if f.failed != "" {
		t.Fatalf("Until failed on a condition that held: %s", f.failed)
	}
}
