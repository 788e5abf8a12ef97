// Package testsamples finds the Okta System Log events that tests read: the
// project's own realistic events under pkg/event/testdata, which every clone
// has, and the public samples in ../shared beside the repository.
//
// A missing own file always fails. ../shared is required when
// OKTAGUARD_REQUIRE_SHARED=1 (CI sets it, so a missing folder fails there);
// otherwise a test that needs it is skipped with the reason.
package testsamples

import (
	"os"
	"path/filepath"
	"testing"
)

// Root is the repository root (the folder holding go.mod), found from the
// test's working directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// SharedRequired reports whether ../shared must be present.
func SharedRequired() bool { return os.Getenv("OKTAGUARD_REQUIRE_SHARED") == "1" }

// Shared returns the path of rel inside ../shared. When it is missing the
// test fails if SharedRequired, and is skipped with the reason otherwise.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(Root(t)), "shared", rel)
	if _, err := os.Stat(p); err != nil {
		if SharedRequired() {
			t.Fatalf("%s is missing (OKTAGUARD_REQUIRE_SHARED=1): %v", p, err)
		}
		t.Skipf("%s is missing; CI sets OKTAGUARD_REQUIRE_SHARED=1 and fails without it", p)
	}
	return p
}

// OwnEvents returns the project's own event files (JSON Lines); none is a failure.
func OwnEvents(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(Root(t), "pkg", "event", "testdata", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no event files under pkg/event/testdata: the project's own samples must exist")
	}
	return files
}

// EventFiles returns the project's own event files and the public samples in
// ../shared/samples/okta-system-log when present (required under
// OKTAGUARD_REQUIRE_SHARED=1).
func EventFiles(t testing.TB) []string {
	t.Helper()
	files := OwnEvents(t)
	shared, _ := filepath.Glob(filepath.Join(filepath.Dir(Root(t)), "shared", "samples", "okta-system-log", "*.jsonl"))
	if len(shared) == 0 && SharedRequired() {
		t.Fatal("../shared/samples/okta-system-log has no samples (OKTAGUARD_REQUIRE_SHARED=1)")
	}
	return append(files, shared...)
}
