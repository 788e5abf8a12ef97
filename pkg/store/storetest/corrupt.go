package storetest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// CorruptSQLite writes a SQLite store of 400 events at path and garbles
// its pages 3 and 4 (table and index b-tree pages, which an open does not
// read), keeping the header: a store damaged the way a bad disk or a
// copy taken mid-write damages one. Its integrity check finds it.
func CorruptSQLite(t testing.TB, path string) {
	t.Helper()
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), store.Batch{Events: Events("c", 0, 400, time.Now().Add(-time.Hour), time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path) // #nosec G304 -- test helper: a store file the test made in its temporary folder
	if err != nil {
		t.Fatal(err)
	}
	const page = 8192
	if len(b) < 6*page {
		t.Fatalf("store too small to garble: %d bytes", len(b))
	}
	// pages 4 and 5 (table and index b-tree pages), keep the header, the
	// pointer map of incremental auto-vacuum (page 2) and the first
	// table the open reads (page 3)
	for i := 3 * page; i < 5*page; i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil { // #nosec G703 -- test helper: a store file the test made in its temporary folder
		t.Fatal(err)
	}
}
