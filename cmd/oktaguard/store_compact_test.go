package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// oldModeStore makes a store as versions before incremental auto-vacuum
// did (auto_vacuum NONE, fixed by a first table), with 6 000 events of
// which 4 000 are then pruned: the file keeps their pages free.
func oldModeStore(t *testing.T) (string, int64, store.FileStats) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA page_size = 8192", "PRAGMA auto_vacuum = NONE", "CREATE TABLE seed (x)", "DROP TABLE seed"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now().UTC().Add(-72 * time.Hour)
	evs := storetest.Events("c", 0, 6000, t0, 30*time.Second)
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i : i+1000]}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Prune(ctx, evs[4000].Published); err != nil || n != 4000 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	fs, err := s.FileStats(ctx)
	if err != nil || fs.AutoVacuum != store.AutoVacuumNone || fs.FreeBytes*2 < fs.FileBytes {
		t.Fatalf("the old-mode store: %+v (%v)", fs, err)
	}
	return path, 2000, fs
}

func storeEvents(t *testing.T, path string) (int64, store.FileStats) {
	t.Helper()
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fs, err := s.FileStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Events, fs
}

// store compact converts an old-mode store to incremental auto-vacuum,
// gives its free pages back and keeps every event; store info reports
// the mode before and after.
func TestStoreCompactConverts(t *testing.T) {
	ctx := context.Background()
	path, events, _ := oldModeStore(t)
	_, before := storeEvents(t, path) // checkpointed by the Close before
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"store", "info", "--path", path}, nil, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "auto-vacuum none") || !strings.Contains(out.String(), "oktaguard store compact") {
		t.Fatalf("store info: exit %d, %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(ctx, []string{"store", "compact", "--path", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("store compact: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"auto-vacuum none -> incremental", "safe to interrupt", "holds the store's writer", "compacted in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("store compact's output lacks %q:\n%s", want, out.String())
		}
	}
	n, fs := storeEvents(t, path)
	// the file: the pages in use before, and pointer-map pages (1 in 1 638)
	if n != events || fs.AutoVacuum != store.AutoVacuumIncremental || fs.FreeBytes != 0 ||
		fs.FileBytes*100 > (before.FileBytes-before.FreeBytes)*101 {
		t.Fatalf("after compact: %d events (want %d), %+v; before %+v", n, events, fs, before)
	}
	out.Reset()
	if code := run(ctx, []string{"store", "info", "--path", path}, nil, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "auto-vacuum incremental") || strings.Contains(out.String(), "never gives") {
		t.Fatalf("store info after compact: exit %d, %q", code, out.String())
	}
}

// store compact refuses while another instance leads the org on the file
// (the store is left as it was), and refuses a path that does not exist
// without creating it.
func TestStoreCompactRefuses(t *testing.T) {
	ctx := context.Background()
	path, events, _ := oldModeStore(t)
	other, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	host, _ := os.Hostname()
	holder := fmt.Sprintf("%s/%d/serve", host, os.Getpid())
	if _, err := other.Lead(ctx, holder, time.Minute); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"store", "compact", "--path", path}, nil, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "leads the org") || !strings.Contains(errb.String(), "stop it first") {
		t.Fatalf("compact beside a live lease: exit %d, %q", code, errb.String())
	}
	if err := other.Resign(ctx, holder); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if n, fs := storeEvents(t, path); n != events || fs.AutoVacuum != store.AutoVacuumNone {
		t.Fatalf("the refused compact changed the store: %d events, %+v", n, fs)
	}
	missing := filepath.Join(t.TempDir(), "none.db")
	errb.Reset()
	if code := run(ctx, []string{"store", "compact", "--path", missing}, nil, &out, &errb); code != 1 {
		t.Fatalf("compact of a missing store: exit %d, %q", code, errb.String())
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("compact of a missing store created it (%v)", err)
	}
	if code := run(ctx, []string{"store", "compact"}, nil, &out, &errb); code != 2 {
		t.Fatalf("compact without --path: exit %d", code)
	}
}
