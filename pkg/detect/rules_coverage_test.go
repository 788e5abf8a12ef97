package detect

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The docs must stay in step with the rules: every capability row of the
// anchors' matrix (detections.md §4, 66 rows) and every §3 gap in
// docs/rules.md names at least one registered rule or detector, and every
// registered rule has a section with its title, severity and MITRE ids.

var idRe = regexp.MustCompile("`([a-z0-9_]+)`")

// tableRows returns the rows (cells) of the first markdown table after the
// heading line that starts with heading.
func tableRows(t *testing.T, doc, heading string) [][]string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		t.Fatalf("docs/rules.md: no heading %q", heading)
	}
	var rows [][]string
	inTable := false
	for _, line := range strings.Split(doc[i+1:], "\n")[1:] {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if strings.HasPrefix(cells[0], "---") || cells[0] == "Area" || cells[0] == "Gap" {
			continue
		}
		rows = append(rows, cells)
	}
	return rows
}

func readRulesDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatalf("docs/rules.md: %v", err)
	}
	return string(b)
}

// coverageProblems lists what is wrong with a coverage table: a row count
// other than want (when want > 0), duplicate rows, rows naming no id, ids
// that are not registered.
func coverageProblems(what string, rows [][]string, col, want int) []string {
	var out []string
	if want > 0 && len(rows) != want {
		out = append(out, fmt.Sprintf("%s: %d rows, want %d", what, len(rows), want))
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if len(r) <= col {
			out = append(out, fmt.Sprintf("%s: malformed row %q", what, r))
			continue
		}
		name := strings.Join(r[:col], " / ")
		if seen[name] {
			out = append(out, fmt.Sprintf("%s: duplicate row %s", what, name))
		}
		seen[name] = true
		ids := idRe.FindAllStringSubmatch(r[col], -1)
		if len(ids) == 0 {
			out = append(out, fmt.Sprintf("%s: row %s names no rule or detector", what, name))
		}
		for _, m := range ids {
			if lookupRegistration(m[1]) == nil {
				out = append(out, fmt.Sprintf("%s: row %s names %q, which is not a registered rule or detector", what, name, m[1]))
			}
		}
	}
	return out
}

func TestCoverageTableMapsToRegisteredIDs(t *testing.T) {
	doc := readRulesDoc(t)
	var problems []string
	problems = append(problems, coverageProblems("capability matrix", tableRows(t, doc, "## Coverage of the anchors' capability matrix"), 2, 66)...)
	problems = append(problems, coverageProblems("§3 gaps", tableRows(t, doc, "### Gaps no anchor fully covers"), 1, 10)...)
	for _, p := range problems {
		t.Error(p)
	}
}

// The checker itself catches unknown ids, empty rows and duplicates.
func TestCoverageCheckerCatchesProblems(t *testing.T) {
	doc := "# Rules\n## Coverage\n\n| Area | Capability | Covered by | Notes |\n|---|---|---|---|\n" +
		"| A | one | `admin_role_granted`, `no_such_rule` | |\n| A | two | - | not built |\n| A | two | `failed_logins` | |\n\ntext\n"
	got := coverageProblems("t", tableRows(t, doc, "## Coverage"), 2, 4)
	want := []string{"3 rows, want 4", `"no_such_rule"`, "two names no rule", "duplicate row A / two"}
	if len(got) != len(want) {
		t.Fatalf("problems %q", got)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
		}
	}
}

func TestEveryRuleDocumented(t *testing.T) {
	doc := readRulesDoc(t)
	sections := map[string]string{}
	parts := strings.Split(doc, "\n#### `")
	for _, p := range parts[1:] {
		id := p[:strings.IndexByte(p, '`')]
		if _, dup := sections[id]; dup {
			t.Errorf("two sections for %s", id)
		}
		sections[id] = p
	}
	for _, r := range Rules() {
		s, ok := sections[r.ID]
		if !ok {
			t.Errorf("rule %s has no section in docs/rules.md", r.ID)
			continue
		}
		if !strings.Contains(s, "— "+r.Title+"\n") {
			t.Errorf("%s: section title differs from %q", r.ID, r.Title)
		}
		if !strings.Contains(s, "**Severity**: "+r.Severity+" ") {
			t.Errorf("%s: documented severity differs from %s", r.ID, r.Severity)
		}
		if !strings.Contains(s, "**MITRE ATT&CK**: "+strings.Join(r.MITRE, ", ")+" ") {
			t.Errorf("%s: documented MITRE ids differ from %v", r.ID, r.MITRE)
		}
		if !strings.Contains(s, r.Description) {
			t.Errorf("%s: documented description differs from the rule's", r.ID)
		}
		for _, fp := range r.FalsePositives {
			if !strings.Contains(s, fp) {
				t.Errorf("%s: false positive %q undocumented", r.ID, fp)
			}
		}
		for _, p := range DetectorParams(r.ID) {
			if !strings.Contains(s, "`"+p.Name+"`") {
				t.Errorf("%s: parameter %s undocumented", r.ID, p.Name)
			}
		}
		for _, p := range r.On {
			if !strings.Contains(s, "`"+p.Name+"`") {
				t.Errorf("%s: pattern %s undocumented", r.ID, p.Name)
			}
		}
		delete(sections, r.ID)
	}
	for id := range sections {
		t.Errorf("docs/rules.md documents %q, which is not a registered rule", id)
	}
}

// The configuration example of docs/rules.md is valid configuration.
func TestRulesDocConfigExample(t *testing.T) {
	doc := readRulesDoc(t)
	i := strings.Index(doc, "```yaml\n")
	if i < 0 {
		t.Fatal("docs/rules.md: no yaml example")
	}
	body := doc[i+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	body = strings.TrimPrefix(body, "detectors:\n")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	cfg, err := ParseConfig([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if _, err := NewEngine(cfg); err != nil {
		t.Fatalf("example config: %v", err)
	}
	if len(cfg) < 4 {
		t.Fatalf("example parsed to %d entries", len(cfg))
	}
}
