package event

import (
	"encoding/json"
	"testing"
)

// benchEvents returns the sample events of 1.5 KB or more (realistic sizes).
func benchEvents(b *testing.B) [][]byte {
	names, lines := sampleLines(b)
	var out [][]byte
	for _, n := range names {
		if len(lines[n]) >= 1500 {
			out = append(out, lines[n])
		}
	}
	if len(out) == 0 {
		b.Fatal("no sample events of 1.5 KB or more: testdata/okta-events.jsonl holds 26")
	}
	return out
}

func avgLen(evs [][]byte) int64 {
	var n int
	for _, e := range evs {
		n += len(e)
	}
	return int64(n / len(evs))
}

// BenchmarkDecode: our decoder on the real sample events (>= 1.5 KB).
func BenchmarkDecode(b *testing.B) {
	evs := benchEvents(b)
	b.SetBytes(avgLen(evs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Decode(evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkStdlibMap: encoding/json into map[string]any on the same events, for comparison.
func BenchmarkStdlibMap(b *testing.B) {
	evs := benchEvents(b)
	b.SetBytes(avgLen(evs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var m map[string]any
		if err := json.Unmarshal(evs[i%len(evs)], &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
