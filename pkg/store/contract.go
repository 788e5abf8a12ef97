package store

import (
	"context"
	"errors"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// Backend is the store contract: everything the pipeline, the plugin and
// the CLI do with storage. Two backends implement it: the embedded SQLite
// Store of this package (the default: one file per org, nothing to set
// up) and pkg/store/postgres (a shared database: many orgs, many
// instances, long retention). The contract test suite in
// pkg/store/storetest decides what "works" means; it runs against both.
//
// A Backend handle is bound to ONE org: every read and write it makes is
// restricted to that org's rows, so one org's queries can never return
// another's.
type Backend interface {
	// Commit writes a page — events, their alerts, detector state and the
	// checkpoint — in one transaction. When the handle holds the org's
	// lease (Lead), the transaction also checks, inside itself, that the
	// lease's fencing token is still the one this handle was given; a
	// deposed leader's commit fails with ErrFenced and keeps nothing.
	// A backend whose database can fail over to a replica (PostgreSQL)
	// also checks that the stored checkpoint is the one this handle last
	// committed or loaded (LoadCheckpoint): when it is not, the commit
	// fails with ErrDiverged and keeps nothing.
	Commit(ctx context.Context, b Batch) (CommitResult, error)
	LoadCheckpoint(ctx context.Context) (Checkpoint, bool, error)
	HasEvents(ctx context.Context, uuids []string) (map[string]bool, error)
	// HasEventsAt is HasEvents given each event's published time
	// (published[i] is uuids[i]'s): a backend may look for an event only
	// among those stored at its time (PostgreSQL probes the day partitions
	// of the times' range instead of every one). An event is one uuid at
	// one time, so the answer for correct times is HasEvents'.
	HasEventsAt(ctx context.Context, uuids []string, published []time.Time) (map[string]bool, error)
	GetState(ctx context.Context, key string) ([]byte, bool, error)
	AllState(ctx context.Context, prefix string) (map[string][]byte, error)

	QueryEvents(ctx context.Context, q EventQuery) ([]EventRow, error)
	GetEvent(ctx context.Context, uuid string) (EventRow, bool, error)
	QueryEventsByUUID(ctx context.Context, uuids []string) ([]EventRow, error)
	QueryAlerts(ctx context.Context, q AlertQuery) ([]alert.Alert, error)
	AlertEvents(ctx context.Context, alertID string) ([]string, error)
	CountSeries(ctx context.Context, q SeriesQuery) ([]SeriesPoint, error)
	// CountVolume counts the events QueryEvents would select with q's
	// filters (all of them: no limit) per time bucket and level, in the
	// database (volume.go).
	CountVolume(ctx context.Context, q VolumeQuery) ([]VolumePoint, error)
	GeoPoints(ctx context.Context, q GeoQuery) ([]GeoPoint, error)
	UserSummaries(ctx context.Context, q UserQuery) ([]UserSummary, error)
	EventTypes(ctx context.Context, prefix string, limit int) ([]EventTypeInfo, error)
	Actors(ctx context.Context, search string, limit int) ([]ActorInfo, error)
	Stats(ctx context.Context) (Stats, error)

	SavePostureReport(ctx context.Context, r PostureRecord) error
	LatestPostureReport(ctx context.Context, profile string) (PostureRecord, bool, error)
	PostureHistory(ctx context.Context, from, to time.Time, profile string) ([]PostureRecord, error)
	SaveRegression(ctx context.Context, r Regression) error
	Regressions(ctx context.Context, from, to time.Time) ([]Regression, error)

	// Prune deletes the events published before `before` (a backend that
	// partitions by time may keep up to one partition more: PostgreSQL
	// drops whole days) and keeps the roll-ups consistent with what stays.
	Prune(ctx context.Context, before time.Time) (int64, error)
	PruneAlerts(ctx context.Context, before time.Time) (int64, error)

	Leaser

	// Describe names the backend and its location for health and logs,
	// without any secret ("sqlite /var/lib/og.db", "postgres db@host:5432").
	Describe() string
	Close() error
}

// Leaser is leadership of one org: exactly one holder at a time ingests
// and evaluates posture. The lease is a row per org (holder, fencing
// token, expiry) taken and renewed in short transactions, timed by the
// database's clock.
type Leaser interface {
	// Lead takes the org's lease for holder when it is free, expired or
	// already held by holder (a renewal), for ttl. It returns the lease as
	// it stands afterwards: Leader tells whether holder has it. Taking it
	// over from another holder increments the fencing token; every later
	// Commit of this handle checks that token.
	Lead(ctx context.Context, holder string, ttl time.Duration) (Lease, error)
	// Resign gives the lease up if holder has it (a clean shutdown), so a
	// follower takes over at once instead of after the expiry.
	Resign(ctx context.Context, holder string) error
	// CurrentLease reads the org's lease without changing it.
	CurrentLease(ctx context.Context) (Lease, error)
}

// Lease is the state of an org's lease.
type Lease struct {
	Holder  string    // "" when nobody ever held it or it was resigned
	Token   int64     // fencing token, incremented on every change of holder
	Expires time.Time // the holder leads until then unless it renews
	Leader  bool      // the caller of Lead is the holder
	// ReadOnly: the caller may not take the lease, its store user may only
	// read (PostgreSQL: SELECT only, or a read-only session); it follows.
	ReadOnly bool
}

// ErrFenced is wrapped by the error of a write made with a lease token that
// is no longer current: another instance took the org over.
var ErrFenced = errors.New("store: fenced: this instance no longer holds the org's lease")

// ErrDiverged is wrapped by the error of a commit made onto a checkpoint
// other than the one the handle last committed or loaded: the database
// lost commits this instance made (a failover to a replica that had not
// received them), or holds one whose outcome the instance never learnt (a
// connection lost during COMMIT). Nothing of the batch is kept; the
// caller reloads the checkpoint and the detector state (LoadCheckpoint,
// AllState) and fetches again from there.
var ErrDiverged = errors.New("store: diverged: the org's checkpoint is not the one this instance last committed")

// Compile-time check: the SQLite store implements the contract.
var _ Backend = (*Store)(nil)
