// Package postgres is the shared store backend: one PostgreSQL database
// for many orgs and many oktaguard instances (Grafana in HA, exporters),
// through github.com/jackc/pgx/v5. It implements store.Backend; the
// contract suite (pkg/store/storetest) runs against it as against SQLite.
//
// Every row is keyed by org (orgs.id, from the normalized org URL) and a
// handle only ever reads and writes its own org. Events are partitioned
// by day (native declarative partitioning); retention drops whole
// partitions. One instance per org leads (a lease row with a fencing
// token, checked inside every page commit); see lease.go.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// Config opens a PostgreSQL store.
type Config struct {
	// DSN is a libpq connection string or URL (postgres://user@host:5432/db?sslmode=...).
	DSN string
	// Password, when set, replaces the DSN's (the CLI reads it from an
	// environment variable or a file, the plugin from secureJsonData), so
	// the DSN itself can be shown and logged.
	Password string
	// Org is the normalized org URL this handle is bound to.
	Org string
	// MaxConns is the pool size (default 8).
	MaxConns int32
	// MaxLimit caps every read query's Limit (default store.DefaultMaxLimit).
	MaxLimit int
	// MaxBuckets caps the buckets of CountSeries (default store.DefaultMaxBuckets).
	MaxBuckets int
	// ConnectTimeout bounds each connection attempt (default 10 s).
	ConnectTimeout time.Duration

	// tracer, when set (the package's own benchmarks), times every
	// statement of the pool's connections.
	tracer pgx.QueryTracer
	// rollupsOnConflict: Commit folds a page into the roll-ups with the
	// plain INSERT ... ON CONFLICT DO UPDATE (benchmarks compare it with
	// the update-first statements, rollup_sql.go).
	rollupsOnConflict bool
	// geoNoBuild: Lead does not start the geo sets' build (tests step it).
	geoNoBuild bool
	// buildRetryMin and buildRetryMax bound the background builds' retry
	// backoff (defaults 1 s and 1 min, builds.go); buildHook, when set,
	// runs before every build step and fails it with its error (tests).
	buildRetryMin, buildRetryMax time.Duration
	buildHook                    func(ctx context.Context) error
	// rawNoDict: Commit compresses the raw JSON without a dictionary, as
	// schema 6 did (benchmarks compare the two formats, BenchmarkRawFormat).
	rawNoDict bool
	// sealBudget: tests shrink the entries a commit seals and a part
	// holds (0: user_parts.go's).
	sealBudget int
}

// Store is one org's handle on a PostgreSQL database. Safe for concurrent use.
type Store struct {
	cfg  Config
	pool *pgxpool.Pool
	org  int32
	desc string

	mu     sync.Mutex // serialises the writes of this handle (one page at a time)
	closed bool
	fence  int64 // lease token taken by Lead; 0 = unfenced

	partMu sync.Mutex
	parts  map[int64]bool // day starts (unix ms) whose partition exists

	raw rawState // raw JSON compression (raw.go)

	userSegs  bool // schema has user_segs: Commit seals closed user buckets (user_segs.go)
	userParts bool // schema has user_seg_parts: the seal is bounded per commit (user_parts.go)
	// sealWork is the entries the last commit's seal read (tests; Store.mu)
	sealWork int

	outcomeCounts bool // schema has the outcome count tables (series_outcome.go)
	levelCounts   bool // schema has event_levels, the per-minute counts by severity (volume.go)

	cpSeq seqState // the checkpoint's commit sequence this handle expects (checkpoint_seq.go)

	geoSets  bool     // schema has the geo actor sets (geo_sets.go)
	geo      geoState // the actor numbers' cache
	geoBuild *bgBuild // the sets' background build (builds.go); nil below schema 8

	textMu  sync.Mutex
	textSmp *textSample // free text's statistics sample (text.go), read at textAt
	textAt  time.Time
}

var _ store.Backend = (*Store)(nil)

// Open connects, migrates the schema (under an advisory lock, so several
// instances may start at once) and binds the handle to cfg.Org. Its errors
// name what is wrong — a bad DSN, a refused connection, a missing
// database, failed authentication, a missing permission — and never
// contain the password.
func Open(ctx context.Context, cfg Config) (*Store, error) { return openAt(ctx, cfg, len(migrations)) }

// openAt is Open migrating to schema version (tests build older schemas).
func openAt(ctx context.Context, cfg Config, version int) (*Store, error) {
	if strings.TrimSpace(cfg.Org) == "" {
		return nil, errors.New("postgres store: no org to bind to")
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	if cfg.MaxLimit <= 0 {
		cfg.MaxLimit = store.DefaultMaxLimit
	}
	if cfg.MaxBuckets <= 0 {
		cfg.MaxBuckets = store.DefaultMaxBuckets
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w: not a PostgreSQL connection string or URL (%s)", ErrBadDSN, dsnProblem(cfg.DSN, err))
	}
	if cfg.Password != "" {
		pc.ConnConfig.Password = cfg.Password
	}
	pc.MaxConns = cfg.MaxConns
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "oktaguard"
	// Plan every statement with its values. pgx caches prepared statements,
	// and after five runs PostgreSQL may switch one to a generic plan that
	// cannot see the values: the failures panel then walked the event-type
	// index and filtered the outcome on ~60 000 rows instead of reading
	// the (org, outcome, published) index (EXPLAIN on the 1 M schema). A
	// DSN that sets plan_cache_mode itself wins. A DSN that chooses
	// another default_query_exec_mode (simple_protocol behind PgBouncer in
	// transaction pooling, which refuses unknown startup parameters)
	// prepares no statement to be reused, so every plan sees its values.
	if _, ok := pc.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok && pc.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if cfg.tracer != nil {
		pc.ConnConfig.Tracer = cfg.tracer
	}
	desc := describe(pc.ConnConfig)
	secret := pc.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, explain(desc, secret, err)
	}
	s := &Store{cfg: cfg, pool: pool, desc: desc, parts: map[int64]bool{}}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, explain(desc, secret, err)
	}
	if err := s.migrate(ctx, version); err != nil {
		pool.Close()
		return nil, explain(desc, secret, err)
	}
	if err := s.bindOrg(ctx); err != nil {
		pool.Close()
		return nil, explain(desc, secret, err)
	}
	// the closed user buckets left as rows (a move cut by a restart, a
	// store migrated to schema 6) are sealed by the leader's commits,
	// under its lease (user_segs.go), never at open
	s.userSegs, s.userParts = version >= userSegsVersion, version >= userPartsVersion
	if err := s.openRaw(ctx, version); err != nil {
		pool.Close()
		return nil, explain(desc, secret, err)
	}
	s.outcomeCounts = version >= outcomeCountsVersion
	s.levelCounts = version >= levelCountsVersion
	s.cpSeq.enabled = version >= checkpointSeqVersion
	if version >= geoSetsVersion {
		s.geoSets = true
		var ub unbuilt
		if err := pool.QueryRow(ctx, "SELECT geo_unbuilt_lo, geo_unbuilt_hi FROM orgs WHERE id = $1", s.org).Scan(&ub.lo, &ub.hi); err != nil {
			pool.Close()
			return nil, explain(desc, secret, fmt.Errorf("geo sets: %w", err))
		}
		// started by Lead: only the org's leader builds
		s.geoBuild = newBuild("geo_sets", "hours", ub.hours(), s.buildGeoStep, s.buildErr, cfg.buildRetryMin, cfg.buildRetryMax)
	}
	return s, nil
}

// stageDDL is the per-connection staging table that COPY fills before
// the deduplicating insert into events, created by the first commit that
// needs it on a connection (commit.go), not when a connection opens: an
// instance that only reads (a follower, a read-only role) creates nothing.
const stageDDL = `CREATE TEMP TABLE IF NOT EXISTS stage_events (
	seq int, published bigint, uuid text, event_type text, actor text, actor_id text, actor_type text, actor_name text,
	outcome text, reason text, ip text, country text, city text, lat double precision, lon double precision,
	session_id text, severity text, display_message text, target text, risk_level text, ip_categories smallint, raw bytea
) ON COMMIT DELETE ROWS`

func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres %s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Describe names the database without the password.
func (s *Store) Describe() string { return s.desc }

// OrgID is the org's numeric key in this database.
func (s *Store) OrgID() int32 { return s.org }

// Close closes the pool. Safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.geoBuild != nil {
		s.geoBuild.close()
	}
	s.pool.Close()
	s.closeRaw()
	return nil
}

// bindOrg reads the org's id, and registers the org only when it is
// missing: an instance opening an org that exists writes nothing. A
// role that may not write (a read-only follower) gets ErrNoOrg for an
// org no instance registered yet.
func (s *Store) bindOrg(ctx context.Context) error {
	url := strings.ToLower(strings.TrimRight(s.cfg.Org, "/"))
	err := s.pool.QueryRow(ctx, "SELECT id FROM orgs WHERE url = $1", url).Scan(&s.org)
	if !errors.Is(err, pgx.ErrNoRows) {
		if err != nil {
			return fmt.Errorf("read org: %w", err)
		}
		return nil
	}
	// another instance may register it at the same moment: DO NOTHING
	// returns no row then, and the read after finds its row
	err = s.pool.QueryRow(ctx, "INSERT INTO orgs (url) VALUES ($1) ON CONFLICT (url) DO NOTHING RETURNING id", url).Scan(&s.org)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, "SELECT id FROM orgs WHERE url = $1", url).Scan(&s.org)
	}
	if msg, ok := readOnlyErr(err); ok {
		return fmt.Errorf("%w: %s is not in this database yet, and this user may not register it (%s): start an instance whose user may write (the leader) first, then this one serves its queries",
			ErrNoOrg, url, msg)
	}
	if err != nil {
		return fmt.Errorf("register org: %w", err)
	}
	return nil
}

// readOnlyErr reports a write refused because the user may not write
// (insufficient_privilege) or the session is read-only
// (read_only_sql_transaction), with the server's message.
func readOnlyErr(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "25006") {
		return pe.Message, true
	}
	return "", false
}

// migrate brings the schema to version. A schema that is there already
// is only read (no lock, no DDL), so an instance whose user may only read
// opens it; a migration takes an advisory lock, one migrator at a time
// across every instance.
func (s *Store) migrate(ctx context.Context, version int) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return err
	}
	if exists {
		cur, err := s.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if cur > len(migrations) {
			return fmt.Errorf("the database has schema version %d, newer than this build supports (%d); upgrade oktaguard", cur, len(migrations))
		}
		if cur >= version {
			return nil
		}
	}
	err := s.migrateLocked(ctx, version)
	if msg, ok := readOnlyErr(err); ok {
		var cur int
		if exists {
			cur, _ = s.SchemaVersion(ctx)
		}
		return fmt.Errorf("%w: the database has schema version %d, this build needs %d, and this user may not migrate it (%s): "+
			"grant it CREATE on the schema (GRANT CREATE ON SCHEMA ...; the pg_trgm extension must be installed or creatable), "+
			"or, for a user meant only to read (a follower), start an instance whose user may migrate first",
			ErrNoPermission, cur, version, msg)
	}
	return err
}

func (s *Store) migrateLocked(ctx context.Context, version int) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	// one migrator at a time across every instance
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7366421)"); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
		return err
	}
	if cur > len(migrations) {
		return fmt.Errorf("the database has schema version %d, newer than this build supports (%d); upgrade oktaguard", cur, len(migrations))
	}
	for v := cur + 1; v <= version; v++ {
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v); err != nil {
			return fmt.Errorf("migration %d: %w", v, err)
		}
	}
	return tx.Commit(ctx)
}

// SchemaVersion is the migration version of the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v)
	return v, err
}

// LatestSchemaVersion is the schema version this build migrates to.
func LatestSchemaVersion() int { return len(migrations) }

func (s *Store) checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("store: %w: limit must be positive, got %d", store.ErrInvalidQuery, limit)
	}
	if limit > s.cfg.MaxLimit {
		return fmt.Errorf("store: %w: limit %d exceeds the maximum %d", store.ErrInvalidQuery, limit, s.cfg.MaxLimit)
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
