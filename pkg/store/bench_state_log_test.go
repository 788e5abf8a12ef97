package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchmarkStateLog: the state part of a commit alone, without the
// detectors: a state of users×4 keys (~220 bytes each, clustered by
// subject like pkg/detect's), then commits of the keys of 1,000 random
// users plus 300 hot keys (about the pipeline's 7,000 keys and 750 KB at
// 100 k users); "log" is the state log (its cleaner at work: untimed
// commits first until the log outgrew three times the live state), "inplace" the state
// table updated in place. walPages/commit and cpu-ms/commit as in
// pkg/pipeline's BenchmarkStateCommit.
//
//	go test ./pkg/store -run '^$' -bench BenchmarkStateLog -benchtime 20x
func BenchmarkStateLog(b *testing.B) {
	for _, users := range []int{1000, 10000, 100000} {
		for _, mode := range []string{"log", "inplace"} {
			b.Run(fmt.Sprintf("users=%d/%s", users, mode), func(b *testing.B) {
				benchStateLog(b, users, mode == "inplace")
			})
		}
	}
}

func benchStateLog(b *testing.B, users int, inPlace bool) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "s.db")
	s, err := OpenWithOptions(ctx, path, Options{StateInPlace: inPlace})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	val := func(u, c int) []byte { return []byte(fmt.Sprintf("%0200d", u*31+c)) }
	parts := []string{"engine/u", "impossible_travel", "session_hijack", "r1/p"}
	all := map[string][]byte{}
	for u := 0; u < users; u++ {
		for _, p := range parts {
			all[fmt.Sprintf("detect.s/%d@example.com/%s", u, p)] = val(u, 0)
		}
	}
	mustCommit(b, s, Batch{State: all, StateReset: []string{"detect."}})
	rnd := uint64(1)
	delta := func(c int) map[string][]byte {
		m := map[string][]byte{}
		for i := 0; i < 1000; i++ {
			rnd = rnd*6364136223846793005 + 1442695040888963407
			u := int(rnd>>33) % users
			for _, p := range parts {
				m[fmt.Sprintf("detect.s/%d@example.com/%s", u, p)] = val(u, c)
			}
		}
		for i := 0; i < 300; i++ {
			m[fmt.Sprintf("detect.hot/%d", i)] = val(i, c)
		}
		return m
	}
	c := 1
	for sum := 0; sum < len(all)*25/10; c++ { // past stateLogRatio times the live state: the cleaner at work
		d := delta(c)
		sum += len(d)
		mustCommit(b, s, Batch{State: d})
	}
	shm := path + "-shm"
	frames := func() uint32 {
		f, err := os.Open(shm)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var h [24]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			b.Fatal(err)
		}
		return binary.NativeEndian.Uint32(h[16:20])
	}
	var pages int64
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		d := delta(c + i)
		f0 := frames()
		b.StartTimer()
		c0 := cpumeter.Process()
		mustCommit(b, s, Batch{State: d})
		cpu += cpumeter.Process() - c0
		b.StopTimer()
		if f := frames(); f >= f0 {
			pages += int64(f - f0)
		} else {
			pages += int64(f)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(pages)/float64(b.N), "walPages/commit")
	b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/commit")
}
