package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDrillDown: the drill-down filters of the events table (one
// actor, one IP, one session) over 24 hours and 7 days of the large store
// (OKTAGUARD_STORE_BENCH_EVENTS, see BenchmarkQuery), newest 1 000 first:
// what the hour-first entity indexes of schema 16 (entity_hours.go) cost
// the reads, one index seek per hour of the range.
func BenchmarkDrillDown(b *testing.B) {
	s, _ := benchStore(b)
	defer s.Close()
	ctx := context.Background()
	// window i ends somewhere in the last 3 days; user i*37 of benchUsers
	endAt := func(i int) time.Time { return benchEnd.Add(-time.Duration(i%72) * time.Hour) }
	user := func(i int) int { return (i * 37) % benchUsers }
	filters := []struct {
		name string
		set  func(q *EventQuery, i int)
	}{
		{"actor", func(q *EventQuery, i int) { q.Actor = fmt.Sprintf("user%05d@example.com", user(i)) }},
		{"ip", func(q *EventQuery, i int) { u := user(i); q.IP = fmt.Sprintf("10.%d.%d.%d", u/250, u%250, i%4) }},
		{"session", func(q *EventQuery, i int) { q.SessionID = fmt.Sprintf("102s%07d", user(i)*10+i%10) }},
	}
	for _, span := range []struct {
		name string
		d    time.Duration
	}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}} {
		for _, f := range filters {
			b.Run(span.name+"_"+f.name, func(b *testing.B) {
				benchQuery(b, func(i int) (int, error) {
					q := EventQuery{From: endAt(i).Add(-span.d), To: endAt(i), Limit: 1000}
					f.set(&q, i)
					r, err := s.QueryEvents(ctx, q)
					return len(r), err
				})
			})
		}
	}
}
