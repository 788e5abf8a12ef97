package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The file gives its free pages back to the disk. A new store is created
// with auto_vacuum = INCREMENTAL (store.go's open: it must be set before
// the first table exists), which keeps a pointer map of every page's
// parent so that pages at the end of the file can be moved into free
// slots and the file cut short (PRAGMA incremental_vacuum). The writer
// runs one bounded step after a committed write when the free list is
// large (vacuumDue), and Prune and the end of the raw JSON recompression
// run steps until it is small again. Free pages below the thresholds are
// left alone: the next seals and merges reuse them anyway, and moving
// them would only cost writes. In WAL mode the moved pages go to the WAL
// first; the file is cut at the checkpoint that copies them back
// (automatic every wal_autocheckpoint pages, at Close, and after a
// drain). A store created before (auto_vacuum NONE) keeps its mode until
// Compact rewrites it (`oktaguard store compact`): never at open, since a
// full VACUUM rewrites the whole file and holds the writer meanwhile.
const (
	// vacuumStepPages is the most pages one step frees (2 MiB at 8 KiB
	// pages): the writer is held for one step at a time.
	vacuumStepPages = 256
	// vacuumMinFree: a free list under this many bytes is left alone.
	vacuumMinFree = 8 << 20
	// vacuumStartPct: a step is due once the free list is more than this
	// share of the file (and more than vacuumMinFree) ...
	vacuumStartPct = 4
	// vacuumKeepPct: ... and steps go on until it is at most this share.
	vacuumKeepPct = 1
	// vacuumBackoff is how many write transactions pass without a step
	// after a step failed.
	vacuumBackoff = 100
)

// Auto-vacuum modes (FileStats.AutoVacuum), as SQLite names them.
const (
	AutoVacuumNone        = "none"
	AutoVacuumFull        = "full"
	AutoVacuumIncremental = "incremental"
)

// AutoVacuumModes are the values of FileStats.AutoVacuum (the mode label
// of oktaguard_store_auto_vacuum).
var AutoVacuumModes = []string{AutoVacuumNone, AutoVacuumFull, AutoVacuumIncremental}

// FileStatser is a backend with a file of its own (SQLite).
type FileStatser interface {
	FileStats(ctx context.Context) (FileStats, error)
}

// vacState is the writer's incremental vacuum (Store.mu held).
type vacState struct {
	draining bool  // past the start threshold, not yet down to the keep one
	skip     int   // write transactions to pass without a step (after an error)
	err      error // the last step's error (nil after a step that worked)
	steps    int64 // steps run since open
	freed    int64 // pages they freed
}

// FileStats is the state of the store's file on disk.
type FileStats struct {
	Path string
	// Bytes is the database's size (its pages, free ones included) as of
	// its last commit: FileBytes once the WAL is checkpointed.
	Bytes     int64
	FileBytes int64 // the database file now (os.Stat)
	WALBytes  int64 // its write-ahead log (0 when absent)
	PageSize  int64
	// FreeBytes are the free list's pages: part of FileBytes, reused by
	// later writes, given back to the disk by incremental vacuum steps
	// (AutoVacuum incremental) or Compact.
	FreeBytes int64
	// AutoVacuum is "incremental" (stores created since the change),
	// "none" (older stores: the file never shrinks until Compact) or
	// "full".
	AutoVacuum string
	// VacuumSteps and VacuumFreedBytes count this handle's incremental
	// vacuum steps and what they freed; VacuumErr is the last step's
	// error, nil once a step worked again.
	VacuumSteps      int64
	VacuumFreedBytes int64
	VacuumErr        error
}

// FileStats reads the size of the file, its free list and its
// auto-vacuum mode.
func (s *Store) FileStats(ctx context.Context) (FileStats, error) {
	fs := FileStats{Path: s.path}
	var mode int
	if err := s.r.QueryRowContext(ctx, "SELECT * FROM pragma_freelist_count(), pragma_page_count(), pragma_page_size(), pragma_auto_vacuum()").
		Scan(&fs.FreeBytes, &fs.Bytes, &fs.PageSize, &mode); err != nil {
		return FileStats{}, fmt.Errorf("store: file stats: %w", err)
	}
	fs.FreeBytes *= fs.PageSize
	fs.Bytes *= fs.PageSize
	fs.AutoVacuum = autoVacuumName(mode)
	fi, err := os.Stat(s.path)
	if err != nil {
		return FileStats{}, fmt.Errorf("store: file stats: %w", err)
	}
	fs.FileBytes = fi.Size()
	if fi, err := os.Stat(s.path + "-wal"); err == nil {
		fs.WALBytes = fi.Size()
	}
	s.mu.Lock()
	fs.VacuumSteps, fs.VacuumFreedBytes, fs.VacuumErr = s.vac.steps, s.vac.freed*fs.PageSize, s.vac.err
	s.mu.Unlock()
	return fs, nil
}

func autoVacuumName(mode int) string {
	switch mode {
	case 0:
		return AutoVacuumNone
	case 1:
		return AutoVacuumFull
	case 2:
		return AutoVacuumIncremental
	}
	return fmt.Sprintf("unknown-%d", mode)
}

// vacuumLimits are the thresholds in pages (tests lower them through
// Options.vacMinFree and Options.vacStepPages).
func (s *Store) vacuumLimits() (minFree, step int64) {
	minFree, step = vacuumMinFree/max(s.pageSize, 512), vacuumStepPages
	if s.opts.vacMinFree > 0 {
		minFree = s.opts.vacMinFree
	}
	if s.opts.vacStepPages > 0 {
		step = s.opts.vacStepPages
	}
	return minFree, step
}

// vacuumDue is how many pages the next step frees (0: none) given the
// free list and the file's pages; it starts and stops draining.
func (s *Store) vacuumDue(free, pages int64) int64 {
	minFree, step := s.vacuumLimits()
	keep := pages * vacuumKeepPct / 100
	if !s.vac.draining && free > minFree && free*100 > pages*vacuumStartPct {
		s.vac.draining = true
	}
	if !s.vac.draining || free <= keep {
		s.vac.draining = false
		return 0
	}
	return min(step, free-keep)
}

// vacuumStep runs one bounded incremental vacuum step when due, after a
// write transaction committed (Store.mu held). Its failure fails nothing
// the caller did: it is kept for FileStats and the steps pause a while.
func (s *Store) vacuumStep(ctx context.Context) {
	if s.vac.skip > 0 {
		s.vac.skip--
		return
	}
	if _, _, err := s.vacuumOnce(ctx); err != nil && ctx.Err() == nil {
		s.vac.err, s.vac.skip = err, vacuumBackoff
	}
}

// vacuumOnce runs a step if due (Store.mu held): it returns the pages it
// freed and whether more are due.
func (s *Store) vacuumOnce(ctx context.Context) (freed int64, more bool, err error) {
	if !s.incremental || s.readOnly {
		return 0, false, nil
	}
	free, pages, err := s.freePages(ctx)
	if err != nil {
		return 0, false, err
	}
	n := s.vacuumDue(free, pages)
	if n == 0 {
		return 0, false, nil
	}
	// the pragma returns a row per page it frees: read them all, or the
	// statement stops after the first
	rows, err := s.w.QueryContext(ctx, fmt.Sprintf("PRAGMA incremental_vacuum(%d)", n))
	if err != nil {
		return 0, false, fmt.Errorf("store: incremental vacuum: %w", err)
	}
	for rows.Next() {
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, false, fmt.Errorf("store: incremental vacuum: %w", err)
	}
	after, pages, err := s.freePages(ctx)
	if err != nil {
		return 0, false, err
	}
	freed = free - after
	s.vac.steps++
	s.vac.freed += freed
	s.vac.err = nil
	return freed, s.vacuumDue(after, pages) > 0, nil
}

func (s *Store) freePages(ctx context.Context) (free, pages int64, err error) {
	if err := s.w.QueryRowContext(ctx, "SELECT * FROM pragma_freelist_count(), pragma_page_count()").Scan(&free, &pages); err != nil {
		return 0, 0, fmt.Errorf("store: free pages: %w", err)
	}
	return free, pages, nil
}

// reclaim runs steps until none is due, taking the writer for one step at
// a time, then checkpoints the WAL so that the file is cut now (a passive
// checkpoint: it waits for no reader). It stops at ctx's end; the commits
// that follow go on draining.
func (s *Store) reclaim(ctx context.Context) error {
	stepped := false
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		freed, more, err := s.vacuumOnce(ctx)
		if err != nil {
			s.vac.err = err
		}
		stepped = stepped || freed > 0
		if err != nil || !more || !stepped {
			if err == nil && stepped {
				_, err = s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			}
			s.mu.Unlock()
			if err != nil {
				return fmt.Errorf("store: reclaim free pages: %w", err)
			}
			return nil
		}
		s.mu.Unlock()
	}
}

// ErrStoreInUse is wrapped by Compact's error while another process leads
// the org on the file or has it open.
var ErrStoreInUse = errors.New("store: in use by another process")

// Compact rewrites the whole file (VACUUM) with auto_vacuum INCREMENTAL:
// an older store (auto_vacuum NONE) gives its free pages back and from
// then on shrinks by itself; a newer one is just compacted. It holds the
// writer for the whole rewrite (minutes for a store of several GB), needs
// free disk of about the store's used size twice (a temporary copy in
// CompactTempDir, and the WAL next to the store that the rewrite goes
// through before the checkpoint copies it back; it refuses with
// ErrCompactSpace when a volume has less), and is
// atomic: stopped at any point (ctx, a kill, a full disk), the store stays
// as it was. It waits for the integrity check of the open first and
// refuses a damaged file. It refuses while another instance holds a live lease on the
// file or, on Linux, another process has it open (ErrStoreInUse): stop
// `oktaguard serve` first. The Grafana plugin's reads are not refused by
// the file but waited for by nothing: stop it too, or its queries wait.
func (s *Store) Compact(ctx context.Context) (before, after FileStats, err error) {
	if s.readOnly {
		return FileStats{}, FileStats{}, fmt.Errorf("store: compact: %s is open read-only", s.path)
	}
	// a damaged file is not rewritten: the check's result first
	in, err := s.WaitIntegrity(ctx)
	if err != nil {
		return FileStats{}, FileStats{}, fmt.Errorf("store: compact: waiting for the integrity check: %w", err)
	}
	if in.State == IntegrityCorrupt {
		return FileStats{}, FileStats{}, fmt.Errorf("store: compact refused: %w", in.Err)
	}
	if before, err = s.FileStats(ctx); err != nil {
		return before, FileStats{}, err
	}
	if err := s.compact(ctx); err != nil {
		return before, FileStats{}, err
	}
	after, err = s.FileStats(ctx)
	return before, after, err
}

func (s *Store) compact(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	l, ok, err := readLease(ctx, s.w)
	if err != nil && !strings.Contains(err.Error(), "no such table") {
		return fmt.Errorf("store: compact: %w", err)
	}
	if ok && l.Holder != "" && time.Now().Before(l.Expires) && !holderDead(l.Holder) {
		return fmt.Errorf("%w: %q leads the org on %s until %s: stop it first", ErrStoreInUse, l.Holder, s.path, l.Expires.Format(time.RFC3339))
	}
	if pid := openElsewhere(s.path); pid != 0 {
		return fmt.Errorf("%w: process %d has %s open: stop it first", ErrStoreInUse, pid, s.path)
	}
	if err := s.compactSpace(ctx); err != nil {
		return err
	}
	// the rewrite's temporary copy goes to a file, not to memory
	// (temp_store is MEMORY for queries' sorts)
	steps := []string{"PRAGMA temp_store = FILE", "PRAGMA auto_vacuum = INCREMENTAL", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"}
	for _, q := range steps {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			_, _ = s.w.ExecContext(context.Background(), "PRAGMA temp_store = MEMORY")
			return fmt.Errorf("store: compact %s: %s: %w", s.path, q, s.explainWrite(err))
		}
	}
	if _, err := s.w.ExecContext(ctx, "PRAGMA temp_store = MEMORY"); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	s.incremental, s.vac = true, vacState{}
	return s.readFileMode(ctx)
}

// readFileMode reads the auto-vacuum mode and page size of the open file.
func (s *Store) readFileMode(ctx context.Context) error {
	var mode int
	if err := s.w.QueryRowContext(ctx, "SELECT * FROM pragma_auto_vacuum(), pragma_page_size()").Scan(&mode, &s.pageSize); err != nil {
		return fmt.Errorf("store: auto-vacuum mode: %w", err)
	}
	s.incremental = mode == 2
	return nil
}

// ErrCompactSpace is wrapped by Compact's error when a volume it writes on
// has less free space than the rewrite needs.
var ErrCompactSpace = errors.New("store: not enough free disk to compact")

// CompactTempDir is where SQLite puts the rewrite's temporary copy, as its
// unix VFS chooses it: $SQLITE_TMPDIR, $TMPDIR, else /var/tmp.
func CompactTempDir() string {
	for _, e := range []string{"SQLITE_TMPDIR", "TMPDIR"} {
		if d := os.Getenv(e); d != "" {
			return d
		}
	}
	return "/var/tmp"
}

// compactSpace refuses the rewrite when the store's volume (the WAL the
// rewrite goes through) or the temporary directory (the copy) has less
// free space than the pages in use, twice that when they are one volume
// (Store.mu held).
func (s *Store) compactSpace(ctx context.Context) error {
	free, pages, err := s.freePages(ctx)
	if err != nil {
		return err
	}
	need := uint64((pages - free) * s.pageSize) // #nosec G115 -- page counts and the page size are positive (free <= pages)
	dir, tmp := filepath.Dir(s.path), CompactTempDir()
	check := func(d string, n uint64, what string) error {
		if have, ok := diskFree(d); ok && have < n {
			return fmt.Errorf("%w: %s needs about %d MB free on the volume of %s for %s, it has %d MB (free space, or set SQLITE_TMPDIR to a directory on a larger volume)",
				ErrCompactSpace, s.path, n>>20, d, what, have>>20)
		}
		return nil
	}
	if sameVolume(dir, tmp) {
		return check(dir, 2*need, "the temporary copy and the WAL")
	}
	if err := check(dir, need, "the WAL"); err != nil {
		return err
	}
	return check(tmp, need, "the temporary copy")
}
