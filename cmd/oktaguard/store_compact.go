package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// openExistingStore opens the SQLite store at --path, which must exist
// (Open would create an empty one), and reads its file's state.
func openExistingStore(ctx context.Context, name string, args []string, stderr io.Writer) (*store.Store, store.FileStats, error) {
	s, err := openPath(ctx, name, args, stderr)
	if err != nil {
		return nil, store.FileStats{}, err
	}
	fs, err := s.FileStats(ctx)
	if err != nil {
		s.Close()
		return nil, store.FileStats{}, err
	}
	return s, fs, nil
}

func openPath(ctx context.Context, name string, args []string, stderr io.Writer) (*store.Store, error) {
	fs := newFlags(name, stderr)
	path := fs.String("path", "", "the SQLite store file (storage.path of the configuration)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if *path == "" {
		return nil, fmt.Errorf("%w: --path PATH is required", errUsage)
	}
	if _, err := os.Stat(*path); err != nil {
		return nil, fmt.Errorf("store %s: %w", *path, errors.Unwrap(err))
	}
	return store.Open(ctx, *path)
}

// cmdStoreInfo prints the store file's size, free pages and auto-vacuum mode.
func cmdStoreInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, fs, err := openExistingStore(ctx, "store info", args, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "%s: %s file, %s free (reused by later writes), WAL %s, auto-vacuum %s\n",
		fs.Path, mb(fs.FileBytes), mb(fs.FreeBytes), mb(fs.WALBytes), fs.AutoVacuum)
	if fs.AutoVacuum != store.AutoVacuumIncremental {
		fmt.Fprintln(stdout, "this store never gives free pages back to the disk: run oktaguard store compact --path PATH once (see docs/operations.md)")
	}
	return nil
}

// cmdStoreCompact rewrites the store (store.Compact): auto-vacuum
// incremental from then on, free pages given back.
func cmdStoreCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, fs, err := openExistingStore(ctx, "store compact", args, stderr)
	if err != nil {
		return err
	}
	defer s.Close()
	used := fs.FileBytes - fs.FreeBytes
	fmt.Fprintf(stdout, "compacting %s: %s file, %s free, auto-vacuum %s -> %s\n", fs.Path, mb(fs.FileBytes), mb(fs.FreeBytes), fs.AutoVacuum, store.AutoVacuumIncremental)
	fmt.Fprintf(stdout, "this rewrites the whole file: it needs about %s free next to the store (the WAL) and %s in %s (a temporary copy), "+
		"holds the store's writer until it is done, and is safe to interrupt (the store then stays as it was)\n",
		mb(used), mb(used), store.CompactTempDir())
	start := time.Now()
	before, after, err := s.Compact(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "compacted in %s: %s file (was %s), %s free, auto-vacuum %s\n", time.Since(start).Round(time.Millisecond),
		mb(after.FileBytes), mb(before.FileBytes), mb(after.FreeBytes), after.AutoVacuum)
	return nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
