package detect

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// TestEntryStateDeltas drives each detector with per-entry state alone
// through events that create entries in each of its parts, committing
// the delta of every event to a map as the store would: the stored keys
// and bytes always equal a full save, the detector is never saved whole,
// an engine reloaded from the stored entries saves the same bytes, and
// an event 70 days later prunes every entry as deletes in the delta.
func TestEntryStateDeltas(t *testing.T) {
	when := func(min int) time.Time { return day10.Add(time.Duration(min) * time.Minute) }
	var spray []event.Event
	for i := 0; i < 12; i++ {
		spray = append(spray, mkEv("user.session.start", fmt.Sprintf("v%02d@example.com", i), when(20+i),
			failed("INVALID_CREDENTIALS"), ip("203.0.113.9"), asn(16509)))
	}
	cases := []struct {
		id     string
		events []event.Event
		parts  []string // entry key prefixes expected after the events
	}{
		{"failed_logins", []event.Event{
			signIn("alice@example.com", t0),
			mkEv("user.session.start", "alice@example.com", when(1), failed("INVALID_CREDENTIALS")),
			mkEv("user.session.start", "ghost@example.com", when(2), failed("INVALID_CREDENTIALS")),
			mkEv("user.session.start", "zoë/ops\x00\xff@example.com", when(2), failed("INVALID_CREDENTIALS")),
			mkEv("user.account.reset_password", "bob@example.com", when(3)),
		}, []string{"u/alice@example.com", "u/ghost@example.com", "u/bob@example.com", "u/zo%C3%AB%2Fops%00%FF@example.com"}},
		{"mfa_fatigue", []event.Event{
			mkEv("system.push.send_factor_verify_push", "alice@example.com", when(1)),
			mkEv("user.mfa.okta_verify.deny_push", "alice@example.com", when(2)),
		}, []string{"u/alice@example.com"}},
		{"unusual_admin", []event.Event{
			mkEv("user.account.privilege.grant", "admin@example.com", when(1), target("User", "id-new", "new@example.com")),
			signIn("carol@example.com", when(2), behaviors("New Device", "POSITIVE", "New IP", "POSITIVE")),
		}, []string{"a/admin@example.com", "g/new@example.com", "r/carol@example.com"}},
		{"suspicious_ip", []event.Event{
			mkEv("security.threat.detected", "alice@example.com", when(1), ip("192.0.2.7")),
			mkEv("user.session.start", "alice@example.com", when(2), failed("INVALID_CREDENTIALS"), ip("192.0.2.8")),
			signIn("alice@example.com", when(3)),
		}, []string{"t/192.0.2.7", "f/192.0.2.8", "o/"}},
		{"password_spray", append(spray, signIn("v00@example.com", when(40), ip("203.0.113.9"), asn(16509))),
			[]string{"i/203.0.113.9", "a/", "n/16509", "s/203.0.113.9"}},
		{"mass_destructive", []event.Event{
			mkEv("system.api_token.create", "admin@example.com", when(1), target("Token", "tok-1", "")),
			mkEv("user.lifecycle.deactivate", "admin@example.com", when(2), target("User", "id-x", "x@example.com")),
		}, []string{"a/admin@example.com", "k/tok-1"}},
		{"impossible_travel", []event.Event{
			signIn("erin@example.com", when(1), at("New York")),
			signIn("erin@example.com", when(60), at("Moscow"), ip("192.0.2.99")),
		}, []string{"erin@example.com"}},
		{"session_hijack", []event.Event{
			signIn("erin@example.com", when(1), session("s-1")),
		}, []string{""}},
		{"anonymous_ip", []event.Event{
			signIn("dave@example.com", when(1), tor(), tunnel("ExampleVPN", true)),
		}, []string{"u/dave@example.com"}},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			e, err := NewEngine(only(tc.id, DetectorConfig{}), WithReorderWindow(0))
			if err != nil {
				t.Fatal(err)
			}
			if len(e.dets) != 1 || e.dets[0].reg.Info.ID != tc.id {
				t.Fatalf("%d detectors enabled, want %s alone", len(e.dets), tc.id)
			}
			if _, ok := e.dets[0].det.(entryState); !ok {
				t.Fatalf("%s has no per-entry state", tc.id)
			}
			prefix := StateKeyPrefix + tc.id + "/"
			stored := map[string][]byte{}
			step := func(ev event.Event) StateDelta {
				t.Helper()
				e.Process(&ev)
				d, err := e.SaveStateDelta()
				if err != nil {
					t.Fatal(err)
				}
				if _, whole := d.Put[StateKeyPrefix+tc.id]; whole {
					t.Fatalf("the delta saves %s whole", tc.id)
				}
				d.ApplyTo(stored)
				full, err := e.SaveState()
				if err != nil {
					t.Fatal(err)
				}
				sameState(t, "stored deltas", stored, full)
				return d
			}
			for _, ev := range tc.events {
				step(ev)
			}
			for k := range stored { // PostgreSQL keys are text: ASCII only
				for i := 0; i < len(k); i++ {
					if k[i] < 0x20 || k[i] > 0x7e {
						t.Fatalf("state key %q is not printable ASCII", k)
					}
				}
			}
			for _, p := range tc.parts {
				if n := countPrefix(stored, prefix+p); n == 0 {
					t.Fatalf("no entry %s* after the events; stored: %q", prefix+p, keysWith(stored, prefix))
				}
			}
			// entries are stored clustered by subject (state_layout.go)
			for _, k := range keysWith(stored, prefix) {
				if !strings.HasPrefix(k, stateSubjectPrefix) {
					t.Fatalf("entry %s not stored under its subject", k)
				}
			}
			// reload: the same entries, the same bytes
			e2, err := NewEngine(only(tc.id, DetectorConfig{}), WithReorderWindow(0))
			if err != nil {
				t.Fatal(err)
			}
			if err := e2.LoadState(stored); err != nil {
				t.Fatal(err)
			}
			reloaded, err := e2.SaveState()
			if err != nil {
				t.Fatal(err)
			}
			sameState(t, "a reload", stored, reloaded)
			// a corrupt entry is an error naming its key
			bad := map[string][]byte{}
			for k, v := range stored {
				bad[k] = v
			}
			badKey := keysWith(stored, prefix)[0]
			bad[badKey] = []byte("{")
			e3, _ := NewEngine(only(tc.id, DetectorConfig{}), WithReorderWindow(0))
			if err := e3.LoadState(bad); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(mustLegacy(badKey), prefix)) {
				t.Fatalf("corrupt %s: error %v, want one naming the entry", badKey, err)
			}
			// 70 days later every entry has expired: the delta deletes them
			before := keysWith(stored, prefix)
			d := step(mkEv("system.org.rate_limit.warning", "", when(70*24*60), actorType("SystemPrincipal")))
			for _, k := range before {
				if v, ok := d.Put[k]; !ok || v != nil {
					t.Fatalf("entry %s not deleted by the delta after 70 days", k)
				}
			}
			if left := keysWith(stored, prefix); len(left) > 0 {
				t.Fatalf("entries left after 70 days: %q", left)
			}
		})
	}
}

// countPrefix counts the keys of m whose legacy key (LegacyStateKey:
// "detect.<owner>/<entry>") starts with p.
func countPrefix(m map[string][]byte, p string) int {
	return len(keysWith(m, p))
}

// keysWith returns the keys of m whose legacy key starts with p, sorted.
func keysWith(m map[string][]byte, p string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(mustLegacy(k), p) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func mustLegacy(k string) string {
	lk, err := LegacyStateKey(k)
	if err != nil {
		panic(err)
	}
	return lk
}

func sameState(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("%s: %s = %s, a full save has %s", what, k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: %s = %s, not in a full save", what, k, got[k])
		}
	}
}
