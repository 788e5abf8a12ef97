package detect

import (
	"strings"
	"testing"
	"time"
)

// An engine whose state is never saved (a replay) records no changed
// keys; once saved, a commit's delta holds the rule keys its events
// touched, and the keys a prune expired as deletes.
func TestRuleStateChangesTracked(t *testing.T) {
	e, _ := NewEngine(ruleOnly("dormant_account_activity", DetectorConfig{}), WithReorderWindow(0))
	var rd *ruleDetector
	for _, d := range e.all {
		if d.reg.Info.ID == "dormant_account_activity" {
			rd = d.det.(*ruleDetector)
		}
	}
	for i := 0; i < 50; i++ {
		ev := jev(t, "user.session.start", "u"+string(rune('a'+i%26))+"@example.com", rt0.Add(time.Duration(i)*time.Minute))
		e.Process(&ev)
	}
	if len(rd.dirty) != 0 || len(rd.changes.keys) != 0 || len(e.dedupChanged.keys) != 0 {
		t.Fatalf("an engine never saved tracks %d rule keys, %d dedup keys", len(rd.dirty)+len(rd.changes.keys), len(e.dedupChanged.keys))
	}
	if d, err := e.SaveStateDelta(); err != nil || len(d.Reset) != 1 {
		t.Fatalf("first delta %v, %v", d.Reset, err)
	}
	ev := jev(t, "user.session.start", "ua@example.com", rt0.Add(time.Hour))
	e.Process(&ev)
	d, err := e.SaveStateDelta()
	if err != nil {
		t.Fatal(err)
	}
	name := ""
	for _, s := range rd.pats {
		if s.p.Idle > 0 {
			name = s.p.Name
		}
	}
	key := entryStateKey("dormant_account_activity", name+"/ua@example.com")
	if key != stateSubjectPrefix+"ua@example.com/dormant_account_activity/"+name {
		t.Fatalf("entry stored under %q, not clustered by its user", key)
	}
	if b := d.Put[key]; len(b) == 0 || !strings.Contains(string(b), ev.UUID) {
		t.Fatalf("delta after one event: %q = %s (keys %d)", key, b, len(d.Put))
	}
	for k := range d.Put {
		if strings.HasPrefix(mustLegacy(k), StateKeyPrefix+"dormant_account_activity/") && k != key {
			t.Errorf("delta holds untouched key %q", k)
		}
	}
	// past the pattern's retention every key expires: the delta deletes them
	late := jev(t, "user.session.start", "zz@example.com", rt0.Add(500*24*time.Hour))
	e.Process(&late)
	d, err = e.SaveStateDelta()
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for k, v := range d.Put {
		if strings.HasPrefix(mustLegacy(k), StateKeyPrefix+"dormant_account_activity/") && v == nil {
			deleted++
		}
	}
	if deleted != 26 {
		t.Fatalf("%d keys deleted after the retention, want the 26 users", deleted)
	}
}
