package detect

import (
	"strings"
	"testing"
)

// A stored user entry whose AS-number day does not fit the 16-bit day is
// corrupt: loading it is an error naming the entry, not a day silently
// wrapped into another (70 000 would have become 4 464).
func TestLoadStateRejectsASNDayOutOfRange(t *testing.T) {
	e, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	ev := signIn("alice@example.com", t0, ip("192.0.2.7"), asn(64500))
	e.Process(&ev)
	stored, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for k, v := range stored {
		if i := strings.Index(string(v), `"a":[[64500,`); i >= 0 {
			j := i + strings.Index(string(v[i:]), "]]")
			stored[k] = []byte(string(v[:i]) + `"a":[[64500,70000` + string(v[j:]))
			found = k
		}
	}
	if found == "" {
		t.Fatalf("no stored user entry holds the AS number: %q", stored)
	}
	e2, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	err = e2.LoadState(stored)
	if err == nil || !strings.Contains(err.Error(), `user "alice@example.com": AS number day out of range`) {
		t.Fatalf("LoadState of a day past 16 bits: %v", err)
	}
}
