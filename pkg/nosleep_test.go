package main

import (
	"strings"
	"testing"
)

// TestNoFixedSleepInTests: tests wait for a condition with a deadline
// (pkg/testwait) or move a clock, never for a fixed time. A time.Sleep in
// a _test.go file fails here unless its line carries a comment
// "sleep-ok: <why>" a reviewer has accepted.
func TestNoFixedSleepInTests(t *testing.T) {
	const sleep = "time." + "Sleep(" // split, so this file's own lines do not match
	files := eachTestFile(t, func(path string, src []byte) {
		for i, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, sleep) && !strings.Contains(line, "sleep-ok:") {
				t.Errorf("%s:%d: a fixed sleep in a test (wait with pkg/testwait or move a clock): %s", path, i+1, strings.TrimSpace(line))
			}
		}
	})
	if files < 50 {
		t.Fatalf("read only %d test files: the walk is wrong", files)
	}
}
