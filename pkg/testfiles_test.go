package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// eachTestFile calls fn with the path and text of every _test.go file of
// the repository (node_modules and dot directories left out) and returns
// how many it read; a walk error fails the test.
func eachTestFile(t *testing.T, fn func(path string, src []byte)) int {
	t.Helper()
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
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		fn(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
