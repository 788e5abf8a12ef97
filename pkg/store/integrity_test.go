package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// An existing store opens, answers queries and takes commits before its
// integrity check has finished (the check is held back until the test
// lets it go); the check then reports ok. Before, every open ran
// quick_check over the whole file first: minutes for a large store.
func TestOpenAnswersBeforeIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "og.db")
	st, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if in := st.Integrity(); in.State != IntegrityOK || !in.Started.IsZero() {
		t.Fatalf("new store: integrity %+v, want ok without a check", in)
	}
	from := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	mustCommit(t, st, Batch{Events: mkEvents(0, 3000, from, time.Second)})
	st.Close()

	gate := make(chan struct{})
	st, err = OpenWithOptions(ctx, p, Options{integrityGate: gate})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if in := st.Integrity(); in.State != IntegrityChecking || in.Path != p {
		t.Fatalf("integrity right after open %+v, want checking", in)
	}
	stats, err := st.Stats(ctx)
	if err != nil || stats.Events != 3000 {
		t.Fatalf("stats before the check finished: %+v %v", stats, err)
	}
	rows, err := st.QueryEvents(ctx, EventQuery{From: from, To: from.Add(time.Hour), Limit: 10})
	if err != nil || len(rows) != 10 {
		t.Fatalf("query before the check finished: %d rows, %v", len(rows), err)
	}
	mustCommit(t, st, Batch{Events: mkEvents(5000, 10, from.Add(time.Hour), time.Second)})
	if in := st.Integrity(); in.State != IntegrityChecking {
		t.Fatalf("integrity %+v, want still checking", in)
	}
	close(gate)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	in, err := st.WaitIntegrity(wctx)
	if err != nil {
		t.Fatalf("waiting for the integrity check: %v", err)
	}
	if in.State != IntegrityOK || in.Err != nil || in.Finished.Before(in.Started) {
		t.Fatalf("integrity %+v, want ok", in)
	}
}

// Close stops a check that has not finished, and returns.
func TestCloseStopsIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "og.db")
	st, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, Batch{Events: mkEvents(0, 100, time.Now().Add(-time.Hour), time.Second)})
	st.Close()
	st, err = OpenWithOptions(ctx, p, Options{integrityGate: make(chan struct{})})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Integrity, 1)
	st.OnIntegrity(func(in Integrity) { got <- in })
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	in := <-got
	if in.State != IntegrityStopped || in.Err == nil {
		t.Fatalf("integrity after close %+v, want stopped", in)
	}
}
