package detect

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// frontendDetector is one entry of the config editor's DETECTORS list
// (src/constants.ts), which the editor needs before the data source is
// saved, so it cannot ask the backend.
type frontendDetector struct {
	id, title, severity string
	params              map[string]string // key -> default, as written in TypeScript
}

// readFrontendDetectors parses the DETECTORS array of src/constants.ts:
// the object literals prettier writes there, one `id:`, `title:`,
// `severity:` and a `params` list of `{ key, ..., default }` each.
func readFrontendDetectors(t *testing.T) []frontendDetector {
	t.Helper()
	b, err := os.ReadFile("../../src/constants.ts")
	if err != nil {
		t.Fatalf("src/constants.ts must exist: %v", err)
	}
	_, list, ok := strings.Cut(string(b), "export const DETECTORS: DetectorInfo[] = [")
	if !ok {
		t.Fatal("src/constants.ts: no `export const DETECTORS: DetectorInfo[] = [`")
	}
	list, _, ok = strings.Cut(list, "\n];")
	if !ok {
		t.Fatal("src/constants.ts: the DETECTORS array does not end with a line `];`")
	}
	str := func(field, in string) string {
		m := regexp.MustCompile(`\b` + field + `: '((?:[^'\\]|\\.)*)'`).FindStringSubmatch(in)
		if m == nil {
			return ""
		}
		return strings.ReplaceAll(m[1], `\'`, `'`)
	}
	param := regexp.MustCompile(`(?s)key: '(\w+)',.*?\bdefault: ('[^']*'|[-0-9.eE]+|true|false)`)
	var out []frontendDetector
	for _, block := range strings.Split(list, "\n  {\n")[1:] {
		head, params, _ := strings.Cut(block, "params:")
		d := frontendDetector{id: str("id", head), title: str("title", head), severity: str("severity", head), params: map[string]string{}}
		if d.id == "" {
			t.Fatalf("src/constants.ts: a DETECTORS entry without an id:\n%s", block)
		}
		for _, p := range strings.Split(params, "key: ")[1:] {
			m := param.FindStringSubmatch("key: " + p)
			if m == nil {
				t.Fatalf("src/constants.ts: %s: a parameter without a default: key: %s", d.id, p)
			}
			d.params[m[1]] = m[2]
		}
		out = append(out, d)
	}
	return out
}

// sameDefault reports whether a TypeScript default equals a registered one.
func sameDefault(ts string, def any) bool {
	switch v := def.(type) {
	case time.Duration:
		d, err := time.ParseDuration(strings.Trim(ts, "'"))
		return err == nil && d == v
	case bool:
		return ts == strconv.FormatBool(v)
	case int:
		n, err := strconv.ParseFloat(ts, 64)
		return err == nil && n == float64(v)
	case float64:
		n, err := strconv.ParseFloat(ts, 64)
		return err == nil && n == v
	case string:
		return ts == "'"+v+"'"
	}
	return false
}

// TestFrontendDetectorListMatchesRegistry holds the config editor's
// detector list to the registry, so a detector added here without its
// editor entry (or a default changed on one side only) fails: every
// registered detector that is not a rule of the pack is listed once with
// its title and severity, nothing else is listed, and every parameter the
// editor offers exists with the registered default.
func TestFrontendDetectorListMatchesRegistry(t *testing.T) {
	listed := map[string]frontendDetector{}
	for _, d := range readFrontendDetectors(t) {
		if _, dup := listed[d.id]; dup {
			t.Errorf("src/constants.ts lists %s twice", d.id)
		}
		listed[d.id] = d
	}
	detectors := detectorsNotRules()
	if len(detectors) == 0 {
		t.Fatal("no detectors to check")
	}
	for _, r := range detectors {
		id := r.Info.ID
		d, ok := listed[id]
		if !ok {
			t.Errorf("detector %s is missing from DETECTORS in src/constants.ts (the config editor's list)", id)
			continue
		}
		delete(listed, id)
		if d.title != r.Info.Title || d.severity != r.Info.Severity {
			t.Errorf("%s: src/constants.ts says %q, %s; the registry %q, %s", id, d.title, d.severity, r.Info.Title, r.Info.Severity)
		}
		defaults := map[string]any{}
		for _, p := range r.Params {
			defaults[p.Name] = p.Default
		}
		for key, ts := range d.params {
			def, ok := defaults[key]
			if !ok {
				t.Errorf("%s: src/constants.ts offers parameter %s, which the detector does not have", id, key)
				continue
			}
			if !sameDefault(ts, def) {
				t.Errorf("%s: %s defaults to %s in src/constants.ts, %s in the registry", id, key, ts, fmt.Sprint(def))
			}
		}
	}
	for id := range listed {
		t.Errorf("src/constants.ts lists %s, which is not a registered detector", id)
	}
}
