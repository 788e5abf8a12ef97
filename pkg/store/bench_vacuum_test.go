package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchmarkCommitAutoVacuum is BenchmarkCommit on a store created without
// auto-vacuum (as before) and on one with incremental auto-vacuum (the
// pointer map's upkeep; no step runs: the commits free no pages), side by
// side in one binary; -count alternates them:
//
//	go test ./pkg/store -run '^$' -bench BenchmarkCommitAutoVacuum -benchtime 20x -count 3
func BenchmarkCommitAutoVacuum(b *testing.B) {
	for _, c := range []struct {
		name string
		none bool
	}{{"none", true}, {"incremental", false}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := OpenWithOptions(context.Background(), filepath.Join(b.TempDir(), "bench.db"), Options{autoVacuumNone: c.none})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchCommit(b, s)
		})
	}
}

// BenchmarkVacuumStep times the incremental vacuum's steps of
// vacuumStepPages pages (the writer is held for one at a time) on a store
// of 60 000 events of which 50 000 were pruned without the drain: CPU and
// wall time per step, mean and max, and the pages each freed. b.N stores
// are built and drained; the build is not timed.
//
//	go test ./pkg/store -run '^$' -bench BenchmarkVacuumStep -benchtime 1x
func BenchmarkVacuumStep(b *testing.B) {
	ctx := context.Background()
	var steps, pages int64
	var cpu, wall, maxCPU, maxWall time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := OpenWithOptions(ctx, filepath.Join(b.TempDir(), "bench.db"), Options{vacMinFree: 1})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < 60000; n += 2000 {
			if _, err := s.Commit(ctx, Batch{Events: mkEvents(n, 2000, t0.Add(time.Duration(n)*time.Minute), time.Minute)}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := s.prune(ctx, t0.Add(50000*time.Minute)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for {
			c0, w0 := cpumeter.Process(), time.Now()
			s.mu.Lock()
			freed, more, err := s.vacuumOnce(ctx)
			s.mu.Unlock()
			c, w := cpumeter.Process()-c0, time.Since(w0)
			if err != nil {
				b.Fatal(err)
			}
			if freed > 0 {
				steps, pages, cpu, wall = steps+1, pages+freed, cpu+c, wall+w
				maxCPU, maxWall = max(maxCPU, c), max(maxWall, w)
			}
			if !more {
				break
			}
		}
		b.StopTimer()
		s.Close()
	}
	if steps == 0 {
		b.Fatal("no step ran")
	}
	b.ReportMetric(float64(steps)/float64(b.N), "steps/op")
	b.ReportMetric(float64(pages)/float64(steps), "pages/step")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(steps), "cpu-ms/step")
	b.ReportMetric(float64(maxCPU.Microseconds())/1000, "max-cpu-ms/step")
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(steps), "ms/step")
	b.ReportMetric(float64(maxWall.Microseconds())/1000, "max-ms/step")
}
