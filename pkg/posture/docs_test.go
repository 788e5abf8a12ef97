package posture

import (
	"os"
	"strings"
	"testing"
)

// docs/posture.md must describe every check with its current thresholds.
func TestDocsDescribeEveryCheck(t *testing.T) {
	b, err := os.ReadFile("../../docs/posture.md")
	if err != nil {
		t.Fatalf("docs/posture.md: %v", err)
	}
	doc := string(b)
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
	}
}
