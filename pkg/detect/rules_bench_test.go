package detect_test

import (
	"testing"

	"github.com/oktaguard/oktaguard/pkg/detect"
)

// BenchmarkRulePack measures events/s through the whole rule pack alone
// (the eleven baseline detectors disabled) on the generated month (300
// users, attacks included), decoded and enriched beforehand; a new engine
// starts over when the month is exhausted.
func BenchmarkRulePack(b *testing.B) {
	c := loadCorpus(b)
	rules := map[string]bool{}
	for _, r := range detect.Rules() {
		rules[r.ID] = true
	}
	cfg := detect.Config{}
	off := false
	for _, d := range detect.Detectors() {
		if !rules[d.ID] {
			cfg[d.ID] = detect.DetectorConfig{Enabled: &off}
		} else {
			cfg[d.ID] = detect.DetectorConfig{Exclude: []string{c.ds.PenTester}}
		}
	}
	newEngine := func() *detect.Engine {
		e, err := detect.NewEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	e := newEngine()
	if got := len(e.Enabled()); got != len(rules) {
		b.Fatalf("%d enabled, %d rules", got, len(rules))
	}
	n := len(c.events)
	alerts := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % n
		if j == 0 && i > 0 {
			b.StopTimer()
			e = newEngine()
			b.StartTimer()
		}
		alerts += len(e.Process(&c.events[j]))
	}
	alerts += len(e.Flush())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(rules)), "rules")
	_ = alerts
}
