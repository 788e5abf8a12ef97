package detect_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/enrich"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// corpus is one generated month, decoded and enriched once per test binary.
type corpus struct {
	ds     *traffic.Dataset
	events []event.Event
	err    error
}

var (
	corpusOnce sync.Once
	theCorpus  corpus
)

func loadCorpus(t testing.TB) *corpus {
	t.Helper()
	corpusOnce.Do(func() {
		ds, err := traffic.Generate(traffic.Config{Seed: 42, Users: 300, Days: 30, Attacks: true})
		if err != nil {
			theCorpus.err = err
			return
		}
		en, err := enrich.New(enrich.Config{Lists: ds.Lists.Map(), ReloadInterval: -1})
		if err != nil {
			theCorpus.err = err
			return
		}
		defer en.Close()
		evs := make([]event.Event, 0, len(ds.Events))
		for i, raw := range ds.Events {
			ev, err := event.Decode(raw)
			if err != nil {
				theCorpus.err = fmt.Errorf("event %d: %w", i, err)
				return
			}
			en.Enrich(&ev)
			ev.Raw = nil // keep memory down; detectors never read Raw
			evs = append(evs, ev)
		}
		theCorpus = corpus{ds: ds, events: evs}
	})
	if theCorpus.err != nil {
		t.Fatalf("corpus: %v", theCorpus.err)
	}
	return &theCorpus
}

// scenarioConfig scopes out what an operator would: the authorised
// pen-test account and the automation actors.
func scenarioConfig(ds *traffic.Dataset) detect.Config {
	cfg := detect.Config{}
	for _, d := range detect.Detectors() {
		cfg[d.ID] = detect.DetectorConfig{Exclude: []string{ds.PenTester}}
	}
	return cfg
}

func matches(a detect.Alert, l traffic.Label) bool {
	ids := map[string]bool{}
	for _, id := range l.EventIDs {
		ids[id] = true
	}
	for _, id := range a.EventIDs {
		if ids[id] {
			return true
		}
	}
	who := l.Actor != "" && strings.EqualFold(a.Actor, l.Actor) || l.Actor == "" && l.IP != "" && a.IP == l.IP
	return who && !a.Time.Before(l.Start.Add(-time.Hour)) && !a.Time.After(l.End.Add(3*time.Hour))
}

type detScore struct {
	labels, found, alerts, fp, info int
	missed                          []string
	fps                             []string
}

func score(ds *traffic.Dataset, alerts []detect.Alert) map[string]*detScore {
	out := map[string]*detScore{}
	for _, d := range detect.Detectors() {
		out[d.ID] = &detScore{}
	}
	for _, l := range ds.Labels {
		s := out[l.Detector]
		if s == nil || l.Optional {
			continue
		}
		s.labels++
		hit := false
		for _, a := range alerts {
			if a.Detector == l.Detector && matches(a, l) {
				hit = true
				break
			}
		}
		if hit {
			s.found++
		} else {
			s.missed = append(s.missed, l.Scenario+" "+l.Actor+" "+l.IP)
		}
	}
	for _, a := range alerts {
		s := out[a.Detector]
		s.alerts++
		if a.Severity == detect.SeverityInfo {
			// recorded context (e.g. Private Relay, learning), not an alert to triage
			s.info++
			continue
		}
		ok := false
		for _, l := range ds.Labels {
			if l.Detector == a.Detector && matches(a, l) {
				ok = true
				break
			}
		}
		if !ok {
			s.fp++
			s.fps = append(s.fps, fmt.Sprintf("%s %s %s %s: %s", a.Time.Format(time.RFC3339), a.Severity, a.Actor, a.IP, a.Summary))
		}
	}
	return out
}

func runAll(t testing.TB, cfg detect.Config, evs []event.Event) []detect.Alert {
	t.Helper()
	e, err := detect.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []detect.Alert
	for i := range evs {
		out = append(out, e.Process(&evs[i])...)
	}
	return append(out, e.Flush()...)
}

func TestScenarioRecallAndFalsePositives(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a month of traffic")
	}
	c := loadCorpus(t)
	alerts := runAll(t, scenarioConfig(c.ds), c.events)
	userDays := float64(len(c.ds.Users)) * float64(c.ds.Config.Days)
	sc := score(c.ds, alerts)
	ids := make([]string, 0, len(sc))
	for id := range sc {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Every detector and rule the generator has a scenario for must be
	// labelled; rules without a scenario are held to the FP budget only.
	generated := map[string]bool{}
	for _, id := range traffic.Detectors() {
		generated[id] = true
	}
	t.Logf("%d events, %d users, %d days, %d alerts", len(c.events), len(c.ds.Users), c.ds.Config.Days, len(alerts))
	t.Logf("%-20s %6s %6s %7s %7s %5s %5s %8s", "detector", "labels", "found", "recall", "alerts", "info", "FP", "FP/1kud")
	for _, id := range ids {
		s := sc[id]
		recall := 1.0
		if s.labels > 0 {
			recall = float64(s.found) / float64(s.labels)
		}
		fpRate := float64(s.fp) / userDays * 1000
		t.Logf("%-20s %6d %6d %7.2f %7d %5d %5d %8.2f", id, s.labels, s.found, recall, s.alerts, s.info, s.fp, fpRate)
		if s.labels == 0 && generated[id] {
			t.Errorf("%s: the generator labelled no attack for it", id)
		}
		if recall < 0.95 {
			t.Errorf("%s: recall %.2f < 0.95; missed %v", id, recall, s.missed)
		}
		if fpRate > 0.5 {
			t.Errorf("%s: %.2f false positives per 1000 user-days > 0.5:\n  %s", id, fpRate, strings.Join(s.fps, "\n  "))
		}
	}
	// every alert is complete
	seen := map[string]bool{}
	for _, a := range alerts {
		if a.ID == "" || seen[a.ID] || len(a.EventIDs) == 0 || a.Title == "" || a.Summary == "" || len(a.MITRE) == 0 {
			t.Fatalf("bad or duplicate alert %+v", a)
		}
		seen[a.ID] = true
	}
}

// TestScenarioRestartResumes processes half the month, saves the state,
// loads it into a new engine and processes the rest: the alerts are
// exactly those of one uninterrupted run, with no duplicates.
func TestScenarioRestartResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a month of traffic")
	}
	c := loadCorpus(t)
	cfg := scenarioConfig(c.ds)
	want := runAll(t, cfg, c.events)

	for _, cut := range []int{len(c.events) / 3, len(c.events) / 2, len(c.events) - 1000} {
		e1, _ := detect.NewEngine(cfg)
		var got []detect.Alert
		for i := 0; i < cut; i++ {
			got = append(got, e1.Process(&c.events[i])...)
		}
		st, err := e1.SaveState()
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := detect.NewEngine(cfg)
		if err := e2.LoadState(st); err != nil {
			t.Fatal(err)
		}
		for i := cut; i < len(c.events); i++ {
			got = append(got, e2.Process(&c.events[i])...)
		}
		got = append(got, e2.Flush()...)
		if len(got) != len(want) {
			t.Fatalf("cut %d: %d alerts after restart, %d in one run", cut, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID || got[i].Severity != want[i].Severity {
				t.Fatalf("cut %d: alert %d differs: %s/%s vs %s/%s", cut, i, got[i].Detector, got[i].ID, want[i].Detector, want[i].ID)
			}
		}
	}
}

// TestScenarioLateDelivery feeds the events in API delivery order (some
// published minutes before they become visible): nothing is dropped and
// recall holds.
func TestScenarioLateDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("generates traffic")
	}
	ds, err := traffic.Generate(traffic.Config{Seed: 7, Users: 120, Days: 20, Attacks: true, Late: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	en, err := enrich.New(enrich.Config{Lists: ds.Lists.Map(), ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer en.Close()
	del, err := ds.DeliveryOrder()
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]event.Event, len(del))
	for i, d := range del {
		ev, err := event.Decode(d.Event)
		if err != nil {
			t.Fatal(err)
		}
		en.Enrich(&ev)
		evs[i] = ev
	}
	e, _ := detect.NewEngine(scenarioConfig(ds))
	var alerts []detect.Alert
	for i := range evs {
		alerts = append(alerts, e.Process(&evs[i])...)
	}
	alerts = append(alerts, e.Flush()...)
	if st := e.Stats(); st.Events != int64(len(evs)) {
		t.Fatalf("processed %d of %d events", st.Events, len(evs))
	}
	sc := score(ds, alerts)
	for id, s := range sc {
		if s.labels > 0 && float64(s.found)/float64(s.labels) < 0.95 {
			t.Errorf("%s: recall %d/%d with late delivery; missed %v", id, s.found, s.labels, s.missed)
		}
	}
}
