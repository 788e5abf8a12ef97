package detect_test

import (
	"runtime"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/enrich"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// BenchmarkEngine measures events/s through every detector on a month of
// generated traffic (300 users, attacks included), decoded and enriched
// beforehand. When the month is exhausted a new engine starts over.
func BenchmarkEngine(b *testing.B) {
	c := loadCorpus(b)
	b.Run("all", func(b *testing.B) { benchEngine(b, c, scenarioConfig(c.ds)) })
	b.Run("baseline11", func(b *testing.B) { benchEngine(b, c, baselineOnly(c.ds)) })
}

func benchEngine(b *testing.B, c *corpus, cfg detect.Config) {
	newEngine := func() *detect.Engine {
		e, err := detect.NewEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	e := newEngine()
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
	_ = alerts
}

// BenchmarkMemoryPerTrackedUser runs a month of traffic for 300 users
// (decoded and enriched on the fly, so only what the engine keeps stays
// reachable) and reports the heap the engine retained while tracking them
// (measured from the freshly built engine to the end of the month) per
// tracked user. Tenant-wide state (spray windows, dedup memory) is
// included, spread over the users.
func BenchmarkMemoryPerTrackedUser(b *testing.B) {
	ds, err := traffic.Generate(traffic.Config{Seed: 42, Users: 300, Days: 30, Attacks: true})
	if err != nil {
		b.Fatal(err)
	}
	en, err := enrich.New(enrich.Config{Lists: ds.Lists.Map(), ReloadInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer en.Close()
	for _, tc := range []struct {
		name string
		cfg  detect.Config
	}{{"all", scenarioConfig(ds)}, {"baseline11", baselineOnly(ds)}} {
		b.Run(tc.name, func(b *testing.B) { memPerUser(b, ds, en, tc.cfg) })
	}
}

// baselineOnly enables the 11 baseline detectors and disables the rule pack.
func baselineOnly(ds *traffic.Dataset) detect.Config {
	cfg := scenarioConfig(ds)
	off := false
	for i, d := range detect.Detectors() {
		if i >= 11 {
			cfg[d.ID] = detect.DetectorConfig{Enabled: &off}
		}
	}
	return cfg
}

func memPerUser(b *testing.B, ds *traffic.Dataset, en *enrich.Enricher, cfg detect.Config) {
	var perUser, users float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		e, err := detect.NewEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		// warm up one-time allocations (decoder, enricher) outside the measurement
		if ev, err := event.Decode(ds.Events[0]); err == nil {
			en.Enrich(&ev)
		}
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, raw := range ds.Events {
			ev, err := event.Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			en.Enrich(&ev)
			e.Process(&ev)
		}
		e.Flush()
		runtime.GC()
		runtime.ReadMemStats(&after)
		st := e.Stats()
		users = float64(st.TrackedUser)
		perUser = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / users
		runtime.KeepAlive(e)
	}
	b.ReportMetric(perUser, "bytes/user")
	b.ReportMetric(users, "users")
}
