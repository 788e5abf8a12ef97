package detect

import (
	"strings"
	"testing"
	"time"
)

func TestStateKeyLayout(t *testing.T) {
	cases := []struct{ owner, entry, key, legacy string }{
		{"failed_logins", "u/ann@example.com", "detect.s/ann@example.com/failed_logins/u", "detect.failed_logins/u/ann@example.com"},
		{"dormant_account_activity", "dormant/ann%2Fx@example.com", "detect.s/ann%2Fx@example.com/dormant_account_activity/dormant",
			"detect.dormant_account_activity/dormant/ann%2Fx@example.com"},
		{"password_spray", "i/198.51.100.7", "detect.s/198.51.100.7/password_spray/i", "detect.password_spray/i/198.51.100.7"},
		// no part: the path-escaped entry is the subject
		{"impossible_travel", "ann b@example.com", "detect.s/ann%20b@example.com/impossible_travel", "detect.impossible_travel/ann b@example.com"},
		{"session_hijack", "9f3a", "detect.s/9f3a/session_hijack", "detect.session_hijack/9f3a"},
		{"helpdesk_chain", "h", "detect.s/h/helpdesk_chain", "detect.helpdesk_chain/h"},
		{"failed_logins", "u/", "detect.s//failed_logins/u", "detect.failed_logins/u/"},
		// a subject with a slash keeps the legacy layout
		{"impossible_travel", "ann/b@example.com/x", "detect.impossible_travel/ann/b@example.com/x", "detect.impossible_travel/ann/b@example.com/x"},
	}
	for _, c := range cases {
		k := entryStateKey(c.owner, c.entry)
		if k != c.key {
			t.Errorf("entryStateKey(%q, %q) = %q, want %q", c.owner, c.entry, k, c.key)
		}
		lk, err := LegacyStateKey(k)
		if err != nil || lk != c.legacy {
			t.Errorf("LegacyStateKey(%q) = %q, %v; want %q", k, lk, err, c.legacy)
		}
		if got := ClusteredStateKey(c.legacy); got != k {
			t.Errorf("ClusteredStateKey(%q) = %q, want %q", c.legacy, got, k)
		}
	}
	// a user's baseline: escaped login, next to the detectors' entries
	if k := userStateKey("ann b@example.com"); k != "detect.s/ann%20b@example.com/engine/u" {
		t.Errorf("userStateKey = %q", k)
	}
	if lk, err := LegacyStateKey("detect.s/ann%20b@example.com/engine/u"); err != nil || lk != "detect.engine/u/ann b@example.com" {
		t.Errorf("legacy user key %q, %v", lk, err)
	}
	for _, k := range []string{"detect.engine", "detect.engine/d/x", "detect.engine/p/1f", "detect.failed_logins", "other"} {
		if lk, err := LegacyStateKey(k); err != nil || lk != k || ClusteredStateKey(k) != k {
			t.Errorf("key %q changed by the layout: %q, %q, %v", k, lk, ClusteredStateKey(k), err)
		}
	}
	for _, k := range []string{"detect.s/x", "detect.s/x/", "detect.s/x/owner/a/b", "detect.s/x/engine/d", "detect.s/%zz/owner", "detect.s/%zz/engine/u"} {
		if lk, err := LegacyStateKey(k); err == nil {
			t.Errorf("malformed key %q read as %q", k, lk)
		}
	}
	// no detector may be named like the clustered keys' prefix
	for _, r := range registry {
		if r.Info.ID == subjectOwner {
			t.Fatalf("detector id %q is reserved for the state layout", r.Info.ID)
		}
	}
}

// TestStateLoadsBothLayouts: a state stored in the older layout loads to
// the same engine; a key stored in both layouts is an error naming it.
func TestStateLoadsBothLayouts(t *testing.T) {
	e, err := NewEngine(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ { // sign-ins of 20 users, some failed, from 5 addresses
		opts := []evOpt{ip("198.51.100." + string(rune('1'+i%5))), session("s" + string(rune('a'+i%20)))}
		if i%7 == 3 {
			opts = append(opts, failed("INVALID_CREDENTIALS"))
		}
		ev := signIn("u"+string(rune('a'+i%20))+"@example.com", t0.Add(time.Duration(i)*time.Minute), opts...)
		e.Process(&ev)
	}
	full, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	old := map[string][]byte{}
	moved := 0
	for k, v := range full {
		lk := mustLegacy(k)
		if lk != k {
			moved++
		}
		old[lk] = v
	}
	if moved == 0 {
		t.Fatal("no key clustered by subject")
	}
	e2, _ := NewEngine(Config{})
	if err := e2.LoadState(old); err != nil {
		t.Fatal(err)
	}
	again, err := e2.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, "loaded from the older layout", again, full)

	for k, v := range full {
		if lk := mustLegacy(k); lk != k {
			both := map[string][]byte{k: v, lk: v}
			e3, _ := NewEngine(Config{})
			if err := e3.LoadState(both); err == nil || !strings.Contains(err.Error(), "both key layouts") {
				t.Fatalf("%q in both layouts: %v", lk, err)
			}
			break
		}
	}
}
