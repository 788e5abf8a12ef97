package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite"
)

// Errors of opening a store, matched with errors.Is. Every open error says
// which of them applies and what to do, never a bare SQLite code.
var (
	ErrPermission = errors.New("permission denied")
	ErrReadOnly   = errors.New("read-only file system")
	ErrDiskFull   = errors.New("disk full")
	ErrCorrupt    = errors.New("store is corrupt")
	ErrNotAStore  = errors.New("not an oktaguard store")
)

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// precheck looks at path before SQLite does, so that a refusal names the
// cause: an empty file (which SQLite would silently turn into a fresh
// store, restarting the backfill), a file that is not an SQLite database,
// or one this process may not read or write.
func precheck(path string, readOnly bool) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		if readOnly {
			return fmt.Errorf("store %s: %w", path, err)
		}
		return dirWritable(filepath.Dir(path))
	}
	if err != nil {
		return explainOS(path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("store %s: %w: it is a directory (storage.path names the database file)", path, ErrNotAStore)
	}
	if fi.Size() == 0 {
		return fmt.Errorf("store %s: %w: the file is empty (0 bytes); refusing to start a fresh backfill over it — restore a backup, or delete the file to start anew", path, ErrNotAStore)
	}
	f, err := os.Open(path) // #nosec G304 -- storage.path from the operator's config
	if err != nil {
		return explainOS(path, err)
	}
	head := make([]byte, len(sqliteHeader))
	_, rerr := io.ReadFull(f, head)
	f.Close()
	if rerr != nil || !bytes.Equal(head, sqliteHeader) {
		return fmt.Errorf("store %s: %w: the file is not an SQLite database (%d bytes, no SQLite header); check storage.path", path, ErrNotAStore, fi.Size())
	}
	if readOnly {
		return nil
	}
	w, err := os.OpenFile(path, os.O_RDWR, 0) // #nosec G304 -- storage.path from the operator's config
	if err != nil {
		return explainOS(path, err)
	}
	w.Close()
	return dirWritable(filepath.Dir(path))
}

// dirWritable checks that SQLite can create its journal files in dir.
func dirWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) {
			return explainOS(dir, err)
		}
		return fmt.Errorf("store: create directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".oktaguard-write-check-*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("store %s: %w: user %d cannot create files in this directory, and SQLite keeps its -wal and -shm files beside the store (check the owner and mode of the directory)", dir, ErrPermission, os.Getuid())
		}
		return explainOS(dir, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// explainOS names the cause of a file system error on path.
func explainOS(path string, err error) error {
	switch {
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("store %s: %w: the store must be writable (use `oktaguard export` to read a store on read-only media)", path, ErrReadOnly)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("store %s: %w: user %d cannot read and write it (check the owner and mode of the file and its directory)", path, ErrPermission, os.Getuid())
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("store %s: %w: free space on the volume", path, ErrDiskFull)
	}
	return fmt.Errorf("store %s: %w", path, err)
}

// explain turns an SQLite error on path into one that names its cause.
func explain(path string, err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("store %s: %w", path, err)
	}
	switch se.Code() & 0xff {
	case 3: // SQLITE_PERM
		return fmt.Errorf("store %s: %w (%v)", path, ErrPermission, err)
	case 8: // SQLITE_READONLY
		return fmt.Errorf("store %s: %w: SQLite cannot write the file or its -wal/-shm files (%v)", path, ErrReadOnly, err)
	case 13: // SQLITE_FULL
		return fmt.Errorf("store %s: %w: free space on the volume; nothing was lost, the last page is fetched again (%v)", path, ErrDiskFull, err)
	case 11: // SQLITE_CORRUPT
		return fmt.Errorf("store %s: %w (%v): restore a backup, or move the file away to start a fresh backfill", path, ErrCorrupt, err)
	case 26: // SQLITE_NOTADB
		return fmt.Errorf("store %s: %w: the file is not an SQLite database (%v)", path, ErrNotAStore, err)
	case 14: // SQLITE_CANTOPEN
		if perr := precheck(path, false); perr != nil {
			return perr
		}
		return fmt.Errorf("store %s: cannot open the database file (%v)", path, err)
	}
	return fmt.Errorf("store %s: %w", path, err)
}

// lowSpace is the free space under which an I/O error while writing is
// put down to a full volume.
const lowSpace = 1 << 20

// rolledBack is what a failed write means for what was accepted.
const rolledBack = "the transaction was rolled back: nothing of it was written, and everything committed before is intact"

// explainWrite names the cause of an error writing the store at path (a
// commit, a prune, a posture report): disk full (or a file size limit),
// read-only, corrupt, or an I/O error — never a bare SQLite code. Other
// errors (the context's, a fenced lease) are returned as they are.
func (s *Store) explainWrite(err error) error {
	var se *sqlite.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	path := s.path
	switch se.Code() & 0xff {
	case 13: // SQLITE_FULL: the write got ENOSPC (or EDQUOT)
		return fmt.Errorf("store %s: %w: the volume has no space left for the store: free space; %s (%w)", path, ErrDiskFull, rolledBack, err)
	case 10: // SQLITE_IOERR: errno not passed on; ask what limits the write
		if why := writeLimit(filepath.Dir(path)); why != "" {
			return fmt.Errorf("store %s: %w: %s; %s (%w)", path, ErrDiskFull, why, rolledBack, err)
		}
		return fmt.Errorf("store %s: I/O error writing the store: check the volume and the kernel log (dmesg); %s (%w)", path, rolledBack, err)
	case 8: // SQLITE_READONLY
		return fmt.Errorf("store %s: %w: SQLite can no longer write the file or its -wal/-shm files (remounted read-only, or its mode or owner changed); %s (%w)", path, ErrReadOnly, rolledBack, err)
	case 3, 23: // SQLITE_PERM, SQLITE_AUTH
		return fmt.Errorf("store %s: %w: %s (%w)", path, ErrPermission, rolledBack, err)
	case 11, 26: // SQLITE_CORRUPT, SQLITE_NOTADB
		return fmt.Errorf("store %s: %w: restore a backup, or move the file away to start a fresh backfill (%w)", path, ErrCorrupt, err)
	}
	return err
}

// quickCheck runs PRAGMA quick_check on an existing store and refuses a
// corrupt one.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(5)")
	if err != nil {
		return explain(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return explain(path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return explain(path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store %s: %w: quick_check found: %s; restore a backup, or move the file away to start a fresh backfill", path, ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// OpenReadOnly opens an existing store for reading only (export): nothing
// is created, migrated or written, so an intact store on read-only media
// (or one this user may only read) can be read. The store is checked
// (quick_check) first. Write methods fail.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	opts := Options{}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := precheck(path, true); err != nil {
		return nil, err
	}
	open := func(immutable bool) (*sql.DB, error) {
		d := dsn(path, opts, true) + "&mode=ro"
		if immutable {
			// read-only media: SQLite cannot create the -shm file a WAL
			// database needs; nothing can be writing it either
			d += "&immutable=1"
		}
		db, err := sql.Open("sqlite", d)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(opts.Readers)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, err
		}
		if _, err := db.ExecContext(ctx, "SELECT COUNT(*) FROM sqlite_master"); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	db, err := open(false)
	if err != nil {
		db, err = open(true)
	}
	if err != nil {
		return nil, explain(path, err)
	}
	if err := quickCheck(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{path: path, opts: opts, w: db, r: db, readOnly: true, userSegs: true,
		outcomeCounts: true, levelCounts: true, coarseUserSegs: true, actorsLog: true, entityHours: true, daysFromHours: true, geoSets: true, geoMins: true, rawBlocks: true}
	s.integ.cur = Integrity{Path: path, State: IntegrityOK, Finished: time.Now()}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w: it has no oktaguard schema (%v)", path, ErrNotAStore, err)
	}
	if v != LatestSchemaVersion() {
		db.Close()
		return nil, fmt.Errorf("store %s: schema version %d, this build reads %d: open it once with `oktaguard serve` (which migrates it) before exporting", path, v, LatestSchemaVersion())
	}
	if err := s.loadRawCodec(ctx); err != nil {
		db.Close()
		return nil, explain(path, err)
	}
	if s.blocksRead, err = db.PrepareContext(ctx, rawBlocksSQL); err != nil {
		db.Close()
		return nil, explain(path, err)
	}
	return s, nil
}
