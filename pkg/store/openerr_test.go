package store

import (
	"context"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func wantOpenErr(t *testing.T, path string, is error, parts ...string) {
	t.Helper()
	st, err := Open(context.Background(), path)
	if err == nil {
		st.Close()
		t.Fatalf("opened %s", path)
	}
	if !errors.Is(err, is) {
		t.Fatalf("error %q is not %v", err, is)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
	if strings.Contains(err.Error(), "(14)") && !strings.Contains(err.Error(), "permission") {
		t.Fatalf("bare SQLite code: %q", err)
	}
}

// A zero-length store file is refused, not silently made a fresh store.
func TestOpenRefusesEmptyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "og.db")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantOpenErr(t, p, ErrNotAStore, "the file is empty (0 bytes); refusing to start a fresh backfill over it")
	if fi, _ := os.Stat(p); fi.Size() != 0 {
		t.Fatalf("the empty file was written: %d bytes", fi.Size())
	}
}

func TestOpenRefusesNotAStore(t *testing.T) {
	dir := t.TempDir()
	junk := make([]byte, 8192)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.IntN(256))
	}
	p := filepath.Join(dir, "random.bin")
	os.WriteFile(p, junk, 0o600)
	wantOpenErr(t, p, ErrNotAStore, "not an SQLite database (8192 bytes, no SQLite header)")
	wantOpenErr(t, dir, ErrNotAStore, "it is a directory")
}

// A store with garbled pages opens (the integrity check runs after the
// open, integrity.go), and the check then reports it precisely: the file,
// what quick_check found, what to do. From then on commits are refused
// (nothing more is written over damaged pages); the read-only open of
// export still refuses it outright.
func TestCorruptStoreReported(t *testing.T) {
	p := filepath.Join(t.TempDir(), "og.db")
	st, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, Batch{Events: mkEvents(0, 400, time.Now().Add(-time.Hour), time.Second)})
	st.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 6*8192 {
		t.Fatalf("store too small to garble: %d bytes", len(b))
	}
	// garble pages 4 and 5 (table and index b-tree pages), keep the
	// header, the pointer map of incremental auto-vacuum (page 2) and the
	// first table the open reads (page 3)
	for i := 3 * 8192; i < 5*8192; i++ {
		b[i] ^= 0x5a
	}
	os.WriteFile(p, b, 0o600)
	st, err = Open(context.Background(), p)
	if err != nil {
		// SQLite met a damaged page during the open itself: still named
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "restore a backup") {
			t.Fatalf("error %q", err)
		}
		t.Fatalf("the open read the garbled pages (%v): garble pages the open does not read", err)
	}
	defer st.Close()
	notified := make(chan Integrity, 1)
	st.OnIntegrity(func(in Integrity) { notified <- in })
	var in Integrity
	testwait.Until(t, time.Minute, "the integrity check to finish", func() bool {
		in = st.Integrity()
		return in.State != IntegrityChecking
	})
	if in.State != IntegrityCorrupt || !errors.Is(in.Err, ErrCorrupt) {
		t.Fatalf("integrity %+v, want corrupt", in)
	}
	for _, part := range []string{"store " + p + ": store is corrupt: quick_check found: ", "restore a backup"} {
		if !strings.Contains(in.Err.Error(), part) {
			t.Fatalf("integrity error %q does not contain %q", in.Err, part)
		}
	}
	if got := <-notified; got.State != IntegrityCorrupt {
		t.Fatalf("OnIntegrity got %+v", got)
	}
	_, err = st.Commit(context.Background(), Batch{Events: mkEvents(1000, 1, time.Now(), time.Second)})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) || WriteFailureClass(err) != "corrupt" {
		t.Fatalf("commit to a store found corrupt: %v", err)
	}
	if _, err := OpenReadOnly(context.Background(), p); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read-only open of a garbled store: %v", err)
	}
}

// File system errors are named by cause. The same errors from the kernel,
// for real, are in realfs_test.go (a child as uid 65534, a read-only
// mount, a full tmpfs, RLIMIT_FSIZE).
func TestExplainOSErrors(t *testing.T) {
	cases := []struct {
		err  error
		is   error
		want string
	}{
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, ErrPermission, "permission denied: user"},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, ErrReadOnly, "read-only file system: the store must be writable (use `oktaguard export`"},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, ErrDiskFull, "disk full: free space on the volume"},
	}
	for _, c := range cases {
		err := explainOS("/data/og.db", c.err)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "store /data/og.db: ") {
			t.Errorf("%v -> %q", c.err, err)
		}
	}
}

// OpenReadOnly reads an intact store without writing anything: no
// migration, no journal files, the file unchanged.
func TestOpenReadOnlyWritesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "og.db")
	st, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	mustCommit(t, st, Batch{Events: mkEvents(0, 50, time.Now().Add(-time.Hour), time.Second)})
	st.Close()
	before, _ := os.ReadFile(p)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(p, old, old)
	ro, err := OpenReadOnly(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := ro.Stats(context.Background())
	if err != nil || stats.Events != 50 {
		t.Fatalf("stats %+v %v", stats, err)
	}
	if _, err := ro.Commit(context.Background(), Batch{Events: mkEvents(100, 1, time.Now(), time.Second)}); err == nil {
		t.Fatal("a read-only store accepted a commit")
	}
	ro.Close()
	after, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(before) != string(after) || !fi.ModTime().Equal(old) {
		t.Fatal("OpenReadOnly modified the store file")
	}
	if _, err := OpenReadOnly(context.Background(), filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Fatal("OpenReadOnly created a store")
	}
}
