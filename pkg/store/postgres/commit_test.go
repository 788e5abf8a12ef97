package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// Two unfenced handles of one org commit overlapping batches at once
// (pages spanning a day boundary, so two partitions each): Commit's COPY
// into the partitions meets the other's rows (blocked on its uncommitted
// insert, then refused by the primary key) and redoes the page through
// the deduplicating insert. Every event is stored once and reported
// inserted by exactly one of the two.
func TestCommitConcurrentWritersOneOrg(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Org: storetest.OrgA, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	const rounds, n = 6, 400
	total := 0
	for r := 0; r < rounds; r++ {
		evs := storetest.Events("c", r*n, n, midnight.Add(-time.Duration(n/2)*time.Second), time.Second)
		// b's batch: the second half of a's and as many new events after it
		evsB := append(append([]event.Event{}, evs[n/2:]...), storetest.Events("d", r*n, n/2, midnight.Add(time.Hour), time.Second)...)
		var wg sync.WaitGroup
		var resA, resB store.CommitResult
		var errA, errB error
		start := make(chan struct{})
		wg.Add(2)
		go func() { defer wg.Done(); <-start; resA, errA = a.Commit(ctx, store.Batch{Events: evs}) }()
		go func() { defer wg.Done(); <-start; resB, errB = b.Commit(ctx, store.Batch{Events: evsB}) }()
		close(start)
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: commits failed: %v / %v", r, errA, errB)
		}
		if got, want := resA.EventsInserted+resB.EventsInserted, n+n/2; got != want {
			t.Fatalf("round %d: inserted %d + %d, want %d in all", r, resA.EventsInserted, resB.EventsInserted, want)
		}
		for i := n / 2; i < n; i++ { // the shared events: exactly one of the two stored each
			if resA.Inserted[i] == resB.Inserted[i-n/2] {
				t.Fatalf("round %d: shared event %d inserted by a=%v b=%v", r, i, resA.Inserted[i], resB.Inserted[i-n/2])
			}
		}
		total += n + n/2
	}
	if st, err := a.Stats(ctx); err != nil || st.Events != int64(total) {
		t.Fatalf("stored %d events (%v), want %d", st.Events, err, total)
	}
	pts, err := a.CountSeries(ctx, store.SeriesQuery{From: midnight.Add(-24 * time.Hour), To: midnight.Add(24 * time.Hour),
		Interval: 24 * time.Hour, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range pts {
		sum += p.Count
	}
	if sum != int64(total) {
		t.Fatalf("roll-ups count %d events, want %d (a redone page must not count twice)", sum, total)
	}
}
