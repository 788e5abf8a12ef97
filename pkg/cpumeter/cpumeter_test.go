//go:build unix

package cpumeter

import (
	"testing"
	"time"
)

// The meter moves with work done on the CPU.
func TestProcessGrowsWithWork(t *testing.T) {
	c0 := Process()
	if c0 <= 0 {
		t.Fatalf("Process() = %v before any work, want > 0 (the test binary has run)", c0)
	}
	x := uint64(1)
	deadline := time.Now().Add(30 * time.Second)
	for Process()-c0 < 20*time.Millisecond { // 20 ms of CPU
		if time.Now().After(deadline) {
			t.Fatalf("the meter moved %v in 30 s of a busy loop", Process()-c0)
		}
		for i := 0; i < 1_000_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 {
		t.Log(x) // keeps the loop
	}
}
