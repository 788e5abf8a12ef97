package posture

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

const docsPath = "../../docs/posture.md"

// inputsLine is the docs line listing what a check reads: the inputs it
// needs (error when unreadable) and those it weighs when present, each
// with its OAuth scope.
func inputsLine(c CheckInfo) string {
	list := func(ins []string) string {
		parts := make([]string, 0, len(ins))
		for _, in := range ins {
			p := "`" + in + "`"
			if sc := ResourceScopes[in]; sc != "" {
				p += " (`" + sc + "`)"
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, ", ")
	}
	line := "- **Needs (OAuth scope):** " + list(c.Needs)
	if len(c.Needs) == 0 {
		line = "- **Needs (OAuth scope):** nothing mandatory"
	}
	if more := append(append([]string(nil), c.Optional...), c.Inputs...); len(more) > 0 {
		line += "; also reads, when readable: " + list(more)
	}
	return line
}

func naLine(c CheckInfo) string {
	return "- **Not applicable when:** " + strings.Join(c.NotApplicableWhen, "; ")
}

// docs/posture.md must describe every check with its current thresholds,
// the inputs and scopes it needs and what makes it not applicable.
// OKTAGUARD_UPDATE_DOCS=1 rewrites the generated lines (then review the diff).
func TestDocsDescribeEveryCheck(t *testing.T) {
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatalf("docs/posture.md: %v", err)
	}
	doc := string(b)
	if os.Getenv("OKTAGUARD_UPDATE_DOCS") == "1" {
		doc = updateDocs(t, doc)
	}
	for _, c := range Checks() {
		i := strings.Index(doc, "#### `"+c.ID+"`")
		if i < 0 {
			t.Errorf("%s not documented", c.ID)
			continue
		}
		sec := doc[i:]
		if j := strings.Index(sec[4:], "\n#### "); j >= 0 {
			sec = sec[:j+4]
		}
		for prof, exp := range c.Expected {
			if !strings.Contains(sec, exp) {
				t.Errorf("%s: docs lack the %s criterion %q", c.ID, prof, exp)
			}
		}
		if !strings.Contains(sec, c.Remediation) {
			t.Errorf("%s: docs lack the remediation", c.ID)
		}
		for _, want := range []string{inputsLine(c), naLine(c)} {
			if !strings.Contains(sec, want+"\n") {
				t.Errorf("%s: docs lack the line\n%s", c.ID, want)
			}
		}
	}
}

var generatedLine = regexp.MustCompile(`(?m)^- \*\*(Reads \(OAuth scopes\)|Needs \(OAuth scope\)|Not applicable when):\*\*.*\n`)

func updateDocs(t *testing.T, doc string) string {
	for _, c := range Checks() {
		i := strings.Index(doc, "#### `"+c.ID+"`")
		if i < 0 {
			continue
		}
		end := len(doc)
		if j := strings.Index(doc[i+4:], "\n#### "); j >= 0 {
			end = i + 4 + j
		}
		if j := strings.Index(doc[i:end], "\n### "); j >= 0 {
			end = i + j
		}
		sec := generatedLine.ReplaceAllString(doc[i:end], "")
		k := strings.Index(sec, "- **Remediation:**")
		if k < 0 {
			t.Fatalf("%s: no remediation line to insert before", c.ID)
		}
		sec = sec[:k] + inputsLine(c) + "\n" + naLine(c) + "\n" + sec[k:]
		doc = doc[:i] + sec + doc[end:]
	}
	if err := os.WriteFile(docsPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return doc
}
