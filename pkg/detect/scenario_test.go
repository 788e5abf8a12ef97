package detect_test

import (
	"fmt"
	"os"
	"strconv"
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

// refs converts engine alerts for the traffic package's scorer.
func refs(alerts []detect.Alert) []traffic.AlertRef {
	out := make([]traffic.AlertRef, len(alerts))
	for i, a := range alerts {
		out[i] = traffic.AlertRef{ID: a.ID, Detector: a.Detector, Severity: a.Severity, Actor: a.Actor, IP: a.IP,
			Time: a.Time, LastTime: a.LastTime, EventIDs: a.EventIDs}
		// a campaign's alert names every source it grouped
		if ips, ok := a.Evidence["sourceIPs"].([]any); ok {
			for _, ip := range ips {
				if s, ok := ip.(string); ok {
					out[i].IPs = append(out[i].IPs, s)
				}
			}
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
	return detect.Final(append(out, e.Flush()...))
}

// generateEnriched generates an org and an enricher with its IP lists.
func generateEnriched(t testing.TB, cfg traffic.Config) (*traffic.Dataset, *enrich.Enricher) {
	t.Helper()
	ds, err := traffic.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	en, err := enrich.New(enrich.Config{Lists: ds.Lists.Map(), ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	return ds, en
}

// scenarioRun generates one org, streams it through enrichment and the
// whole engine (every detector and rule, the pen-test account scoped out
// as an operator would) and returns the dataset and the alerts.
func scenarioRun(t testing.TB, cfg traffic.Config) (*traffic.Dataset, []detect.Alert) {
	t.Helper()
	ds, en := generateEnriched(t, cfg)
	defer en.Close()
	e, err := detect.NewEngine(scenarioConfig(ds))
	if err != nil {
		t.Fatal(err)
	}
	var alerts []detect.Alert
	for i, raw := range ds.Events {
		ev, err := event.Decode(raw)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		en.Enrich(&ev)
		ev.Raw = nil
		alerts = append(alerts, e.Process(&ev)...)
	}
	alerts = append(alerts, e.Flush()...)
	if st := e.Stats(); st.Events != int64(len(ds.Events)) {
		t.Fatalf("processed %d of %d events", st.Events, len(ds.Events))
	}
	return ds, alerts
}

// The scenario test's bars (issue 11): recall per detector, false
// positives for the whole pack, alerts per incident.
const (
	minRecall          = 0.95
	maxPackFPPer1000UD = 0.5
	maxAlertsPerInc    = 3
)

// scenarioSizes are the org sizes of TestScenarioQuality: 300 users always;
// OKTAGUARD_SCENARIO_USERS (comma-separated, e.g. "300,1000") replaces them.
func scenarioSizes(t *testing.T) []int {
	v := os.Getenv("OKTAGUARD_SCENARIO_USERS")
	if v == "" {
		return []int{300}
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 40 {
			t.Fatalf("OKTAGUARD_SCENARIO_USERS=%q: want comma-separated user counts >= 40", v)
		}
		out = append(out, n)
	}
	return out
}

// scenarioSeeds are the three seeds every size runs on.
var scenarioSeeds = []int64{1, 2, 3}

// TestScenarioQuality is the honest measurement of issue 11: 28 days of a
// generated org per seed (benign traffic with the look-alikes real orgs
// produce, attacks just above and just below each threshold, the evasion
// cases), every detector and rule enabled, scored by the traffic package's
// Scorecard: a label counts only when an alert of its own detector names
// its own actor or IP inside its own window; info alerts count neither way;
// a detector without a labelled case reports "no cases". -v prints the
// table. The bars (recall, pack FP rate, alerts per incident, silence on
// near misses) fail the test — every detector meets them at 300 and 1,000
// users (docs/detectors.md has the table) — unless
// OKTAGUARD_SCENARIO_STRICT=0, which only
// reports them (to see the whole table while working on a detector); the
// harness check (>= 5 cases per baseline detector and per labelled rule)
// always fails it.
// OKTAGUARD_SCENARIO_REPORT=<file> also writes the table there.
func TestScenarioQuality(t *testing.T) {
	if testing.Short() || raceBuild {
		t.Skip("generates three months of traffic; .ci/test runs it in its own step without -race")
	}
	strict := os.Getenv("OKTAGUARD_SCENARIO_STRICT") != "0"
	var report strings.Builder
	for _, users := range scenarioSizes(t) {
		var sc traffic.Scorecard
		for _, d := range detect.Detectors() {
			sc.Known(d.ID)
		}
		events, alerts := 0, 0
		for _, seed := range scenarioSeeds {
			ds, al := scenarioRun(t, traffic.Config{Seed: seed, Users: users, Days: 28, Attacks: true})
			sc.Add(ds, refs(al))
			events += len(ds.Events)
			alerts += len(al)
		}
		head := fmt.Sprintf("%d users x 28 days x seeds %v: %d events, %d alert updates", users, scenarioSeeds, events, alerts)
		table := sc.Table()
		t.Logf("%s\n%s", head, table)
		fmt.Fprintf(&report, "%s\n%s\n", head, table)
		fail := func(format string, args ...any) {
			t.Helper()
			if strict {
				t.Errorf(format, args...)
			} else {
				t.Logf("BAR MISSED (reported only: OKTAGUARD_SCENARIO_STRICT=0): "+format, args...)
			}
		}
		registered := map[string]bool{}
		for _, d := range detect.Detectors() {
			registered[d.ID] = true
		}
		baseline := map[string]bool{}
		for _, d := range detect.Detectors() {
			baseline[d.ID] = true
		}
		for _, r := range detect.Rules() {
			delete(baseline, r.ID)
		}
		for _, s := range sc.Scores() {
			// every baseline detector, and every rule that has a labelled
			// case at all, needs at least 5 over the seeds (a recall from
			// one or two cases says nothing)
			if (baseline[s.Detector] || s.Labels > 0) && s.Labels < 5 {
				t.Errorf("%d users: %s has %d labelled attacks over %d seeds, want at least 5", users, s.Detector, s.Labels, len(scenarioSeeds))
			}
			if !registered[s.Detector] {
				fail("%d users: %s: labelled (%d cases) but no such detector is registered", users, s.Detector, s.Labels)
				continue
			}
			if !s.NoCases && s.Recall < minRecall {
				fail("%d users: %s: recall %.2f < %.2f; missed %v", users, s.Detector, s.Recall, minRecall, s.Missed)
			}
			if s.MaxAlertsPerIncident > maxAlertsPerInc {
				fail("%d users: %s: %d alerts for one incident > %d", users, s.Detector, s.MaxAlertsPerIncident, maxAlertsPerInc)
			}
			if s.BelowAlerts > 0 {
				fail("%d users: %s alerted on %d below-threshold cases: %v", users, s.Detector, s.BelowAlerts, s.BelowHits)
			}
			for i, a := range s.FalseAlerts {
				if i == 5 {
					t.Logf("    ... %d more", len(s.FalseAlerts)-5)
					break
				}
				t.Logf("    FP %s %s %s %s %s", s.Detector, a.Severity, a.Time.Format(time.RFC3339), a.Actor, a.IP)
			}
		}
		// one labelled incident pages at most maxAlertsPerInc alerts over
		// the whole pack (any detector naming its actor or source inside
		// its window), not only per detector
		if sc.PackMaxPerIncident > maxAlertsPerInc {
			fail("%d users: incident %s raised %d alerts over the pack > %d", users, sc.PackWorstIncident, sc.PackMaxPerIncident, maxAlertsPerInc)
		}
		if fp, rate := sc.Pack(); rate > maxPackFPPer1000UD {
			fail("%d users: the pack raised %d false positives = %.3f per 1000 user-days > %.1f", users, fp, rate, maxPackFPPer1000UD)
		}
	}
	if p := os.Getenv("OKTAGUARD_SCENARIO_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
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
		got = detect.Final(append(got, e2.Flush()...))
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
	ds, en := generateEnriched(t, traffic.Config{Seed: 7, Users: 120, Days: 20, Attacks: true, Late: 0.05})
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
	alerts = detect.Final(append(alerts, e.Flush()...))
	if st := e.Stats(); st.Events != int64(len(evs)) {
		t.Fatalf("processed %d of %d events", st.Events, len(evs))
	}
	var sc traffic.Scorecard
	sc.Add(ds, refs(alerts))
	for _, s := range sc.Scores() {
		if !s.NoCases && s.Recall < minRecall {
			t.Errorf("%s: recall %d/%d with late delivery; missed %v", s.Detector, s.Detected, s.Labels, s.Missed)
		}
	}
}
