package oktasim

import (
	"encoding/json"
	"testing"
)

// FuzzParseFilter checks that no filter expression panics the parser or the
// evaluator, and that every rejection is a *filterError with an Okta code.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`eventType eq "user.session.start"`,
		`(eventType eq "a" or eventType sw "b") and not (outcome.result eq "SUCCESS")`,
		`securityContext.asNumber gt 10 and client.zone pr`,
		`target.alternateId co "x\"y"`, `published gt "x"`, `a[`, `((`, `not`, `eventType eq -1e9`,
		`debugContext.debugData.url co "/"`,
	} {
		f.Add(s)
	}
	var doc any
	_ = json.Unmarshal(ev("fz", t0, "user.session.start"), &doc)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseFilter(s)
		if err != nil {
			fe, ok := err.(*filterError)
			if !ok || (fe.code != CodeInvalidFilter && fe.code != CodeSearchCriteria) {
				t.Fatalf("%q: unexpected error %T %v", s, err, err)
			}
			return
		}
		n.eval(doc)
	})
}

func TestFilterNestingLimit(t *testing.T) {
	deep := ""
	for i := 0; i < 100000; i++ {
		deep += "("
	}
	if _, err := parseFilter(deep + `eventType eq "a"`); err == nil {
		t.Fatal("deep nesting accepted")
	}
	ok := `((((eventType eq "a"))))`
	if _, err := parseFilter(ok); err != nil {
		t.Fatalf("moderate nesting rejected: %v", err)
	}
}
