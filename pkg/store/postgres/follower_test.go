package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// A second instance opens again and again while the leader commits pages
// (late pages into closed days among them) and seals their buckets a
// small budget at a time: the open writes nothing (half the opens are
// read-only sessions, where any write fails), and the users summary, read
// by the leader and by a follower, equals the raw events (nothing counted
// twice, nothing lost). Before, every open sealed the closed buckets in
// transactions of its own, outside the lease: a read-only session could
// not open.
func TestFollowerOpenWhileLeaderSeals(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	const budget = 150
	cfg := Config{DSN: dsn, Org: "https://follow.okta.example", MaxConns: 2, sealBudget: budget}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l, err := s.Lead(ctx, "leader", time.Hour); err != nil || !l.Leader {
		t.Fatalf("lead: %+v %v", l, err)
	}
	rng := rand.New(rand.NewPCG(51, 52))
	start := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	evs := partEvents(rng, "f", start, 3*24*60, 220)
	readOnly := pgtest.WithParam(dsn, "default_transaction_read_only", "on")
	done := make(chan struct{})
	var wg sync.WaitGroup
	var opens int
	var openErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			d := dsn
			if opens%2 == 1 {
				d = readOnly
			}
			f, err := Open(ctx, Config{DSN: d, Org: cfg.Org, MaxConns: 2})
			if err != nil {
				openErr = fmt.Errorf("open %d (read-only %v): %w", opens, d == readOnly, err)
				return
			}
			f.Close()
			opens++
		}
	}()
	lates, moving := 0, 0
	for i := 0; i < len(evs); i += 50 {
		page := evs[i:min(i+50, len(evs))]
		if _, err := s.Commit(ctx, store.Batch{Events: page}); err != nil {
			t.Fatal(err)
		}
		if _, ok := unfinished(ctx, t, s); ok {
			moving++
		}
		if i/50%2 == 1 {
			// late events into the day before (closed, maybe being moved)
			day := store.FloorTo(page[0].Published.UnixMilli(), store.DayMS) - store.DayMS
			if day >= start.UnixMilli() {
				lates++
				if _, err := s.Commit(ctx, store.Batch{Events: partEvents(rng, fmt.Sprintf("late%d", i), time.UnixMilli(day).UTC(), 60, 300)}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	close(done)
	wg.Wait()
	if openErr != nil {
		t.Fatal(openErr)
	}
	if opens < 4 || lates == 0 || moving < 5 {
		t.Fatalf("%d opens, %d late pages, %d commits in the middle of a move: the test proves little", opens, lates, moving)
	}
	end := evs[len(evs)-1].Published.Add(time.Millisecond)
	checkUsersExact(ctx, t, s, rng, start, end, "leader")
	f, err := Open(ctx, Config{DSN: readOnly, Org: cfg.Org, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checkUsersExact(ctx, t, f, rng, start, end, "follower")
	t.Logf("%d opens, %d late pages, %d commits in the middle of a move", opens, lates, moving)
}

// A follower opening while the leader's commit holds rows of a closed
// bucket (a late page's roll-up upsert, before the commit's seal takes
// the seal lock) neither waits for it nor takes part in a deadlock.
// Before, the open's seal took the seal lock, then waited on those rows
// while the commit waited on the seal lock: PostgreSQL aborted one of the
// two (deadlock detected, SQLSTATE 40P01): the open or the page commit.
func TestFollowerOpenDuringLeaderCommit(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	cfg := Config{DSN: dsn, Org: "https://deadlock.okta.example", MaxConns: 2, sealBudget: 50}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(53, 54))
	start := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	evs := partEvents(rng, "d", start, 2*24*60, 100)
	for i := 0; i < len(evs); i += 500 {
		if _, err := s.Commit(ctx, store.Batch{Events: evs[i:min(i+500, len(evs))]}); err != nil {
			t.Fatal(err)
		}
	}
	var closedRows int
	if err := s.pool.QueryRow(ctx, "SELECT COUNT(*) FROM user_days WHERE org = $1 AND bucket = $2", s.org, start.UnixMilli()).Scan(&closedRows); err != nil || closedRows == 0 {
		t.Fatalf("%d rows of the closed first day left to seal (%v): the test needs some", closedRows, err)
	}
	// the leader's commit, as far as its roll-up upsert of a late event
	// into the closed day
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit: no-op
	if _, err := tx.Exec(ctx, `UPDATE user_days SET events = events + 1 WHERE ctid = (SELECT ctid FROM user_days
		WHERE org = $1 AND bucket = $2 ORDER BY actor, country LIMIT 1)`, s.org, start.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	opened := make(chan error, 1)
	go func() {
		f, err := Open(ctx, Config{DSN: dsn, Org: cfg.Org, MaxConns: 2})
		if err == nil {
			f.Close()
		}
		opened <- err
	}()
	var waits bool
	testwait.Until(t, 60*time.Second, "the follower's open returns or waits on a lock", func() bool {
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid())`).Scan(&waits); err != nil {
			t.Fatal(err)
		}
		return waits || len(opened) > 0
	})
	if waits {
		// let the deadlock happen, to say which side lost
		_, lockErr := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", sealLock, s.org)
		t.Fatalf("the follower's open waits on a lock the leader's commit holds; the commit's seal lock then: %v; the open: %v", lockErr, <-opened)
	}
	if err := <-opened; err != nil {
		t.Fatalf("open during the leader's commit: %v", err)
	}
	// the commit goes on to its seal
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", sealLock, s.org); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// A role that may only read (USAGE on the schema, SELECT on its tables)
// opens an org another instance registered and serves every panel query
// while the owner leads; its Lead follows (ReadOnly) and never errs. It
// gets a precise error, never the password, for an org nobody registered
// yet or a schema not migrated yet. Before, its open failed: the open
// registered the org with an INSERT ... ON CONFLICT DO UPDATE.
func TestReadOnlyRoleFollows(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Schema(t)
	// a role granted before the schema has tables gets an error that says so
	roDSN, _ := pgtest.Reader(t, admin)
	ro := Config{DSN: roDSN, Password: pgtest.ReaderPassword, Org: storetest.OrgA, MaxConns: 2}
	if s, err := Open(ctx, ro); err == nil {
		s.Close()
		t.Fatal("a read-only role opened an unmigrated schema")
	} else if !errors.Is(err, ErrNoPermission) || !strings.Contains(err.Error(), "may not migrate") || strings.Contains(err.Error(), pgtest.ReaderPassword) {
		t.Fatalf("read-only open of an unmigrated schema: %v", err)
	}
	owner, err := Open(ctx, Config{DSN: admin, Org: storetest.OrgA, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	storetest.Fill(t, owner, 8000)
	if l, err := owner.Lead(ctx, "owner", time.Hour); err != nil || !l.Leader {
		t.Fatalf("owner's lead: %+v %v", l, err)
	}
	// an org nobody registered
	other := ro
	other.Org = storetest.OrgB
	if s, err := Open(ctx, other); err == nil {
		s.Close()
		t.Fatal("a read-only role opened an org nobody registered")
	} else if !errors.Is(err, ErrNoOrg) || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), pgtest.ReaderPassword) {
		t.Fatalf("read-only open of an unregistered org: %v", err)
	}
	f, err := Open(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := f.Lead(ctx, "reader", time.Hour)
	if err != nil || l.Leader || !l.ReadOnly || l.Holder != "owner" {
		t.Fatalf("read-only lead: %+v %v, want a follower of owner", l, err)
	}
	storetest.CheckPanelQueries(t, f, owner)
	// the owner goes on committing (and sealing); the follower reads it
	storetest.Fill(t, owner, 10000)
	fs, err1 := f.Stats(ctx)
	ownerStats, err2 := owner.Stats(ctx)
	if err1 != nil || err2 != nil || fs.Events != 10000 || fs != ownerStats {
		t.Fatalf("follower's stats %+v (%v), the owner's %+v (%v)", fs, err1, ownerStats, err2)
	}
}

// An instance whose DSN names a hot standby (a streaming replica, the
// read-only server of docs/operations.md) opens without writing, follows
// whoever leads on the primary with ReadOnly set, serves every panel as the
// primary does once the replica has replayed, and a write it attempts
// fails with class read_only and the message that names the hot standby,
// never the fenced or other class.
func TestHotStandbyInstanceFollows(t *testing.T) {
	ctx := context.Background()
	pair := pgtest.Replicated(t)
	owner, err := Open(ctx, Config{DSN: pair.Primary.DSN(), Org: storetest.OrgA, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if l, err := owner.Lead(ctx, "owner", time.Hour); err != nil || !l.Leader {
		t.Fatalf("owner's lead: %+v %v", l, err)
	}
	storetest.Fill(t, owner, 4000)
	pair.WaitReplayed(30 * time.Second)
	f, err := Open(ctx, Config{DSN: pair.Standby.DSN(), Org: storetest.OrgA, MaxConns: 2})
	if err != nil {
		t.Fatalf("open on the hot standby: %v", err)
	}
	defer f.Close()
	l, err := f.Lead(ctx, "replica", time.Hour)
	if err != nil || l.Leader || !l.ReadOnly || l.Holder != "owner" {
		t.Fatalf("lead on the hot standby: %+v %v, want a read-only follower of owner", l, err)
	}
	storetest.CheckPanelQueries(t, f, owner)
	_, err = f.Commit(ctx, store.Batch{Events: storetest.Events("s", 0, 3, storetest.T0(), time.Second)})
	if store.WriteFailureClass(err) != "read_only" || !strings.Contains(err.Error(), "hot standby") {
		t.Fatalf("commit on the hot standby: %v (class %q), want read_only naming the hot standby", err, store.WriteFailureClass(err))
	}
}
