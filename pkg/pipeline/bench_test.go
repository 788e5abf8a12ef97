package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/cpumeter"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// BenchmarkHandlePage measures one page through decode → dedup → enrich →
// detect → commit (SQLite on disk), without HTTP. Reports events/s.
func BenchmarkHandlePage(b *testing.B) {
	dir := b.TempDir()
	s := testSettings(b, "http://127.0.0.1:1", dir)
	p, err := New(s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	const per = 1000
	now := time.Now()
	pages := make([]okta.Page, b.N)
	for i := range pages {
		evs := genEvents(uint64(1000+i), per, now.Add(-time.Duration(b.N-i)*time.Hour), now.Add(-time.Duration(b.N-i-1)*time.Hour))
		pages[i] = okta.Page{Events: evs, Next: fmt.Sprintf("http://127.0.0.1:1/api/v1/logs?after=%d", i), Limit: per, Full: true}
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.handlePage(ctx, pages[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReplay measures `oktaguard replay`'s stages end to end: a month
// of generated traffic (300 users, attacks included) as JSON Lines, decoded,
// de-duplicated, put in event-time order, enriched (IP lists) and run
// through the detectors: "all" with the rule pack, "baseline11" with the 11
// baseline detectors only. Next to them, on the same bytes, the floor the
// issue set: "stdlib-map-decode" only decodes every line with encoding/json
// into map[string]any and does nothing else. One iteration is the whole
// month; run with -cpu 1 for the per-core figure:
//
//	go test ./pkg/pipeline -run '^$' -bench BenchmarkReplay -benchtime 2x -count 3 -cpu 1
func BenchmarkReplay(b *testing.B) {
	ds, err := traffic.Generate(traffic.Config{Seed: 42, Users: 300, Days: 30, Attacks: true})
	if err != nil {
		b.Fatal(err)
	}
	var jsonl bytes.Buffer
	if err := ds.WriteJSONL(&jsonl); err != nil {
		b.Fatal(err)
	}
	all := config.Defaults()
	all.IPLists = ds.Lists.Map()
	baseline := all
	baseline.Detectors = detect.Config{}
	off := false
	for i, d := range detect.Detectors() {
		if i >= 11 { // the rule pack registers after the 11 baseline detectors
			baseline.Detectors[d.ID] = detect.DetectorConfig{Enabled: &off}
		}
	}
	b.Run("all", func(b *testing.B) { benchReplay(b, all, jsonl.Bytes()) })
	b.Run("baseline11", func(b *testing.B) { benchReplay(b, baseline, jsonl.Bytes()) })
	b.Run("stdlib-map-decode", func(b *testing.B) { benchMapDecode(b, jsonl.Bytes()) })
}

// benchMapDecode is the decode-only floor: each line into map[string]any.
func benchMapDecode(b *testing.B, jsonl []byte) {
	b.SetBytes(int64(len(jsonl)))
	b.ReportAllocs()
	events := 0
	cpu0 := int64(cpumeter.Process())
	for i := 0; i < b.N; i++ {
		sc := bufio.NewScanner(bytes.NewReader(jsonl))
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				b.Fatal(err)
			}
			events++
		}
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
	}
	reportEvents(b, events, int64(cpumeter.Process())-cpu0)
}

// reportEvents reports events/s (wall clock) and, where the platform
// measures it, the process's CPU time per event (cpu-ns/event, garbage
// collection included) and events per CPU-second: on a shared machine the
// wall clock also counts the time other jobs held the core, the CPU time
// does not. Run with -cpu 1 so that the CPU time is one core's.
func reportEvents(b *testing.B, events int, cpu int64) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
	if cpu > 0 && events > 0 {
		b.ReportMetric(float64(cpu)/float64(events), "cpu-ns/event")
		b.ReportMetric(float64(events)/(float64(cpu)/1e9), "events/cpu-s")
	}
}

func benchReplay(b *testing.B, s config.Settings, jsonl []byte) {
	ctx := context.Background()
	b.SetBytes(int64(len(jsonl)))
	b.ReportAllocs()
	events := 0
	cpu0 := int64(cpumeter.Process())
	for i := 0; i < b.N; i++ {
		sum, err := Replay(ctx, s, []ReplayInput{{Name: "month.jsonl", R: bytes.NewReader(jsonl)}},
			func(alert.Alert) error { return nil }, nil)
		if err != nil {
			b.Fatal(err)
		}
		if sum.ParseErrors > 0 || sum.Events == 0 {
			b.Fatalf("replay: %+v", sum)
		}
		events += sum.Events
	}
	reportEvents(b, events, int64(cpumeter.Process())-cpu0)
}
