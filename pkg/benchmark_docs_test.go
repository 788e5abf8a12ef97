package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocsNameExistingBenchmarks holds every benchmark the docs name
// (docs/*.md: the commands and figures of docs/performance.md above all) to
// the code: each `BenchmarkX` must be a func BenchmarkX(b *testing.B) in
// some _test.go file, so a renamed or deleted benchmark cannot leave a
// figure nobody can re-run. (Sub-benchmark names after the slash are built
// at run time and not checked here.)
func TestDocsNameExistingBenchmarks(t *testing.T) {
	defined := map[string]bool{}
	fn := regexp.MustCompile(`(?m)^func (Benchmark\w+)\(\w+ \*testing\.B\)`)
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
		for _, m := range fn.FindAllStringSubmatch(string(b), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(defined) < 10 {
		t.Fatalf("found only %d benchmarks in the code: the walk is wrong", len(defined))
	}
	docs, err := filepath.Glob("../docs/*.md")
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	named := regexp.MustCompile(`\bBenchmark[A-Z]\w*`)
	checked := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for _, name := range named.FindAllString(string(b), -1) {
			checked++
			if !defined[name] && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
		}
		for _, name := range missing {
			t.Errorf("%s names %s, which no _test.go file defines", filepath.Base(doc), name)
		}
	}
	if checked == 0 {
		t.Fatal("the docs name no benchmark: the pattern is wrong")
	}
}
