package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// BenchmarkUserSealCommit measures the 1 000-event commits that follow a
// day's close, as the users grow, with the users roll-up's seal of schema
// 9 ("whole": each closed bucket sealed whole by one commit) and of schema
// 10 ("parts": bounded moves into parts, user_parts.go), in the same
// binary. Untimed: one day of events, one a second (86 000, in pages of
// 10 000), of users drawn at random (~58 000 distinct at 100 000 users,
// ~1 000 at 1 000). Timed: the next day's 1 000-event pages, the first of
// which closes the day: -benchtime 24x covers the day's seal in either
// layout. cpu-ms/commit is the client's CPU per commit (mean; median and
// max beside it), seal-entries-max the most entries one commit's seal
// read:
//
//	OKTAGUARD_TEST_PG_DSN=… go test ./pkg/store/postgres -run '^$' -bench BenchmarkUserSealCommit -benchtime 24x
func BenchmarkUserSealCommit(b *testing.B) {
	for _, users := range []int{1000, 100000} {
		for _, layout := range []string{"whole", "parts"} {
			b.Run(fmt.Sprintf("users=%d/%s", users, layout), func(b *testing.B) { benchUserSeal(b, users, layout == "parts") })
		}
	}
}

func benchUserSeal(b *testing.B, users int, parts bool) {
	ctx := context.Background()
	version := len(migrations)
	if !parts {
		version = userPartsVersion - 1
	}
	s, err := openAt(ctx, Config{DSN: pgtest.Schema(b), Org: "https://seal.okta.example", MaxConns: 2}, version)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(uint64(users), 7))
	n := 0
	pageAt := func(at time.Time, size int) []event.Event {
		evs := make([]event.Event, size)
		for i := range evs {
			u := rng.IntN(users)
			n++
			evs[i] = event.Event{
				UUID: fmt.Sprintf("seal-%09d", n), Published: at.Add(time.Duration(i) * time.Second),
				EventType: "user.session.start", Severity: "INFO",
				Actor:   event.Actor{ID: fmt.Sprintf("00u%07d", u), Type: "User", AlternateID: fmt.Sprintf("user%07d@example.com", u)},
				Client:  event.Client{IPAddress: fmt.Sprintf("10.%d.%d.%d", u>>16&255, u>>8&255, u&255), Geo: event.Geo{Country: "France"}},
				Outcome: event.Outcome{Result: "SUCCESS"},
				Raw:     []byte(`{"eventType":"user.session.start"}`),
			}
		}
		return evs
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -10)
	for at := day; at.Before(day.Add(86000 * time.Second)); at = at.Add(10000 * time.Second) {
		if _, err := s.Commit(ctx, store.Batch{Events: pageAt(at, int(min(10000*time.Second, day.Add(86000*time.Second).Sub(at))/time.Second))}); err != nil {
			b.Fatal(err)
		}
	}
	at := day.Add(24 * time.Hour)
	cpus := make([]time.Duration, 0, b.N)
	most := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		evs := pageAt(at, 1000)
		at = at.Add(1000 * time.Second)
		b.StartTimer()
		c0 := processCPU()
		if _, err := s.Commit(ctx, store.Batch{Events: evs}); err != nil {
			b.Fatal(err)
		}
		cpus = append(cpus, processCPU()-c0)
		most = max(most, s.sealWork)
	}
	b.StopTimer()
	var sum time.Duration
	for _, c := range cpus {
		sum += c
	}
	slices.Sort(cpus)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(sum)/float64(len(cpus)), "cpu-ms/commit")
	b.ReportMetric(ms(cpus[len(cpus)/2]), "cpu-ms-median/commit")
	b.ReportMetric(ms(cpus[len(cpus)-1]), "cpu-ms-max/commit")
	b.ReportMetric(float64(most), "seal-entries-max")
}
