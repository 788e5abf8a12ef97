package detect

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// BenchmarkPruneSpread counts the state keys and deletes each 1,000-event
// page hands its commit (SaveStateDelta), with the detectors' prunes
// sliced over the hour (prune_slots.go) and whole every hour ("lump", the
// behaviour before), on BenchmarkStateCommit's traffic (pkg/pipeline):
// N users learned (two sign-ins each, one a second), then sign-ins of
// random users, one a second, 1,000 a page; 12 pages (3.3 hours of event
// time) untimed first, so that the keys of the learning have expired and
// the prunes run in steady state. One op is one page and its
// SaveStateDelta; deletes-max/page is the most deletes of one page, the
// figure the slices bound (the lump's is the hourly prune's):
//
//	go test ./pkg/detect -run '^$' -bench BenchmarkPruneSpread -benchtime 20x
func BenchmarkPruneSpread(b *testing.B) {
	for _, users := range []int{1000, 10000, 100000} {
		for _, mode := range []string{"sliced", "lump"} {
			b.Run(fmt.Sprintf("users=%d/%s", users, mode), func(b *testing.B) { benchPruneSpread(b, users, mode == "lump") })
		}
	}
}

func benchPruneSpread(b *testing.B, users int, lump bool) {
	e, err := NewEngine(Config{}, WithReorderWindow(0))
	if err != nil {
		b.Fatal(err)
	}
	e.pruneLump = lump
	t := t0
	n := 0
	next := func(u int) event.Event {
		n++
		t = t.Add(time.Second)
		return signIn(fmt.Sprintf("user%d@example.com", u), t, benchUser(n, u))
	}
	for round := 0; round < 2; round++ {
		for u := 0; u < users; u++ {
			ev := next(u)
			e.Process(&ev)
		}
	}
	if _, err := e.SaveStateDelta(); err != nil {
		b.Fatal(err)
	}
	rnd := uint64(12345)
	page := func() (keys, deletes int) {
		for j := 0; j < 1000; j++ {
			rnd = rnd*6364136223846793005 + 1442695040888963407
			ev := next(int(rnd>>33) % users)
			e.Process(&ev)
		}
		d, err := e.SaveStateDelta()
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range d.Put {
			if v == nil {
				deletes++
			}
		}
		return len(d.Put), deletes
	}
	for i := 0; i < 12; i++ {
		page()
	}
	var keys, dels []int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k, d := page()
		keys, dels = append(keys, k), append(dels, d)
	}
	b.StopTimer()
	sum := 0
	for _, d := range dels {
		sum += d
	}
	b.ReportMetric(float64(sum)/float64(b.N), "deletes/page")
	b.ReportMetric(float64(slices.Max(dels)), "deletes-max/page")
	b.ReportMetric(float64(slices.Max(keys)), "keys-max/page")
	b.Logf("keys per page %v, deletes per page %v", keys, dels)
}

// benchUser gives the n-th event of BenchmarkStateCommit's traffic
// (pkg/pipeline), a sign-in of user u, its id, the user's own address
// and the user's session; the detect package's benchmarks share it.
func benchUser(n, u int) func(*event.Event) {
	return func(ev *event.Event) {
		ev.UUID = fmt.Sprintf("bench-%012d", n)
		ev.Client.IPAddress = fmt.Sprintf("198.51.%d.%d", u/250%250, 1+u%250)
		ev.Auth.ExternalSessionID = fmt.Sprintf("idx%d", u)
	}
}
