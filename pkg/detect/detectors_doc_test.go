package detect

import (
	"os"
	"strings"
	"testing"
)

// TestEveryDetectorDocumented holds docs/detectors.md to the registry:
// every registered detector that is not a rule of the pack (those are in
// docs/rules.md, see TestEveryRuleDocumented) has a "## <id>" section that
// names each of its parameters; the detector list table has one row per detector with its
// registered severity; and the page documents no detector that is not
// registered.
func TestEveryDetectorDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/detectors.md")
	if err != nil {
		t.Fatalf("docs/detectors.md: %v", err)
	}
	doc := string(b)
	sections := map[string]string{}
	for _, p := range strings.Split(doc, "\n## ")[1:] {
		title, body, _ := strings.Cut(p, "\n")
		title = strings.TrimSpace(title)
		if lookupRegistration(title) != nil || (strings.IndexFunc(title, func(r rune) bool { return r == ' ' || r >= 'A' && r <= 'Z' }) < 0) {
			sections[title] = body
		}
	}
	n := 0
	for _, r := range detectorsNotRules() {
		id := r.Info.ID
		n++
		s, ok := sections[id]
		if !ok {
			t.Errorf("detector %s has no \"## %s\" section in docs/detectors.md", id, id)
			continue
		}
		for _, p := range r.Params {
			if !strings.Contains(s, "`"+p.Name+"`") {
				t.Errorf("%s: parameter %s undocumented", id, p.Name)
			}
		}
		row := "| `" + id + "` | " + r.Info.Title + " | " + r.Info.Severity + " |"
		if !strings.Contains(doc, row) {
			t.Errorf("%s: detector list has no row %q", id, row)
		}
		delete(sections, id)
	}
	for id := range sections {
		t.Errorf("docs/detectors.md has a section for %q, which is not a registered detector", id)
	}
	if n == 0 {
		t.Fatal("no detectors checked")
	}
}

// detectorsNotRules is the registry without the rules of the pack: the
// detectors docs/detectors.md and the config editor list.
func detectorsNotRules() []Registration {
	rules := map[string]bool{}
	for _, r := range Rules() {
		rules[r.ID] = true
	}
	var out []Registration
	for _, r := range registry {
		if !rules[r.Info.ID] {
			out = append(out, r)
		}
	}
	return out
}
