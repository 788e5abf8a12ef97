package detect

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// recorder is a test detector: it records the order of events and emits a
// finding for every event whose type is "test.alert" (key = Debug.URL).
type recorder struct {
	seen []string
	n    int
}

func (r *recorder) Handle(c *Context, ev *event.Event) {
	r.seen = append(r.seen, ev.UUID)
	r.n++
	if ev.EventType == "test.alert" {
		c.Emit(Finding{Key: ev.Debug.URL, Actor: ev.Actor.AlternateID, IP: ev.Client.IPAddress, Title: "t",
			EventIDs: []string{ev.UUID}, Learn: Learn(c.Params().Int("learn"))})
	}
}
func (r *recorder) Prune(time.Time)               {}
func (r *recorder) MarshalState() ([]byte, error) { return json.Marshal(r.n) }
func (r *recorder) UnmarshalState(b []byte) error { return json.Unmarshal(b, &r.n) }

// withRecorder registers the recorder detector for one test.
func withRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	saved := registry
	registry = append(append([]Registration(nil), registry...), Registration{
		Info:   Info{ID: "test_recorder", Title: "t", Severity: SeverityLow, MITRE: []string{"T0000"}},
		Params: []Param{{"learn", 0, "learning scope"}},
		New:    func(Params) (Detector, error) { return rec, nil },
	})
	t.Cleanup(func() { registry = saved })
	return rec
}

func testEv(id string, at time.Time, typ string) *event.Event {
	ev := mkEv(typ, "bob@example.com", at)
	ev.UUID = id
	return &ev
}

func TestReorderBuffer(t *testing.T) {
	rec := withRecorder(t)
	e, err := NewEngine(only("test_recorder", DetectorConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	base := t0
	e.Process(testEv("b", base.Add(60*time.Second), "x"))
	e.Process(testEv("a", base.Add(10*time.Second), "x")) // 50 s out of order: reordered
	e.Process(testEv("a", base.Add(10*time.Second), "x")) // duplicate uuid while buffered
	if len(rec.seen) != 0 {
		t.Fatalf("released too early: %v", rec.seen)
	}
	e.Process(testEv("c", base.Add(150*time.Second), "x")) // releases events <= 150-120 s: a only
	if got := strings.Join(rec.seen, ","); got != "a" {
		t.Fatalf("after c: %q", got)
	}
	e.Process(testEv("d", base.Add(400*time.Second), "x"))
	if got := strings.Join(rec.seen, ","); got != "a,b,c" {
		t.Fatalf("after d: %q", got)
	}
	// late: older than what was released -> processed at once, not dropped
	e.Process(testEv("late", base.Add(5*time.Second), "x"))
	if got := strings.Join(rec.seen, ","); got != "a,b,c,late" {
		t.Fatalf("late: %q", got)
	}
	e.Flush()
	if got := strings.Join(rec.seen, ","); got != "a,b,c,late,d" {
		t.Fatalf("flush: %q", got)
	}
	st := e.Stats()
	if st.Late != 1 || st.Duplicates != 1 || st.Events != 5 || st.Buffered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Advance releases by wall clock what Process would hold until a newer
// event arrives: a quiet org's last events are not held forever.
func TestAdvanceReleasesByWallClock(t *testing.T) {
	rec := withRecorder(t)
	e, _ := NewEngine(only("test_recorder", DetectorConfig{}))
	e.Process(testEv("a", t0, "test.alert"))
	e.Process(testEv("b", t0.Add(90*time.Second), "x"))
	if as := e.Advance(t0.Add(119 * time.Second)); len(as) != 0 || len(rec.seen) != 0 {
		t.Fatalf("released before the reorder window passed: %v, %d alerts", rec.seen, len(as))
	}
	as := e.Advance(t0.Add(2 * time.Minute))
	if got := strings.Join(rec.seen, ","); got != "a" || len(as) != 1 || as[0].EventIDs[0] != "a" {
		t.Fatalf("after the window: released %q, alerts %+v", got, as)
	}
	// an event older than the released one: processed at once (late)
	e.Process(testEv("late", t0.Add(-time.Second), "x"))
	e.Advance(t0.Add(4 * time.Minute))
	if got := strings.Join(rec.seen, ","); got != "a,late,b" {
		t.Fatalf("after late and a second advance: %q", got)
	}
	if st := e.Stats(); st.Buffered != 0 || st.Late != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReorderLimit(t *testing.T) {
	rec := withRecorder(t)
	e, _ := NewEngine(only("test_recorder", DetectorConfig{}), WithReorderLimit(2))
	for i := 0; i < 5; i++ {
		e.Process(testEv(fmt.Sprint(i), t0.Add(time.Duration(i)*time.Second), "x"))
	}
	if len(rec.seen) != 3 {
		t.Fatalf("limit 2 should hold 2 events, released %v", rec.seen)
	}
	e2, _ := NewEngine(only("test_recorder", DetectorConfig{}), WithReorderWindow(0))
	rec.seen = nil
	e2.Process(testEv("now", t0, "x"))
	if len(rec.seen) != 1 {
		t.Fatal("window 0 must process immediately")
	}
}

func TestDedupAndRearm(t *testing.T) {
	withRecorder(t)
	mk := func(id string, at time.Time, key string) event.Event {
		ev := *testEv(id, at, "test.alert")
		ev.Debug.URL = key
		return ev
	}
	evs := []event.Event{
		mk("1", t0, "k"),
		mk("2", t0.Add(time.Hour), "k"),       // condition persists: suppressed
		mk("3", t0.Add(2*time.Hour), "other"), // different key: alert
		mk("4", t0.Add(20*time.Hour), "k"),    // 19 h after last occurrence: still suppressed
		mk("5", t0.Add(45*time.Hour), "k"),    // quiet 25 h: re-armed
	}
	as := runEvents(t, only("test_recorder", DetectorConfig{}), evs)
	var got []string
	for _, a := range as {
		got = append(got, a.EventIDs[0])
	}
	if strings.Join(got, ",") != "1,3,5" {
		t.Fatalf("alerts for %v", got)
	}
	// custom rearm
	as = runEvents(t, only("test_recorder", DetectorConfig{Rearm: Duration(30 * time.Minute)}), evs)
	if len(as) != 5 {
		t.Fatalf("rearm 30m: %d alerts", len(as))
	}
}

func TestAlertIDsDeterministic(t *testing.T) {
	withRecorder(t)
	evs := []event.Event{*testEv("u1", t0, "test.alert"), *testEv("u2", t0.Add(48*time.Hour), "test.alert")}
	a := runEvents(t, only("test_recorder", DetectorConfig{}), evs)
	b := runEvents(t, only("test_recorder", DetectorConfig{}), evs)
	if len(a) != 2 || a[0].ID != b[0].ID || a[1].ID != b[1].ID || a[0].ID == a[1].ID {
		t.Fatalf("ids %v %v", a, b)
	}
	if a[0].Detector != "test_recorder" || a[0].Severity != SeverityLow || a[0].MITRE[0] != "T0000" || !a[0].Time.Equal(t0) {
		t.Fatalf("alert fields %+v", a[0])
	}
	js, _ := json.Marshal(a[0])
	for _, k := range []string{`"id"`, `"detector"`, `"severity"`, `"time"`, `"actor"`, `"actorId"`, `"ip"`, `"country"`, `"title"`, `"summary"`, `"evidence"`, `"eventIds"`, `"mitre"`} {
		if !strings.Contains(string(js), k) {
			t.Fatalf("alert JSON lacks %s: %s", k, js)
		}
	}
}

func TestScope(t *testing.T) {
	withRecorder(t)
	mk := func(actor, addr string) event.Event {
		ev := mkEv("test.alert", actor, t0, ip(addr))
		return ev
	}
	evs := []event.Event{mk("alice@corp.com", "10.0.0.1"), mk("pentest1@corp.com", "10.0.0.2"), mk("bob@partner.com", "192.0.2.9")}
	cases := []struct {
		dc   DetectorConfig
		want string
	}{
		{DetectorConfig{}, "alice@corp.com,pentest1@corp.com,bob@partner.com"},
		{DetectorConfig{Exclude: []string{"PENTEST*@corp.com"}}, "alice@corp.com,bob@partner.com"},
		{DetectorConfig{Include: []string{"*@corp.com"}}, "alice@corp.com,pentest1@corp.com"},
		{DetectorConfig{Exclude: []string{"192.0.2.0/24"}}, "alice@corp.com,pentest1@corp.com"},
		{DetectorConfig{Include: []string{"*@corp.com"}, Exclude: []string{"10.0.0.2"}}, "alice@corp.com"},
	}
	for i, c := range cases {
		as := runEvents(t, only("test_recorder", c.dc), evs)
		var got []string
		for _, a := range as {
			got = append(got, a.Actor)
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("case %d: %v want %s", i, got, c.want)
		}
	}
}

func TestLearningPeriods(t *testing.T) {
	withRecorder(t)
	first := signIn("carol@example.com", t0)
	alert := func(at time.Time) event.Event {
		ev := mkEv("test.alert", "carol@example.com", at)
		return ev
	}
	for _, c := range []struct {
		learn int
		at    time.Time
		want  int
	}{
		{int(LearnUser), t0.Add(6 * 24 * time.Hour), 0},
		{int(LearnUser), t0.Add(8 * 24 * time.Hour), 1},
		{int(LearnTenant), t0.Add(6 * 24 * time.Hour), 0},
		{int(LearnNone), t0.Add(time.Hour), 1},
	} {
		as := runEvents(t, only("test_recorder", DetectorConfig{Params: map[string]any{"learn": c.learn}}), []event.Event{first, alert(c.at)})
		if len(as) != c.want {
			t.Errorf("learn=%d at %v: %d alerts", c.learn, c.at, len(as))
		}
	}
	// an unknown user (only failures) stays in learning
	fail := mkEv("test.alert", "ghost@example.com", t0.Add(20*24*time.Hour), failed("INVALID_CREDENTIALS"))
	as := runEvents(t, only("test_recorder", DetectorConfig{Params: map[string]any{"learn": int(LearnUser)}}), []event.Event{first, fail})
	if len(as) != 0 {
		t.Fatalf("unknown user alerted")
	}
	// learning can be disabled
	as = runEvents(t, only("test_recorder", DetectorConfig{Params: map[string]any{"learn": int(LearnUser)}}), []event.Event{first, alert(t0.Add(time.Hour))}, WithLearningPeriod(0))
	if len(as) != 1 {
		t.Fatalf("learning 0: %d", len(as))
	}
}

func TestConfigErrors(t *testing.T) {
	f := false
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{"nope": {}}, "detectors.nope: unknown detector"},
		{Config{"impossible_travel": {Sensitivity: "extreme"}}, `detectors.impossible_travel.sensitivity: "extreme" is not one of low, medium, high`},
		{Config{"impossible_travel": {Params: map[string]any{"speed": 1.0}}}, "detectors.impossible_travel.params.speed: unknown parameter (known: speedKmh"},
		{Config{"impossible_travel": {Params: map[string]any{"speedKmh": "fast"}}}, "detectors.impossible_travel.params.speedKmh: want a number"},
		{Config{"impossible_travel": {Params: map[string]any{"speedKmh": -3}}}, "detectors.impossible_travel.params.speedKmh: must not be negative"},
		{Config{"failed_logins": {Params: map[string]any{"minFailures": 2.5}}}, "detectors.failed_logins.params.minFailures: want an integer"},
		{Config{"failed_logins": {Params: map[string]any{"window": "5 minutes"}}}, `detectors.failed_logins.params.window: invalid duration "5 minutes"`},
		{Config{"anonymous_ip": {Exclude: []string{"[bad"}}}, "detectors.anonymous_ip.exclude[0]: invalid pattern"},
		{Config{"anonymous_ip": {Params: map[string]any{"privateRelay": "maybe"}}}, `detectors.anonymous_ip: params.privateRelay: "maybe" is not one of info, ignore, alert`},
		{Config{"unusual_admin": {Params: map[string]any{"changeWindows": []any{"yesterday"}}}}, "detectors.unusual_admin: params.changeWindows[0]"},
		{Config{"mfa_fatigue": {Enabled: &f, Params: map[string]any{"minBad": true}}}, "detectors.mfa_fatigue.params.minBad: want an integer"},
	}
	for _, c := range cases {
		_, err := NewEngine(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := NewEngine(nil); err != nil {
		t.Fatalf("nil config: %v", err)
	}
}

func TestParseConfigYAMLAndJSON(t *testing.T) {
	y := `
impossible_travel:
  sensitivity: high
  exclude: ["traveller@example.com"]
  params:
    speedKmh: 1000
    anchorWindow: 12h
failed_logins:
  enabled: false
anonymous_ip:
  rearm: 3d
  params:
    privateRelay: ignore
`
	c, err := ParseConfig([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := c.resolve()
	got := map[string]resolved{}
	for _, r := range res {
		got[r.reg.Info.ID] = r
	}
	it := got["impossible_travel"]
	if it.sens != SensitivityHigh || it.params.Float("speedKmh") != 1000 || it.params.Duration("anchorWindow") != 12*time.Hour || it.exclude[0] != "traveller@example.com" {
		t.Fatalf("impossible_travel %+v", it)
	}
	if got["failed_logins"].enabled || got["anonymous_ip"].rearm != 72*time.Hour || got["anonymous_ip"].params.String("privateRelay") != "ignore" {
		t.Fatalf("resolved %+v", got)
	}
	if got["impossible_travel"].params.Float("minDistanceKm") != 500 {
		t.Fatal("defaults not kept")
	}
	j := `{"password_spray":{"sensitivity":"low","rearm":"12h","params":{"minUsers":15,"window":"1h"}}}`
	c2, err := ParseConfig([]byte(j))
	if err != nil {
		t.Fatal(err)
	}
	var c3 Config
	if err := json.Unmarshal([]byte(j), &c3); err != nil || !reflect.DeepEqual(c2["password_spray"].Rearm, c3["password_spray"].Rearm) || time.Duration(c3["password_spray"].Rearm) != 12*time.Hour {
		t.Fatalf("json: %v %+v", err, c3)
	}
	if _, err := ParseConfig([]byte("impossible_travel:\n  sensitivty: low\n")); err == nil {
		t.Fatal("misspelt key accepted")
	}
	if _, err := ParseConfig([]byte("")); err != nil {
		t.Fatalf("empty: %v", err)
	}
}

// contractIDs are the detector ids DESIGN.md makes a contract: they may
// never disappear or be renamed (adding a detector does not touch this).
var contractIDs = []string{"impossible_travel", "infrequent_country", "anonymous_ip", "suspicious_ip", "failed_logins",
	"unusual_admin", "mass_destructive", "risky_ip_logon", "password_spray", "mfa_fatigue", "session_hijack"}

// TestDetectorsList checks every registration from the registry itself:
// nothing here lists the detectors, so adding one needs no test edit.
func TestDetectorsList(t *testing.T) {
	got := Detectors()
	if len(got) != len(registry) {
		t.Fatalf("Detectors() lists %d, registry has %d", len(got), len(registry))
	}
	seen := map[string]bool{}
	idOK := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	for i, d := range got {
		if !idOK.MatchString(d.ID) || seen[d.ID] {
			t.Errorf("detector %d: bad or duplicate id %q", i, d.ID)
		}
		seen[d.ID] = true
		if d.Title == "" || d.Description == "" || len(d.MITRE) == 0 || !severities[d.Severity] {
			t.Errorf("detector %d: incomplete registration %+v", i, d)
		}
		if len(DetectorParams(d.ID)) == 0 {
			t.Errorf("%s has no params", d.ID)
		}
	}
	for _, id := range contractIDs {
		if !seen[id] {
			t.Errorf("contract detector id %s is not registered", id)
		}
	}
	e, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	if en := e.Enabled(); len(en) != len(registry) {
		t.Errorf("%d of %d detectors enabled by default", len(en), len(registry))
	}
}

func TestBadEventsDoNotPanic(t *testing.T) {
	e, err := NewEngine(nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := []event.Event{
		{},
		{UUID: "x", EventType: "user.session.start", Outcome: event.Outcome{Result: "SUCCESS"}, Actor: event.Actor{Type: "User", AlternateID: "a@b"}},
		{UUID: "y", Published: t0, EventType: "user.account.lock", Actor: event.Actor{Type: "User"}},
		{UUID: "z", Published: t0, EventType: "security.threat.detected"},
		{UUID: "w", Published: t0, EventType: "user.lifecycle.deactivate", Actor: event.Actor{Type: "User", AlternateID: "adm"}, Targets: []event.Target{{}}},
	}
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Process(nil)
	e.Flush()
	if _, err := e.SaveState(); err != nil {
		t.Fatal(err)
	}
}
