package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/oktaguard/oktaguard"

// docPackage is one row of docs/architecture.md's package table.
type docPackage struct {
	path      string   // "pkg/event", "cmd/oktaguard", "pkg"
	imports   []string // ours, in the same form
	row       int      // position in the table
	testsOnly bool     // "(tests only)": no package's non-test code imports it
}

// readPackageTable parses the "## Packages" table of docs/architecture.md:
// the first column names the package, the last lists the packages of ours it
// imports (backticked, "—" for none).
func readPackageTable(t *testing.T) []docPackage {
	t.Helper()
	f, err := os.Open("../docs/architecture.md")
	if err != nil {
		t.Fatalf("docs/architecture.md must exist: %v", err)
	}
	defer f.Close()
	tick := regexp.MustCompile("`([^`]+)`")
	var out []docPackage
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Packages"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		name := tick.FindStringSubmatch(cells[0])
		if name == nil {
			t.Fatalf("package cell without a name: %q", line)
		}
		p := docPackage{path: name[1], row: len(out), testsOnly: strings.Contains(line, "(tests only)")}
		for _, m := range tick.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			p.imports = append(p.imports, m[1])
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("docs/architecture.md has no package table under \"## Packages\"")
	}
	return out
}

// goImports derives our non-test import graph from `go list`, with the
// default build tags (what the shipped binaries are built from) plus tags.
func goImports(t *testing.T, tags ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", strings.Join(tags, ","), "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = ".."
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	short := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, module), "/") }
	graph := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.ImportPath, "/node_modules/") {
			continue // npm packages may ship Go files; never ours
		}
		name := short(p.ImportPath)
		if name == "" {
			name = "." // the module root holds no package today
		}
		ours := []string{}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") {
				ours = append(ours, short(imp))
			}
		}
		slices.Sort(ours)
		graph[name] = ours
	}
	return graph
}

// TestArchitectureDocMatchesImports holds docs/architecture.md to the code:
// every package is in the table, each row lists exactly the packages of ours
// it imports, and every import points to a row above it (dependencies point
// one way, down the table).
func TestArchitectureDocMatchesImports(t *testing.T) {
	doc := readPackageTable(t)
	graph := goImports(t)
	rows := map[string]docPackage{}
	for _, p := range doc {
		if _, dup := rows[p.path]; dup {
			t.Errorf("docs/architecture.md lists %s twice", p.path)
		}
		rows[p.path] = p
	}
	for pkg := range graph {
		if _, ok := rows[pkg]; !ok {
			t.Errorf("package %s is missing from docs/architecture.md's table", pkg)
		}
	}
	for _, p := range doc {
		actual, ok := graph[p.path]
		if !ok {
			t.Errorf("docs/architecture.md lists %s, which is not a package", p.path)
			continue
		}
		want := slices.Clone(p.imports)
		slices.Sort(want)
		if !slices.Equal(want, actual) {
			t.Errorf("%s imports %v; docs/architecture.md says %v", p.path, actual, want)
		}
		for _, imp := range actual {
			if dep, ok := rows[imp]; ok && dep.row >= p.row {
				t.Errorf("%s imports %s, which the table lists below it: dependencies must point up the table", p.path, imp)
			}
			if dep, ok := rows[imp]; ok && dep.testsOnly && !rows[p.path].testsOnly {
				t.Errorf("%s imports %s, which docs/architecture.md says only tests import", p.path, imp)
			}
		}
	}
}

// TestDemoBuildAddsOnlyTheSimulatorToThePlugin: the demo build
// (-tags oktaguard_demo, docs/architecture.md's last paragraph on the
// simulator) differs from the default graph in one edge only, pkg/plugin
// importing pkg/oktasim/demo, which the table lists above pkg/plugin.
func TestDemoBuildAddsOnlyTheSimulatorToThePlugin(t *testing.T) {
	def, demo := goImports(t), goImports(t, "oktaguard_demo")
	rows := map[string]int{}
	for _, p := range readPackageTable(t) {
		rows[p.path] = p.row
	}
	for pkg, imps := range demo {
		want := def[pkg]
		if pkg == "pkg/plugin" {
			if slices.Contains(want, "pkg/oktasim/demo") {
				t.Fatal("the default build of pkg/plugin imports pkg/oktasim/demo: the simulator is in the production plugin")
			}
			want = append(slices.Clone(want), "pkg/oktasim/demo")
			slices.Sort(want)
			if rows["pkg/oktasim/demo"] >= rows["pkg/plugin"] {
				t.Error("pkg/oktasim/demo must be listed above pkg/plugin")
			}
		}
		if !slices.Equal(imps, want) {
			t.Errorf("-tags oktaguard_demo: %s imports %v; the default build %v (only pkg/plugin may differ, by pkg/oktasim/demo)", pkg, imps, def[pkg])
		}
	}
}
