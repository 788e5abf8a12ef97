package retry

import (
	"context"
	"testing"
	"time"
)

func TestExpDoublesAndCaps(t *testing.T) {
	for n, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 7: time.Minute, 100: time.Minute} {
		if got := Exp(n, time.Second, time.Minute); got != want {
			t.Errorf("Exp(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestDelayIsJitteredIntoUpperHalf(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		d := Delay(3, time.Second, time.Minute)
		if d < 2*time.Second || d >= 4*time.Second {
			t.Fatalf("Delay(3) = %s, want in [2s, 4s)", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Fatal("Delay is not jittered")
	}
}

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep on a done context = %v", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
}
