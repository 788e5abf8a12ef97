package store

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// benchStoreComplete reads what the build writes last (the state key
// bench/complete) where the store keeps it — the state log from schema 14
// on, the state table before — so a store whose build stopped half-way is
// never taken for a complete one, nor a complete one for a half-built one.
// It read only the state table, empty from schema 14 on: the "complete"
// step fails on the code before 4267a0e.
func TestBenchStoreComplete(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bench.db")
	commit := func(b Batch, want bool, what string) {
		t.Helper()
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if got := benchStoreComplete(path); got != want {
			t.Fatalf("%s: benchStoreComplete %v, want %v", what, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	commit(Batch{Events: []event.Event{benchEvent(rng, 0, benchEnd.Add(-time.Hour))}}, false, "half-built (events, no key)")
	commit(Batch{State: map[string][]byte{"bench/complete": []byte("1")}}, true, "complete")

	// a store of schema 13 keeps its state in the state table
	old := filepath.Join(t.TempDir(), "bench-v13.db")
	s, err := openAt(ctx, old, Options{}, 13)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if benchStoreComplete(old) {
		t.Fatal("schema 13, no key: complete")
	}
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO state (key, value, updated_at) VALUES ('bench/complete', X'31', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !benchStoreComplete(old) {
		t.Fatal("schema 13 with the key: not complete")
	}
}
