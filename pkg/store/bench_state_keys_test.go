package store

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchmarkStateIndexGC: what the state log's index of live keys costs
// the garbage collector. It builds the index of users×4 keys (the keys of
// BenchmarkStateLog, each its own string as a scan of the log makes them)
// — "slab" the index as the store keeps it (keyIndex: no pointers), "map"
// as it was before (map[string]stateRow), "none" no index (the rest of the
// test binary's heap) — then one op is one forced collection
// (runtime.GC, a full mark of the live heap): cpu-ms/gc is the process's
// CPU time per collection (getrusage, both cores' workers), heap-MB and
// heap-objects the live heap the index added (runtime.MemStats after a
// collection).
//
//	go test ./pkg/store -run '^$' -bench BenchmarkStateIndexGC -benchtime 20x
func BenchmarkStateIndexGC(b *testing.B) {
	for _, users := range []int{1000, 100000} {
		for _, kind := range []string{"none", "map", "slab"} {
			b.Run(fmt.Sprintf("users=%d/%s", users, kind), func(b *testing.B) {
				benchStateIndexGC(b, users, kind)
			})
		}
	}
}

func benchStateIndexGC(b *testing.B, users int, kind string) {
	parts := []string{"engine/u", "impossible_travel", "session_hijack", "r1/p"}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	var keep any
	switch kind {
	case "map":
		m := map[string]stateRow{}
		for u := 0; u < users; u++ {
			for i, p := range parts {
				m[fmt.Sprintf("detect.s/%d@example.com/%s", u, p)] = stateRow{seq: int64(4*u + i + 1), size: 240}
			}
		}
		keep = m
	case "slab":
		x := newKeyIndex()
		for u := 0; u < users; u++ {
			for i, p := range parts {
				x.put(fmt.Sprintf("detect.s/%d@example.com/%s", u, p), stateRow{seq: int64(4*u + i + 1), size: 240})
			}
		}
		keep = x
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.ResetTimer()
	c0 := cpumeter.Process()
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	cpu := cpumeter.Process() - c0
	b.StopTimer()
	runtime.KeepAlive(keep)
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/gc")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20), "heap-MB")  // #nosec G115 -- heap sizes far below 2^63
	b.ReportMetric(float64(int64(m1.HeapObjects)-int64(m0.HeapObjects)), "heap-objects") // #nosec G115 -- as above
}
