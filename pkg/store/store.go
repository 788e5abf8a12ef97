// Package store is oktaguard's embedded, durable storage: one SQLite file per
// Okta org / data source (modernc.org/sqlite, pure Go, CGO off).
//
// Writes go through a single writer connection; every pipeline step (a page
// of events, the alerts they raised, the detector state and the checkpoint
// that follows them) commits in ONE transaction (see Commit), so a crash at
// any point either keeps the whole step or none of it. Reads use a separate
// pool of read-only connections and never block the writer (WAL mode).
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

// Defaults of Options.
const (
	DefaultMaxLimit    = 50000
	DefaultBusyTimeout = 10 * time.Second
	DefaultReaders     = 4
	DefaultMaxBuckets  = 20000
	DefaultRetention   = 30 * 24 * time.Hour
)

// ErrInvalidQuery is wrapped by every error caused by bad query parameters
// (a limit out of range, From after To, an unknown group-by, ...).
var ErrInvalidQuery = errors.New("invalid query")

// ErrInvalidBatch is wrapped by Commit errors caused by bad batch content
// (an event without uuid or published time, an alert without id, ...).
var ErrInvalidBatch = errors.New("invalid batch")

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("store: closed")

// Options tunes a Store. The zero value gives the defaults.
type Options struct {
	// Synchronous is the SQLite synchronous level: "NORMAL" (default) or
	// "FULL". In WAL mode NORMAL is safe against process crashes (a
	// committed transaction is in the WAL before Commit returns) but the
	// last transactions may roll back on power loss or an OS crash; that is
	// still consistent here, because events, alerts and the checkpoint roll
	// back together and are simply fetched again. FULL fsyncs the WAL on
	// every commit (slower, survives power loss).
	Synchronous string
	// MaxLimit caps the Limit of every read query (default 50000).
	MaxLimit int
	// MaxBuckets caps the number of time buckets of CountSeries (default 20000).
	MaxBuckets int
	// BusyTimeout is how long a connection waits for a lock (default 10 s).
	BusyTimeout time.Duration
	// Readers is the size of the read connection pool (default 4).
	Readers int
	// WriterCacheMB is the page cache of the writer connection (default 64).
	// Index pages of a large store that stay in cache make inserts cheaper.
	WriterCacheMB int
	// ReaderCacheMB is the page cache of each read connection (default 32).
	ReaderCacheMB int

	// StateInPlace keeps the detector state in the state table updated in
	// place (the layout before schema 14) instead of the state log. For
	// benchmarks that compare the two only: a store must always be opened
	// the same way (each path reads only its own table).
	StateInPlace bool

	pageSize int // new databases only; tests compare sizes (default 8192)
	// noBackground: tests run the raw JSON recompression step by step
	noBackground bool
	// sealLimit: tests stop the sealing of user buckets at open after
	// this many (0: all), to check a store sealed halfway
	sealLimit int
	// integrityGate: tests hold the background integrity check back
	// until they close it (integrity.go)
	integrityGate chan struct{}
	// geoBuildLimit: tests stop the build of geo actor sets at open after
	// that many steps (geo_sets.go), as an interrupted build would
	geoBuildLimit int
	// sealBudget: tests shrink the entries a commit seals (0: sealBudget)
	sealBudget int
	// segPartEntries: tests shrink the entries of a segment's part (0:
	// segPartEntries)
	segPartEntries int
	// vacMinFree and vacStepPages: tests lower the incremental vacuum's
	// thresholds in pages (0: vacuumMinFree bytes, vacuumStepPages)
	vacMinFree, vacStepPages int64
	// autoVacuumNone: tests create a store the way versions before
	// incremental vacuum did
	autoVacuumNone bool
}

func (o *Options) defaults() error {
	switch strings.ToUpper(o.Synchronous) {
	case "":
		o.Synchronous = "NORMAL"
	case "NORMAL", "FULL":
		o.Synchronous = strings.ToUpper(o.Synchronous)
	default:
		return fmt.Errorf("store: synchronous must be NORMAL or FULL, got %q", o.Synchronous)
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = DefaultMaxLimit
	}
	if o.MaxBuckets <= 0 {
		o.MaxBuckets = DefaultMaxBuckets
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.Readers <= 0 {
		o.Readers = DefaultReaders
	}
	if o.WriterCacheMB <= 0 {
		o.WriterCacheMB = 64
	}
	if o.ReaderCacheMB <= 0 {
		o.ReaderCacheMB = 32
	}
	if o.pageSize == 0 {
		o.pageSize = 8192
	}
	return nil
}

// Store is one SQLite database. It is safe for concurrent use.
type Store struct {
	path string
	opts Options
	w    *sql.DB // single writer connection
	r    *sql.DB // read-only pool

	mu       sync.Mutex // serialises Commit and other write transactions
	closed   bool
	prepared map[string]map[int]*sql.Stmt // write statements by template and row count (see stmts.go)
	fence    int64                        // lease token taken by Lead (lease.go); 0 = unfenced
	rawCodec atomic.Pointer[rawCodec]     // raw JSON compression (raw.go)
	raw      rawState
	readOnly bool // OpenReadOnly: w and r are one read-only pool
	userSegs bool // schema has user_segs: Commit seals closed user buckets (user_seal.go)
	// outcomeCounts: schema has the outcome count tables (series_outcome.go)
	outcomeCounts bool
	// levelCounts: schema has the per-minute counts by severity (volume.go)
	levelCounts bool
	// coarseUserSegs: user_segs keeps coarse segments too (user_coarse.go)
	coarseUserSegs bool
	// actorsLog: the actors' changes go to actors_log (actors_log.go);
	// actorsRows is the actors table's row count (-1: count it again),
	// actorsLogMin the fold's minimum (0: actorsLogMin; tests lower it)
	actorsLog    bool
	actorsRows   int64
	actorsLogMin int64
	// entityHours: the actor, IP and session indexes lead with the hour
	// (entity_hours.go); their filters list the hours of their range
	entityHours bool
	// benchmarks only, to time the code before a change side by side on
	// the same store: ftsWholeProbe probes trigrams over the whole text
	// index up to 200 000 (fts.go), userFoldByMap folds user segments with
	// a map look-up per entry (aggregate.go), userFoldAll folds every
	// actor's activity (no UserAgg.KeepTop)
	ftsWholeProbe, userFoldByMap, userFoldAll bool
	// daysFromHours: a day without a segment is read from its hours, and
	// commits write no user_days rows for it (user_days.go)
	daysFromHours bool
	// geoSets: geo rows carry their actor sets, closed days are sealed
	// into geo_days (geo_sets.go). geoIDCache holds committed actor
	// numbers, geoIDPending those of the open write transaction;
	// geoChecked is the day up to which commits sealed the closed days
	// (geoCheckedPending: the open transaction's). geoOld (benchmarks
	// only) answers geo queries as before schema 18.
	geoSets bool
	// geoMins (schema 19): geo_hours rows carry their minutes
	// (geo_mins.go); geoRawEnds (benchmarks only) reads partial hours
	// from raw rows as schema 18 did
	geoMins, geoRawEnds           bool
	geoIDCache, geoIDPending      map[string]uint32
	geoChecked, geoCheckedPending int64
	geoOld                        bool
	// segParts: user segments of more than segPartEntries entries are
	// stored in parts, built a bounded step per commit (user_parts.go)
	segParts bool
	sealWork int // entries the last seal handled (tests)
	// rawBlocks: commits write the raw JSON in blocks (raw_blocks.go);
	// blocksRead finds them (rawBlocksSQL, prepared on the readers)
	rawBlocks  bool
	blocksRead *sql.Stmt

	// incremental: the file's auto_vacuum is INCREMENTAL (vacuum.go);
	// pageSize its page size; vac the writer's vacuum steps
	incremental bool
	pageSize    int64
	vac         vacState

	// stateIdx is the writer's map of the state log (state_log.go), nil
	// until a commit builds it; pendingIdx the one a commit changed,
	// installed once its transaction committed.
	stateIdx, pendingIdx *stateIndex
	// stateSlack and stateMinClean: the cleaner's thresholds
	// (stateLogSlack, stateLogMinClean; tests lower them)
	stateSlack, stateMinClean int64
	stateIns                  map[int]*sql.Stmt // state_log inserts by row count (insertStateRows)
	// stateCleanHook, when set, is called after each slice the state log
	// cleaner deleted (tests fail a commit there).
	stateCleanHook func() error
	// stateKeyHash, when set, replaces the state index's key hash (tests
	// force hash collisions with it; keyIndex.hash).
	stateKeyHash func(string) uint64

	// integ is the integrity check of the file, run after open (integrity.go)
	integ integrity

	// testHook, when set, is called before each event insert of Commit
	// (tests use it to fail a batch midway).
	testHook func(i int) error
}

// Open opens (creating it and its directory when needed) the database at
// path with default Options and migrates it to the current schema.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWithOptions(ctx, path, Options{})
}

// OpenWithOptions is Open with explicit Options.
func OpenWithOptions(ctx context.Context, path string, opts Options) (*Store, error) {
	return openAt(ctx, path, opts, len(migrations))
}

// openAt opens and migrates up to schema version `upTo` (tests use it to
// build an older database).
func openAt(ctx context.Context, path string, opts Options, upTo int) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	existed := statErr == nil
	if err := precheck(path, false); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite", dsn(path, opts, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, explain(path, err)
	}
	// 8 KiB pages (a new database only): raw JSON of ~1.5-3 KB packs with
	// less slack than in 4 KiB pages, and scans read fewer pages. Must be
	// set before WAL mode.
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", opts.pageSize)); err != nil {
		w.Close()
		return nil, explain(path, err)
	}
	// incremental auto-vacuum (a new database only: it must be set before
	// the first table; vacuum.go). An existing file keeps its mode.
	if !opts.autoVacuumNone {
		if _, err := w.ExecContext(ctx, "PRAGMA auto_vacuum = INCREMENTAL"); err != nil {
			w.Close()
			return nil, explain(path, err)
		}
	}
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		w.Close()
		return nil, explain(path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("store: open %s: journal mode is %q, WAL required", path, mode)
	}
	s := &Store{path: path, opts: opts, w: w, stateSlack: stateLogSlack, stateMinClean: stateLogMinClean}
	if err := s.migrate(ctx, upTo); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.readFileMode(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(path, opts, true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open readers %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.Readers)
	r.SetMaxIdleConns(opts.Readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open readers %s: %w", path, err)
	}
	s.r = r
	if err := s.openRaw(ctx, upTo); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	s.outcomeCounts = upTo >= outcomeCountsVersion
	s.levelCounts = upTo >= levelCountsVersion
	s.coarseUserSegs = upTo >= coarseUserSegsVersion
	s.actorsLog, s.actorsRows = upTo >= actorsLogVersion, -1
	s.entityHours = upTo >= entityHoursVersion
	s.daysFromHours = upTo >= daysFromHoursVersion
	s.geoSets = upTo >= geoSetsVersion
	s.geoMins = upTo >= geoMinsVersion
	s.segParts = upTo >= segPartsVersion
	s.rawBlocks = upTo >= rawBlocksVersion
	if s.rawBlocks {
		if s.blocksRead, err = r.PrepareContext(ctx, rawBlocksSQL); err != nil {
			s.stopRecompress()
			w.Close()
			r.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	if upTo >= userSegsVersion {
		s.userSegs = true
		err := s.sealAllUserBuckets(ctx)
		if err == nil && s.daysFromHours && s.opts.sealLimit == 0 {
			err = s.sealAllDaysFromHours(ctx)
		}
		if err != nil {
			s.stopRecompress()
			w.Close()
			r.Close()
			return nil, err
		}
	}
	if s.geoSets {
		if err := s.buildAllGeoSets(ctx); err != nil {
			s.stopRecompress()
			w.Close()
			r.Close()
			return nil, err
		}
	}
	// the integrity check of an existing file runs after the open, in the
	// background (integrity.go)
	s.startIntegrity(existed)
	return s, nil
}

func dsn(path string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	cacheMB := opts.ReaderCacheMB
	if !readOnly {
		cacheMB = opts.WriterCacheMB
	}
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheMB*1024))
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "synchronous("+opts.Synchronous+")")
		// checkpoint the WAL every 16 384 pages (128 MiB of 8 KiB pages) instead of 1 000: fewer rewrites of hot index pages
		q.Add("_pragma", "wal_autocheckpoint(16384)")
		q.Add("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Opaque: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close checkpoints the WAL and closes every connection. It is safe to call twice.
func (s *Store) Close() error {
	s.stopIntegrity()
	s.stopRecompress()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	closeStmts(s.prepared)
	closeStmts(map[string]map[int]*sql.Stmt{"state_log": s.stateIns})
	if s.readOnly {
		return s.r.Close()
	}
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if _, err := s.w.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, fmt.Errorf("store: checkpoint on close: %w", err))
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// SchemaVersion is the migration version of the open database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

// LatestSchemaVersion is the schema version this build migrates to.
func LatestSchemaVersion() int { return len(migrations) }

// Backup writes a consistent copy of the live database to dest (VACUUM
// INTO): safe while the pipeline is writing. dest must not exist.
func (s *Store) Backup(ctx context.Context, dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("store: backup destination %s already exists", dest)
	}
	if dir := filepath.Dir(dest); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("store: backup directory %s: %w", dir, err)
		}
	}
	// a read connection (the writer keeps going) with query_only lifted
	// for the duration: VACUUM INTO writes only the destination file.
	conn, err := s.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	_, err = conn.ExecContext(ctx, "VACUUM INTO ?", dest)
	if _, rerr := conn.ExecContext(context.Background(), "PRAGMA query_only = 1"); rerr != nil {
		// never hand a writable connection back to the read pool
		conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // marks the connection bad
	}
	if err != nil {
		return fmt.Errorf("store: backup to %s: %w", dest, err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
