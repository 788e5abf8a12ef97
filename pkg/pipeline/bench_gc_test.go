package pipeline

import (
	"fmt"
	"runtime/metrics"
	"strings"
	"testing"
)

// gcSample is the garbage collector's work so far: its cycles and the CPU
// the runtime estimates it spent (runtime/metrics; a cycle's CPU is added
// when the cycle ends; the runtime calls it an overestimate: idle-time
// workers count in full). A timed commit's process CPU includes any cycle
// that ends inside it, and a cycle marks the whole live heap: with the
// detectors of 100 000 users in memory one cycle costs far more than with
// 1 000, so a commit that a cycle lands in looks expensive whatever the
// store did. Reporting the cycles beside the CPU tells the two apart.
type gcSample struct {
	cycles uint64
	cpuNS  int64
	alloc  uint64 // bytes allocated on the heap
}

var gcMetrics = []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds", "/gc/heap/allocs:bytes"}

func readGC() gcSample {
	s := make([]metrics.Sample, len(gcMetrics))
	for i, n := range gcMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	var g gcSample
	if s[0].Value.Kind() == metrics.KindUint64 {
		g.cycles = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindFloat64 {
		g.cpuNS = int64(s[1].Value.Float64() * 1e9)
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		g.alloc = s[2].Value.Uint64()
	}
	return g
}

func (g gcSample) minus(o gcSample) gcSample {
	return gcSample{cycles: g.cycles - o.cycles, cpuNS: g.cpuNS - o.cpuNS, alloc: g.alloc - o.alloc}
}

// logPerCommit logs each timed commit's process CPU and the garbage
// collector's cycles and estimated CPU in it, and reports the mean of the
// latter as gc-cpu-ms/commit.
//
// A cycle's CPU lands in whichever commit it ends in, so with a large heap
// a few timed commits carry all of it and a short run catches one cycle or
// none. cpu-ms-amortized/commit charges the collector by allocation
// instead, as it works: each commit's CPU without the cycles that ended in
// it, plus the bytes it allocated times the collector's CPU per allocated
// byte over the whole timed loop (loop: from the first timed commit to the
// last, the untimed pages between them included). gc-cpu-us/MB is that
// rate: with a GOGC-paced heap, cycles per allocated byte fall as the live
// heap grows while each cycle marks more, so the rate stays level unless
// marking a larger heap costs more per byte (pointer-dense, cache-missing).
// Only the mean means something: a cycle's CPU, idle workers and marking
// done before the commit included, is taken off the commit it ends in, so
// that commit's own amortized figure in the log can be below zero.
func logPerCommit(b *testing.B, cpu []int64, gc []gcSample, loop gcSample) {
	var sb strings.Builder
	var gcNS, amortNS float64
	perByte := 0.0
	if loop.alloc > 0 {
		perByte = float64(loop.cpuNS) / float64(loop.alloc)
	}
	for i, c := range cpu {
		a := float64(c-gc[i].cpuNS) + float64(gc[i].alloc)*perByte
		fmt.Fprintf(&sb, " #%d %.1f ms (gc %d cycles, %.1f ms; %.1f MB allocated; amortized %.1f ms)", i+1, float64(c)/1e6,
			gc[i].cycles, float64(gc[i].cpuNS)/1e6, float64(gc[i].alloc)/1e6, a/1e6)
		gcNS += float64(gc[i].cpuNS)
		amortNS += a
	}
	b.Logf("cpu per timed commit:%s", sb.String())
	b.Logf("timed loop: %d gc cycles, %.1f ms of gc CPU for %.1f MB allocated (%.1f us per MB)", loop.cycles,
		float64(loop.cpuNS)/1e6, float64(loop.alloc)/1e6, perByte*1e6/1e3)
	b.ReportMetric(gcNS/1e6/float64(len(cpu)), "gc-cpu-ms/commit")
	b.ReportMetric(amortNS/1e6/float64(len(cpu)), "cpu-ms-amortized/commit")
	b.ReportMetric(perByte*1e6/1e3, "gc-cpu-us/MB")
}
