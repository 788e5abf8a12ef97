package okta

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docScopes returns the sorted, distinct scope names quoted in text.
func docScopes(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile("`(okta\\.[A-Za-z.]+)`").FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// docs/configuration.md (the default of oauth.scopes) and docs/posture.md
// (the scopes to grant) list exactly DefaultScopes.
func TestDefaultScopesDocs(t *testing.T) {
	want := slices.Sorted(slices.Values(DefaultScopes()))
	read := func(name string) string {
		b, err := os.ReadFile("../../docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	row := regexp.MustCompile("(?m)^\\| `oauth\\.scopes` \\|([^|]*)\\|").FindStringSubmatch(read("configuration.md"))
	if row == nil {
		t.Fatal("configuration.md: no oauth.scopes row")
	}
	if got := docScopes(row[1]); !slices.Equal(got, want) {
		t.Errorf("configuration.md: the oauth.scopes default lists %v,\nwant %v", got, want)
	}

	doc := read("posture.md")
	i := strings.Index(doc, "\n## What is read")
	if i < 0 {
		t.Fatal("posture.md: no section \"What is read\"")
	}
	sec := doc[i+1:]
	if j := strings.Index(sec, "\n## "); j >= 0 {
		sec = sec[:j]
	}
	rows := regexp.MustCompile("(?m)^\\| `[^`]+` \\|").FindAllString(sec, -1)
	if got := docScopes(strings.Join(rows, "")); !slices.Equal(got, want) {
		t.Errorf("posture.md: the scopes table lists %v,\nwant %v", got, want)
	}
}
