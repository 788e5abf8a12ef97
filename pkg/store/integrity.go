package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The integrity check of an existing store runs in the background after
// Open returns, not before: PRAGMA quick_check reads every page of the
// file (about 3 min for an 8 GB store on an idle disk, 14 min under
// load), and the plugin and `oktaguard serve` could not answer a query
// for that long after every restart. The check cannot protect against
// what it was run for at open either: SQLite's WAL keeps the file
// consistent through a crash or a kill -9 (a store is never left half
// written by an unclean shutdown), so damage comes from the disk, the
// file system or a copy taken while the store was written — at any time,
// not only before an open. SQLite meets damaged pages when it reads them
// and every such error is named (ErrCorrupt, explain and explainWrite);
// the check reports the damage no query has read yet. While it runs the
// store reads and writes as usual; once it has found damage, Commit is
// refused (ErrCorrupt), so nothing more is written over damaged pages.

// Integrity states (Integrity.State).
const (
	// IntegrityChecking: the check is running (the store is in use).
	IntegrityChecking = "checking"
	// IntegrityOK: the check found nothing, or the store was created by
	// this open (nothing to check).
	IntegrityOK = "ok"
	// IntegrityCorrupt: the check found damaged pages (Integrity.Err).
	IntegrityCorrupt = "corrupt"
	// IntegrityStopped: the check did not finish (the store was closed
	// first, or it could not run: Integrity.Err says why).
	IntegrityStopped = "stopped"
)

// IntegrityStates are the values of Integrity.State (the state label of
// oktaguard_store_integrity).
var IntegrityStates = []string{IntegrityChecking, IntegrityOK, IntegrityCorrupt, IntegrityStopped}

// Integrity is the state of a store's integrity check.
type Integrity struct {
	Path     string
	State    string
	Started  time.Time // zero for a store created by this open
	Finished time.Time // zero while checking
	// Err: for IntegrityCorrupt, an error wrapping ErrCorrupt that names
	// the file and what the check found; for IntegrityStopped, why.
	Err error
}

// IntegrityReporter is a backend that checks its own file (SQLite).
type IntegrityReporter interface {
	Integrity() Integrity
	// OnIntegrity calls f once the check has finished (at once when it
	// already has), from the check's goroutine: f must not block.
	OnIntegrity(f func(Integrity))
}

// integrity is a Store's check: its state, cancelled and waited for by
// Close.
type integrity struct {
	mu     sync.Mutex
	cur    Integrity
	notify []func(Integrity)
	cancel context.CancelFunc
	done   chan struct{}
}

// Integrity is the state of the store's integrity check.
func (s *Store) Integrity() Integrity {
	s.integ.mu.Lock()
	defer s.integ.mu.Unlock()
	return s.integ.cur
}

// OnIntegrity calls f with the result once the check has finished.
func (s *Store) OnIntegrity(f func(Integrity)) {
	s.integ.mu.Lock()
	cur := s.integ.cur
	pending := cur.State == IntegrityChecking
	if pending {
		s.integ.notify = append(s.integ.notify, f)
	}
	s.integ.mu.Unlock()
	if !pending {
		f(cur)
	}
}

// WaitIntegrity waits until the check has finished (or ctx ends) and
// returns its result. Benchmarks call it after opening a large store, so
// that their measurements do not share the CPU with the check, as they
// did not when the check ran before the open returned.
func (s *Store) WaitIntegrity(ctx context.Context) (Integrity, error) {
	done := make(chan Integrity, 1)
	s.OnIntegrity(func(in Integrity) { done <- in })
	select {
	case in := <-done:
		return in, nil
	case <-ctx.Done():
		return s.Integrity(), ctx.Err()
	}
}

// corruptErr is the error of a write to a store the check found damaged.
func (s *Store) corruptErr() error {
	s.integ.mu.Lock()
	defer s.integ.mu.Unlock()
	if s.integ.cur.State == IntegrityCorrupt {
		return s.integ.cur.Err
	}
	return nil
}

// startIntegrity starts the check of an existing store on its own
// read-only connection (the read pool keeps all its connections);
// a store this open created is marked ok.
func (s *Store) startIntegrity(existed bool) {
	now := time.Now()
	if !existed {
		s.integ.cur = Integrity{Path: s.path, State: IntegrityOK, Finished: now}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.integ.cur = Integrity{Path: s.path, State: IntegrityChecking, Started: now}
	s.integ.cancel, s.integ.done = cancel, make(chan struct{})
	gate := s.opts.integrityGate
	go func() {
		defer close(s.integ.done)
		err := s.runIntegrity(ctx, gate)
		res := Integrity{Path: s.path, State: IntegrityOK, Started: now, Finished: time.Now()}
		switch {
		case errors.Is(err, ErrCorrupt):
			res.State, res.Err = IntegrityCorrupt, err
		case ctx.Err() != nil:
			res.State, res.Err = IntegrityStopped, fmt.Errorf("store %s: integrity check stopped: the store was closed before it finished", s.path)
		case err != nil:
			res.State, res.Err = IntegrityStopped, fmt.Errorf("store %s: integrity check could not run: %w", s.path, err)
		}
		s.integ.mu.Lock()
		s.integ.cur = res
		notify := s.integ.notify
		s.integ.notify = nil
		s.integ.mu.Unlock()
		for _, f := range notify {
			f(res)
		}
	}()
}

// runIntegrity runs quick_check on a connection of its own. gate (tests)
// holds the check back until it is closed.
func (s *Store) runIntegrity(ctx context.Context, gate chan struct{}) error {
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	db, err := sql.Open("sqlite", dsn(s.path, s.opts, true))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return quickCheck(ctx, db, s.path)
}

// stopIntegrity cancels a running check and waits for it to return
// (SQLite interrupts the statement).
func (s *Store) stopIntegrity() {
	if s.integ.cancel == nil {
		return
	}
	s.integ.cancel()
	<-s.integ.done
}
