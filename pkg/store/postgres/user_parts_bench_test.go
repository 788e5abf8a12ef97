package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
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
// max beside it), server-cpu-ms the database's client backends' (in clock
// ticks of 10 ms, and every client of the database counts: run it alone
// on its database), seal-entries-max the most entries one commit's seal
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
	dsn := pgtest.Schema(b)
	s, err := openAt(ctx, Config{DSN: dsn, Org: "https://seal.okta.example", MaxConns: 2}, version)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	meter, err := pgx.Connect(ctx, dsn) // reads the server's CPU (its own backend not counted)
	if err != nil {
		b.Fatal(err)
	}
	defer meter.Close(ctx)
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
	cpus, servers := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	serverOK := true
	most := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		evs := pageAt(at, 1000)
		at = at.Add(1000 * time.Second)
		b.StartTimer()
		s0, ok0 := backendsCPU(ctx, meter)
		c0 := cpumeter.Process()
		if _, err := s.Commit(ctx, store.Batch{Events: evs}); err != nil {
			b.Fatal(err)
		}
		cpus = append(cpus, cpumeter.Process()-c0)
		s1, ok1 := backendsCPU(ctx, meter)
		serverOK = serverOK && ok0 && ok1
		servers = append(servers, s1-s0)
		most = max(most, s.sealWork)
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	report := func(ds []time.Duration, unit string) {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		slices.Sort(ds)
		b.ReportMetric(ms(sum)/float64(len(ds)), unit+"/commit")
		b.ReportMetric(ms(ds[len(ds)/2]), unit+"-median/commit")
		b.ReportMetric(ms(ds[len(ds)-1]), unit+"-max/commit")
	}
	report(cpus, "cpu-ms")
	if serverOK {
		report(servers, "server-cpu-ms")
	}
	b.ReportMetric(float64(most), "seal-entries-max")
}
