//go:build unix

package detect

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// BenchmarkEngineHeapGC: what the detectors' per-user state costs the
// garbage collector as the number of tracked users grows. An engine with
// every detector (the rule pack included, Config{} as the pipeline runs
// it) learns N users on BenchmarkStateCommit's traffic (pkg/pipeline:
// two sign-ins each, one a second, every user its own address, session
// and one of five cities) and saves its state (SaveStateDelta, as the
// pipeline's first commit); then one op is one forced collection
// (runtime.GC, a full mark of the live heap). cpu-ms/gc is the process's
// CPU time per collection (getrusage, every core's workers),
// heap-objects and heap-MB the live heap the engine added
// (runtime/metrics /gc/heap/objects:objects and /gc/heap/live:bytes after
// a collection, less the same before the engine was built),
// objects/user and bytes/user the same per tracked user. With
// OKTAGUARD_BENCH_HEAPPROFILE=FILE the heap profile of the learned
// engine is written to FILE (go tool pprof -sample_index=inuse_objects):
//
//	go test ./pkg/detect -run '^$' -bench BenchmarkEngineHeapGC -benchtime 20x
func BenchmarkEngineHeapGC(b *testing.B) {
	for _, users := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) { benchEngineHeapGC(b, users) })
	}
}

var heapSamples = []metrics.Sample{{Name: "/gc/heap/objects:objects"}, {Name: "/gc/heap/live:bytes"}}

// liveHeap collects and returns the live heap's objects and bytes.
func liveHeap() (objects, bytes int64) {
	runtime.GC()
	metrics.Read(heapSamples)
	return int64(heapSamples[0].Value.Uint64()), int64(heapSamples[1].Value.Uint64()) // #nosec G115 -- heap sizes far below 2^63
}

func benchEngineHeapGC(b *testing.B, users int) {
	o0, h0 := liveHeap()
	e, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		b.Fatal(err)
	}
	cities := []struct {
		city, country string
		lat, lon      float64
	}{{"New York", "United States", 40.71, -74.0}, {"London", "United Kingdom", 51.5, -0.13}, {"Berlin", "Germany", 52.52, 13.4},
		{"Tokyo", "Japan", 35.68, 139.69}, {"Sydney", "Australia", -33.87, 151.21}}
	t := t0
	n := 0
	for round := 0; round < 2; round++ {
		for u := 0; u < users; u++ {
			n++
			t = t.Add(time.Second)
			c := cities[u%len(cities)]
			common := benchUser(n, u)
			ev := signIn(fmt.Sprintf("user%d@example.com", u), t, func(ev *event.Event) {
				common(ev)
				ev.Actor.ID = fmt.Sprintf("00u%d", u)
				ev.Client.Geo = event.Geo{Country: c.country, City: c.city, Lat: c.lat, Lon: c.lon, HasLatLon: true}
			})
			e.Process(&ev)
		}
	}
	if _, err := e.SaveStateDelta(); err != nil {
		b.Fatal(err)
	}
	o1, h1 := liveHeap()
	if path := os.Getenv("OKTAGUARD_BENCH_HEAPPROFILE"); path != "" {
		f, err := os.Create(path) // #nosec G304 -- the benchmark's own output file
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	c0 := cpumeter.Process()
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	cpu := cpumeter.Process() - c0
	b.StopTimer()
	runtime.KeepAlive(e)
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/gc")
	b.ReportMetric(float64(o1-o0), "heap-objects")
	b.ReportMetric(float64(h1-h0)/(1<<20), "heap-MB")
	b.ReportMetric(float64(o1-o0)/float64(users), "objects/user")
	b.ReportMetric(float64(h1-h0)/float64(users), "bytes/user")
	b.ReportMetric(float64(e.Stats().TrackedUser), "users")
}
