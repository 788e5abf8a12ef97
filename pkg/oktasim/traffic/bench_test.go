package traffic_test

import (
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// BenchmarkGenerate: a month of traffic for 300 users with every attack.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	var events, bytes int
	for i := 0; i < b.N; i++ {
		ds, err := traffic.Generate(traffic.Config{Seed: int64(i), Attacks: true})
		if err != nil {
			b.Fatal(err)
		}
		events = len(ds.Events)
		bytes = 0
		for _, e := range ds.Events {
			bytes += len(e)
		}
	}
	b.ReportMetric(float64(events), "events/op")
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(int64(bytes))
}

// BenchmarkStreamHour: one hour of live traffic for 300 users, polled every 10 s.
func BenchmarkStreamHour(b *testing.B) {
	from := time.Date(2025, 6, 2, 14, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s, err := traffic.NewStream(traffic.Config{Seed: 1, Attacks: true}, from)
		if err != nil {
			b.Fatal(err)
		}
		for now := from; now.Before(from.Add(time.Hour)); now = now.Add(10 * time.Second) {
			s.Next(now)
		}
	}
}
