package detect

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A user who goes quiet loses baseline entries when the engine prunes on
// another user's events: the delta must carry that user, or a restart
// would bring the pruned entries back. The delta of a page holds only the
// users its events touched (plus the header), not every user.
func TestStateDeltaPruneAndSize(t *testing.T) {
	e, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{}
	apply := func() StateDelta {
		t.Helper()
		d, err := e.SaveStateDelta()
		if err != nil {
			t.Fatal(err)
		}
		d.ApplyTo(stored)
		return d
	}
	for i := 0; i < 50; i++ {
		ev := signIn("u"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", t0.Add(time.Duration(i)*time.Minute))
		e.Process(&ev)
	}
	if d := apply(); len(d.Reset) != 1 {
		t.Fatalf("first save resets %q", d.Reset)
	}
	// one user active every day for 40 days: the others' entries age out
	for day := 1; day <= 40; day++ {
		ev := signIn("active@example.com", t0.Add(time.Duration(day)*24*time.Hour))
		e.Process(&ev)
		d := apply()
		var eng []string
		for k := range d.Put {
			if strings.HasPrefix(k, stateEngineKey) {
				eng = append(eng, k)
			}
		}
		if day > 1 && day < 29 && len(eng) > 2 { // the header, the active user, no one else
			t.Fatalf("day %d: delta of one event writes %d engine keys: %v", day, len(eng), eng)
		}
	}
	full, err := e.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != len(stored) {
		t.Fatalf("stored %d keys, a full save has %d", len(stored), len(full))
	}
	pruned := 0
	for k, v := range full {
		if !bytes.Equal(stored[k], v) {
			t.Fatalf("stored %s = %s, a full save has %s", k, stored[k], v)
		}
		if strings.HasPrefix(mustLegacy(k), stateUserPrefix) && !bytes.Contains(v, []byte(`"c":`)) {
			pruned++
		}
	}
	if pruned < 50 {
		t.Fatalf("%d users with pruned countries, want the 50 quiet ones", pruned)
	}
}

// A buffered event's entry must be JSON of the event under its own number.
func TestStatePendingEntryErrors(t *testing.T) {
	for k, v := range map[string]string{
		statePendPrefix + "zz": `{"seq":1,"ev":{}}`,
		statePendPrefix + "2":  `{"seq":1,"ev":{}}`,
		statePendPrefix + "1":  `{`,
	} {
		e, _ := NewEngine(Config{})
		if err := e.LoadState(map[string][]byte{k: []byte(v)}); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s = %s: error %v", k, v, err)
		}
	}
	e, _ := NewEngine(Config{})
	if err := e.LoadState(map[string][]byte{statePendPrefix + "a": []byte(`{"seq":10,"ev":{"uuid":"x"}}`)}); err != nil || e.Buffered() != 1 {
		t.Fatalf("buffered %d, %v", e.Buffered(), err)
	}
}
