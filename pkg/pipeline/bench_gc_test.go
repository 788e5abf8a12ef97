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
}

var gcMetrics = []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds"}

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
	return g
}

func (g gcSample) minus(o gcSample) gcSample {
	return gcSample{cycles: g.cycles - o.cycles, cpuNS: g.cpuNS - o.cpuNS}
}

// logPerCommit logs each timed commit's process CPU and the garbage
// collector's cycles and estimated CPU in it, and reports the mean of the
// latter as gc-cpu-ms/commit.
func logPerCommit(b *testing.B, cpu []int64, gc []gcSample) {
	var sb strings.Builder
	var gcNS int64
	for i, c := range cpu {
		fmt.Fprintf(&sb, " #%d %.1f ms (gc %d cycles, %.1f ms)", i+1, float64(c)/1e6, gc[i].cycles, float64(gc[i].cpuNS)/1e6)
		gcNS += gc[i].cpuNS
	}
	b.Logf("cpu per timed commit:%s", sb.String())
	b.ReportMetric(float64(gcNS)/1e6/float64(len(cpu)), "gc-cpu-ms/commit")
}
