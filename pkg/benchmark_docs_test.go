package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	eachTestFile(t, func(_ string, src []byte) {
		for _, m := range fn.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
	})
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
