package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// sevRecorder emits one finding per "test.alert" event: key from
// Debug.URL, severity from debugData "sev", target from debugData "t".
type sevRecorder struct{}

func (sevRecorder) Handle(c *Context, ev *event.Event) {
	if ev.EventType != "test.alert" {
		return
	}
	f := Finding{Key: ev.Debug.URL, Actor: ev.Actor.AlternateID, IP: ev.Client.IPAddress, Title: "t",
		Summary: "match " + ev.UUID, EventIDs: []string{ev.UUID}, Evidence: map[string]any{"first": ev.UUID}}
	if s := ev.Debug.Str("sev"); s != "" {
		f.Severity = s
	}
	if tg := ev.Debug.Str("t"); tg != "" {
		f.Targets = []string{tg}
	}
	c.Emit(f)
}
func (sevRecorder) Prune(time.Time)               {}
func (sevRecorder) MarshalState() ([]byte, error) { return []byte("{}"), nil }
func (sevRecorder) UnmarshalState([]byte) error   { return nil }

func withSevRecorder(t *testing.T) Config {
	t.Helper()
	saved := registry
	registry = append(append([]Registration(nil), registry...), Registration{
		Info:   Info{ID: "test_incident", Title: "t", Severity: SeverityLow, MITRE: []string{"T0000"}},
		Params: []Param{{"unused", 0, "-"}},
		New:    func(Params) (Detector, error) { return sevRecorder{}, nil },
	})
	t.Cleanup(func() { registry = saved })
	return only("test_incident", DetectorConfig{})
}

func incEv(id string, at time.Time, key, sev, target string) event.Event {
	ev := *testEv(id, at, "test.alert")
	ev.Debug.URL = key
	data := map[string]any{}
	if sev != "" {
		data["sev"] = sev
	}
	if target != "" {
		data["t"] = target
	}
	ev.Debug.SetData(data)
	return ev
}

func TestIncidentGroupsMatchesIntoOneAlert(t *testing.T) {
	cfg := withSevRecorder(t)
	var evs []event.Event
	for i := 0; i < 30; i++ {
		evs = append(evs, incEv(fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Minute), "k", "", fmt.Sprint("user", i%25)))
	}
	e, err := NewEngine(cfg, WithReorderWindow(0))
	if err != nil {
		t.Fatal(err)
	}
	var raw []Alert
	for i := range evs {
		raw = append(raw, e.Process(&evs[i])...)
	}
	if len(raw) != 30 {
		t.Fatalf("every match must emit the incident's current alert: %d emitted", len(raw))
	}
	for _, a := range raw {
		if a.ID != raw[0].ID {
			t.Fatalf("id changed inside the incident: %s vs %s", a.ID, raw[0].ID)
		}
	}
	// emitted alerts are snapshots: later updates do not change them
	if raw[0].Count != 1 || len(raw[0].EventIDs) != 1 || len(raw[0].Targets) != 1 {
		t.Fatalf("first emission changed after the fact: %+v", raw[0])
	}
	fin := Final(raw)
	if len(fin) != 1 {
		t.Fatalf("%d incidents, want 1", len(fin))
	}
	a := fin[0]
	if a.Count != 30 || !a.Time.Equal(t0) || !a.LastTime.Equal(t0.Add(29*time.Minute)) {
		t.Fatalf("count %d time %s last %s", a.Count, a.Time, a.LastTime)
	}
	if len(a.Targets) != maxIncidentTargets || a.Evidence["targetsTotal"] != 25 || a.Evidence["eventsTotal"] != 30 || a.Evidence["matches"] != 30 {
		t.Fatalf("targets %d %v", len(a.Targets), a.Evidence)
	}
	if len(a.EventIDs) != 30 || a.EventIDs[0] != "e0" || a.Evidence["first"] != "e0" || a.Evidence["lastSummary"] != "match e29" {
		t.Fatalf("event ids %v evidence %v", a.EventIDs, a.Evidence)
	}
	st := e.Stats()
	if st.Alerts["test_incident"] != 1 || st.Matches["test_incident"] != 30 || st.Updates["test_incident"] != 29 {
		t.Fatalf("stats: incidents %d matches %d updates %d", st.Alerts["test_incident"], st.Matches["test_incident"], st.Updates["test_incident"])
	}
}

func TestIncidentBoundsEventIDs(t *testing.T) {
	cfg := withSevRecorder(t)
	var evs []event.Event
	for i := 0; i < maxIncidentEventIDs+10; i++ {
		evs = append(evs, incEv(fmt.Sprint("e", i), t0.Add(time.Duration(i)*time.Second), "k", "", ""))
	}
	as := runEvents(t, cfg, evs)
	if len(as) != 1 || len(as[0].EventIDs) != maxIncidentEventIDs || as[0].Count != maxIncidentEventIDs+10 || as[0].Evidence["eventsTotal"] != maxIncidentEventIDs+10 {
		t.Fatalf("%d alerts, ids %d, count %d", len(as), len(as[0].EventIDs), as[0].Count)
	}
}

func TestIncidentSeverityRisesAndExplains(t *testing.T) {
	cfg := withSevRecorder(t)
	as := runEvents(t, cfg, []event.Event{
		incEv("a", t0, "k", SeverityInfo, ""),
		incEv("b", t0.Add(time.Minute), "k", SeverityHigh, ""),
		incEv("c", t0.Add(2*time.Minute), "k", SeverityLow, ""),
	})
	if len(as) != 1 {
		t.Fatalf("%d alerts", len(as))
	}
	a := as[0]
	if a.Severity != SeverityHigh || a.Summary != "match b" || a.Evidence["first"] != "b" || a.Evidence["firstSummary"] != "match a" || a.Evidence["lastSummary"] != "match c" || !a.Time.Equal(t0) {
		t.Fatalf("%s %q %v", a.Severity, a.Summary, a.Evidence)
	}
}

func TestIncidentWindowAndKeys(t *testing.T) {
	cfg := withSevRecorder(t)
	as := runEvents(t, cfg, []event.Event{
		incEv("1", t0, "k", "", ""),
		incEv("2", t0.Add(23*time.Hour), "k", "", ""),             // inside the window: same incident
		incEv("3", t0.Add(23*time.Hour), "other", "", ""),         // another key: another incident
		incEv("4", t0.Add(47*time.Hour+time.Minute), "k", "", ""), // 24 h 1 min quiet: a new incident
	})
	var got []string
	for _, a := range as {
		got = append(got, fmt.Sprintf("%s:%d", a.EventIDs[0], a.Count))
	}
	if strings.Join(got, ",") != "1:2,3:1,4:1" {
		t.Fatalf("incidents %v", got)
	}
	if as[0].ID == as[2].ID {
		t.Fatal("a re-armed incident must get a new id")
	}
}

// An incident open at a restart keeps its id and its count.
func TestIncidentSurvivesRestart(t *testing.T) {
	cfg := withSevRecorder(t)
	e1, _ := NewEngine(cfg, WithReorderWindow(0))
	ev1, ev2 := incEv("1", t0, "k", "", "u1"), incEv("2", t0.Add(time.Hour), "k", "", "u2")
	first := e1.Process(&ev1)
	st, err := e1.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range st { // through JSON bytes, as the store keeps them
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	e2, _ := NewEngine(cfg, WithReorderWindow(0))
	if err := e2.LoadState(st); err != nil {
		t.Fatal(err)
	}
	upd := e2.Process(&ev2)
	if len(first) != 1 || len(upd) != 1 || upd[0].ID != first[0].ID || upd[0].Count != 2 || strings.Join(upd[0].Targets, ",") != "u1,u2" {
		t.Fatalf("first %+v update %+v", first, upd)
	}
	// state written before incidents were grouped (no alert in the entry)
	// still loads and still suppresses
	old := map[string][]byte{stateEngineKey: []byte(`{"version":1,"dedup":{"test_incident\u0000bob@example.com\u0000k":{"f":` +
		fmt.Sprint(t0.Unix()) + `,"l":` + fmt.Sprint(t0.Unix()) + `}}}`)}
	e3, _ := NewEngine(cfg, WithReorderWindow(0))
	if err := e3.LoadState(old); err != nil {
		t.Fatal(err)
	}
	if out := e3.Process(&ev2); len(out) != 0 {
		t.Fatalf("old dedup entry did not suppress: %+v", out)
	}
	// saved again, the incident has a key of its own and the header no dedup map
	st3, err := e3.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	if b := st3[stateDedupPrefix+"test_incident%00bob@example.com%00k"]; len(b) == 0 || strings.Contains(string(st3[stateEngineKey]), `"dedup"`) {
		t.Fatalf("incident entry %s, header %s", b, st3[stateEngineKey])
	}
}
