package detect

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// The DSL's behaviour independent of any one rule: restart (save / load
// in the middle of sequences, thresholds, quiet deadlines, idle and
// new-term memories) neither forgets nor re-alerts; corrupt state is a
// precise error; params validate.

// restartRun processes evs in one engine, and again split at every
// position with SaveState / LoadState in between: the alerts must be the
// same (ids, order) and none repeated.
func restartRun(t *testing.T, id string, evs []event.Event) {
	t.Helper()
	want := runRule(t, id, DetectorConfig{}, evs)
	if len(want) == 0 {
		t.Fatalf("%s: the scenario raises no alert", id)
	}
	for cut := 1; cut < len(evs); cut++ {
		e1, _ := NewEngine(ruleOnly(id, DetectorConfig{}), WithReorderWindow(0))
		var got []Alert
		stored := map[string][]byte{} // the deltas after every event, as the store applies them
		for i := 0; i < cut; i++ {
			got = append(got, e1.Process(&evs[i])...)
			d, err := e1.SaveStateDelta()
			if err != nil {
				t.Fatal(err)
			}
			d.ApplyTo(stored)
		}
		st, err := e1.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(st, stored, bytes.Equal) {
			t.Fatalf("%s cut %d: the stored deltas differ from a full save:\n%q\n%q", id, cut, stored, st)
		}
		// through JSON bytes, as the store keeps them
		for k, v := range st {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				t.Fatalf("state %s is not JSON: %v", k, err)
			}
		}
		e2, _ := NewEngine(ruleOnly(id, DetectorConfig{}), WithReorderWindow(0))
		if err := e2.LoadState(st); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		for i := cut; i < len(evs); i++ {
			got = append(got, e2.Process(&evs[i])...)
		}
		got = append(got, e2.Flush()...)
		var mine []Alert
		for _, a := range Final(got) {
			if a.Detector == id {
				mine = append(mine, a)
			}
		}
		if len(mine) != len(want) {
			t.Fatalf("%s cut %d: %d alerts after restart, %d in one run", id, cut, len(mine), len(want))
		}
		for i := range want {
			if mine[i].ID != want[i].ID {
				t.Fatalf("%s cut %d: alert %d differs", id, cut, i)
			}
		}
	}
}

func TestRuleStateSurvivesRestart(t *testing.T) {
	hd, sec := "hd.desk@example.com", "sam.secadmin@example.com"
	vps := jIP("159.203.17.4", 14061)
	t.Run("sequence", func(t *testing.T) {
		restartRun(t, "helpdesk_chain", evs(
			jev(t, "user.mfa.factor.reset_all", hd, rt0, jTrusted(), jUser(sec)),
			jev(t, "user.session.start", sec, rt0.Add(mins(20)), vps),
			jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), vps, jUser(sec)),
			jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(40)), vps),
			jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(50)), vps)))
	})
	t.Run("quiet sequence", func(t *testing.T) {
		u := "una.user@example.com"
		restartRun(t, "mfa_abandonment", evs(
			jev(t, "user.authentication.verify", u, rt0, vps, jSess("s9"), jCred("PASSWORD"), jDbg("behaviors", "{New IP=POSITIVE}")),
			jev(t, "system.push.send_factor_verify_push", u, rt0.Add(time.Minute), vps, jSess("s9")),
			jev(t, "user.session.start", "x@example.com", rt0.Add(mins(10))),
			jev(t, "user.session.start", "x@example.com", rt0.Add(mins(40))),
			jev(t, "user.session.start", "x@example.com", rt0.Add(mins(50)))))
	})
	t.Run("cancel before", func(t *testing.T) {
		a := "ana.admin@example.com"
		restartRun(t, "admin_console_weak_mfa", evs(
			jev(t, "user.authentication.auth_via_mfa", a, rt0, jSess("s1")),
			jev(t, "user.session.start", a, rt0.Add(time.Second), jSess("s1")),
			jev(t, "user.session.start", a, rt0.Add(2*time.Second), jSess("s2")),
			jev(t, "user.session.access_admin_app", a, rt0.Add(mins(5)), jSess("s1")),
			jev(t, "user.session.access_admin_app", a, rt0.Add(mins(6)), jSess("s2"))))
	})
	t.Run("threshold", func(t *testing.T) {
		var es []event.Event
		for i := 0; i < 7; i++ {
			es = append(es, jev(t, "app.generic.unauth_app_access_attempt", "una@example.com", rt0.Add(mins(5*i)), jFail("denied")))
		}
		restartRun(t, "denied_app_access", es)
	})
	t.Run("idle and new term", func(t *testing.T) {
		restartRun(t, "dormant_account_activity", evs(
			jev(t, "user.session.start", "una@example.com", rt0),
			jev(t, "user.session.start", "una@example.com", rt0.Add(24*time.Hour)),
			jev(t, "user.session.start", "una@example.com", rt0.Add(120*24*time.Hour)),
			jev(t, "user.session.start", "una@example.com", rt0.Add(121*24*time.Hour))))
		restartRun(t, "api_token_new_source", evs(
			jev(t, "group.user_membership.add", "svc@example.com", rt0, jIP("34.1.2.3", 396982), jToken("00Tsvc")),
			jev(t, "group.user_membership.add", "svc@example.com", rt0.Add(8*24*time.Hour), jIP("34.1.2.3", 396982), jToken("00Tsvc")),
			jev(t, "user.lifecycle.deactivate", "svc@example.com", rt0.Add(9*24*time.Hour), vps, jToken("00Tsvc")),
			jev(t, "user.lifecycle.deactivate", "svc@example.com", rt0.Add(9*24*time.Hour+time.Minute), vps, jToken("00Tsvc"))))
	})
}

func TestRuleStateErrors(t *testing.T) {
	e, err := NewEngine(ruleOnly("helpdesk_chain", DetectorConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{`, `{"patterns":"x"}`, `{"patterns":[{"name":"chain","seq":{"k":{"at":[null]}}}]}`, `{"patterns":[{"name":"chain","seq":{"k":{"at":[{"s":[]},null,null]}}}]}`} {
		err := e.LoadState(map[string][]byte{StateKeyPrefix + "helpdesk_chain": []byte(bad)})
		if err == nil || !strings.Contains(err.Error(), "helpdesk_chain") {
			t.Errorf("state %s: error %v", bad, err)
		}
	}
	// per-entry state: a malformed entry names the rule, pattern and key
	for key, bad := range map[string]string{
		"chain/k":     `{`,
		"chain/%zz":   `{}`,
		"chain":       `{}`,
		"h":           `[`,
		"chain/short": `{"seq":{"at":[null]}}`,
		"chain/empty": `{"seq":{"at":[{"s":[]},null,null]}}`,
	} {
		e, _ := NewEngine(ruleOnly("helpdesk_chain", DetectorConfig{}))
		err := e.LoadState(map[string][]byte{StateKeyPrefix + "helpdesk_chain/" + key: []byte(bad)})
		if err == nil || !strings.Contains(err.Error(), "helpdesk_chain") {
			t.Errorf("entry %s = %s: error %v", key, bad, err)
		}
	}
}

// State of patterns a rule no longer has is ignored; a pattern missing
// from the state starts empty (rule definitions change between versions).
func TestRuleStateAcrossDefinitionChanges(t *testing.T) {
	hd, sec := "hd.desk@example.com", "sam.secadmin@example.com"
	vps := jIP("159.203.17.4", 14061)
	e1, _ := NewEngine(ruleOnly("helpdesk_chain", DetectorConfig{}), WithReorderWindow(0))
	for _, ev := range evs(
		jev(t, "user.mfa.factor.reset_all", hd, rt0, jTrusted(), jUser(sec)),
		jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), vps, jUser(sec))) {
		e1.Process(&ev)
	}
	admin := jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(40)), vps)
	// per-entry state with an entry of a retired pattern
	st, _ := e1.SaveState()
	if _, ok := st[StateKeyPrefix+"helpdesk_chain"]; ok {
		t.Fatal("rule state saved whole, want per entry")
	}
	st[StateKeyPrefix+"helpdesk_chain/retired_pattern/k"] = []byte(`{"thr":[{"id":"x","t":1}]}`)
	e2, _ := NewEngine(ruleOnly("helpdesk_chain", DetectorConfig{}), WithReorderWindow(0))
	if err := e2.LoadState(st); err != nil {
		t.Fatal(err)
	}
	if as := e2.Process(&admin); len(as) != 1 {
		t.Fatalf("%d alerts after loading state with a retired pattern", len(as))
	}
	// the whole form of older versions, with a retired pattern
	var whole []byte
	for _, d := range e1.all {
		if d.reg.Info.ID == "helpdesk_chain" {
			var err error
			if whole, err = d.det.MarshalState(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var raw map[string]any
	_ = json.Unmarshal(whole, &raw)
	pats := raw["patterns"].([]any)
	raw["patterns"] = append([]any{map[string]any{"name": "retired_pattern", "thr": map[string]any{"k": []any{}}}}, pats...)
	whole, _ = json.Marshal(raw)
	old := map[string][]byte{StateKeyPrefix + "helpdesk_chain": whole}
	for k, v := range st {
		if !strings.HasPrefix(k, StateKeyPrefix+"helpdesk_chain") {
			old[k] = v
		}
	}
	e2, _ = NewEngine(ruleOnly("helpdesk_chain", DetectorConfig{}), WithReorderWindow(0))
	if err := e2.LoadState(old); err != nil {
		t.Fatal(err)
	}
	if as := e2.Process(&admin); len(as) != 1 {
		t.Fatalf("%d alerts after loading whole state with a retired pattern", len(as))
	}
	e3, _ := NewEngine(ruleOnly("helpdesk_chain", DetectorConfig{}), WithReorderWindow(0))
	if err := e3.LoadState(map[string][]byte{StateKeyPrefix + "helpdesk_chain": []byte(`{"patterns":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if as := e3.Process(&admin); len(as) != 0 {
		t.Fatalf("%d alerts from empty state", len(as))
	}
}

func TestRuleParamsValidate(t *testing.T) {
	if _, err := NewEngine(Config{"admin_role_granted": {Params: map[string]any{"severity": "urgent"}}}); err == nil || !strings.Contains(err.Error(), "severity") {
		t.Fatalf("bad severity accepted: %v", err)
	}
	if _, err := NewEngine(Config{"helpdesk_chain": {Params: map[string]any{"windw": "1h"}}}); err == nil {
		t.Fatal("unknown param accepted")
	}
	if _, err := ParseConfig([]byte("helpdesk_chain:\n  params:\n    window: 30m\nadmin_role_granted:\n  enabled: false\n")); err != nil {
		t.Fatal(err)
	}
	// a shorter window is honoured: the 40-minute chain no longer fits 30 min
	hd, sec := "hd.desk@example.com", "sam.secadmin@example.com"
	vps := jIP("159.203.17.4", 14061)
	chain := evs(
		jev(t, "user.mfa.factor.reset_all", hd, rt0, jTrusted(), jUser(sec)),
		jev(t, "user.mfa.factor.activate", sec, rt0.Add(mins(22)), vps, jUser(sec)),
		jev(t, "user.session.access_admin_app", sec, rt0.Add(mins(40)), vps))
	if n := len(runRule(t, "helpdesk_chain", DetectorConfig{}, chain)); n != 1 {
		t.Fatalf("default window: %d alerts", n)
	}
	if n := len(runRule(t, "helpdesk_chain", DetectorConfig{Params: map[string]any{"window": "30m"}}, chain)); n != 0 {
		t.Fatalf("30m window: %d alerts", n)
	}
}

func TestRuleDefinitions(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if err := r.validate(); err != nil {
			t.Error(err)
		}
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if lookupRegistration(r.ID) == nil {
			t.Errorf("rule %s not registered", r.ID)
		}
		for _, m := range r.MITRE {
			if !strings.HasPrefix(m, "T") {
				t.Errorf("%s: MITRE id %q", r.ID, m)
			}
		}
	}
	bad := &Rule{ID: "x", Title: "x", Severity: "urgent", MITRE: []string{"T1"}, Description: "d", FalsePositives: []string{"f"}, On: []Pattern{{Name: "p"}}}
	if bad.validate() == nil {
		t.Error("bad severity accepted")
	}
	bad.Severity = SeverityLow
	bad.On = []Pattern{{Name: "p", Steps: []Step{{Name: "a"}, {Name: "b"}}}}
	if bad.validate() == nil {
		t.Error("sequence without window accepted")
	}
	bad.On = []Pattern{{Name: "a/b"}}
	if bad.validate() == nil {
		t.Error("pattern name with '/' accepted")
	}
}
