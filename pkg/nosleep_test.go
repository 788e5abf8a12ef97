package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoFixedSleepInTests: tests wait for a condition with a deadline
// (pkg/testwait) or move a clock, never for a fixed time. A time.Sleep in
// a _test.go file fails here unless its line carries a comment
// "sleep-ok: <why>" a reviewer has accepted.
func TestNoFixedSleepInTests(t *testing.T) {
	const sleep = "time." + "Sleep(" // split, so this file's own lines do not match
	files := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && path != "..") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, sleep) && !strings.Contains(line, "sleep-ok:") {
				t.Errorf("%s:%d: a fixed sleep in a test (wait with pkg/testwait or move a clock): %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d test files: the walk is wrong", files)
	}
}
