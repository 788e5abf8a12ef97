package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCollectSkipsExpiredPartials: a sequence's Collect step adds values
// only to the partial matches still inside their window. An expired
// partial can never advance, so a value added to it is never reported;
// before this was checked it still marked its key changed, one state
// write per collected event until the next prune dropped the partial.
func TestCollectSkipsExpiredPartials(t *testing.T) {
	e, err := NewEngine(only("org_under_attack", DetectorConfig{}), WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	sys := jActorType("SystemPrincipal")
	fail := func(ip string, at time.Time) {
		t.Helper()
		ev := jev(t, "user.session.start", "v@example.com", at, jIP(ip, 16509), jFail("INVALID_CREDENTIALS"))
		e.Process(&ev)
	}
	// the rule's own entries written (the engine's header changes with every event)
	delta := func() int {
		t.Helper()
		d, err := e.SaveStateDelta()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for k := range d.Put {
			if strings.Contains(k, "/org_under_attack/") {
				n++
			}
		}
		return n + len(d.Reset)
	}
	start := jev(t, "security.attack.start", "system@okta.com", rt0.Add(30*time.Minute), sys, jDbg("attackType", "PASSWORD_SPRAY"))
	e.Process(&start)
	delta()
	fail("52.4.1.1", rt0.Add(31*time.Minute))
	if n := delta(); n == 0 {
		t.Fatal("a failure inside the window changed no state")
	}
	// up to the window's end, then just past it (the same hour: no prune in between)
	end := rt0.Add(30*time.Minute + 7*24*time.Hour)
	fail("52.4.1.2", end.Add(-time.Minute))
	delta()
	fail("52.4.1.3", end.Add(time.Minute))
	if n := delta(); n != 0 {
		t.Fatalf("a failure past the window changed %d state entries", n)
	}
	st, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for k, v := range st {
		fmt.Fprintf(&all, "%s=%s\n", k, v)
	}
	if s := all.String(); !strings.Contains(s, "52.4.1.2") || strings.Contains(s, "52.4.1.3") {
		t.Fatalf("want the value collected inside the window and not the one past it; state:\n%s", s)
	}
}
