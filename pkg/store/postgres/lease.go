package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// Lead takes or renews the org's lease (a row in leases) in one statement,
// timed by the database's clock so that instances with skewed clocks agree
// on expiry. A change of holder increments the fencing token. The handle
// that leads runs the org's background builds (builds.go); one that finds
// another holder stops its own. A handle whose user may only read (SELECT,
// or a read-only session) follows: Lease.ReadOnly, never an error.
func (s *Store) Lead(ctx context.Context, holder string, ttl time.Duration) (_ store.Lease, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if holder == "" || ttl <= 0 {
		return store.Lease{}, fmt.Errorf("store: lead: %w: holder and a positive ttl are required", store.ErrInvalidQuery)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Lease{}, store.ErrClosed
	}
	var l store.Lease
	err = s.pool.QueryRow(ctx, `INSERT INTO leases AS l (org, holder, token, expires)
		VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
		ON CONFLICT (org) DO UPDATE SET
			token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END,
			holder = excluded.holder, expires = excluded.expires
		WHERE l.holder = excluded.holder OR l.holder = '' OR l.expires < clock_timestamp()
		RETURNING holder, token, expires`, s.org, holder, ttl.Milliseconds()).Scan(&l.Holder, &l.Token, &l.Expires)
	_, readOnly := readOnlyErr(err)
	readOnly = readOnly && s.fence == 0
	if errors.Is(err, pgx.ErrNoRows) || readOnly {
		// another instance leads: it runs the background builds; a
		// handle whose user may not write (and that never led) follows
		// whoever leads (a leader that loses its privileges gets the
		// error instead: a write failure to report)
		s.followBuilds()
		cur, err := s.currentLease(ctx)
		cur.ReadOnly = readOnly
		return cur, err
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("store: lead: %w", err)
	}
	l.Leader = true
	l.Expires = l.Expires.UTC()
	if l.Token != s.fence {
		s.cpSeq.newTerm() // checkpoint_seq.go
	}
	s.fence = l.Token
	if s.geoBuild != nil && !s.cfg.geoNoBuild {
		s.geoBuild.lead(l.Token)
	}
	return l, nil
}

// followBuilds stops this handle's background builds (it does not lead).
func (s *Store) followBuilds() {
	if s.geoBuild != nil {
		s.geoBuild.follow()
	}
}

// Resign gives the lease up if holder has it, and stops the handle's
// background builds (the next leader goes on with them).
func (s *Store) Resign(ctx context.Context, holder string) (err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.followBuilds()
	if _, err := s.pool.Exec(ctx, `UPDATE leases SET holder = '', expires = clock_timestamp() WHERE org = $1 AND holder = $2`,
		s.org, holder); err != nil {
		return fmt.Errorf("store: resign: %w", err)
	}
	return nil
}

// CurrentLease reads the org's lease.
func (s *Store) CurrentLease(ctx context.Context) (store.Lease, error) {
	if s.isClosed() {
		return store.Lease{}, store.ErrClosed
	}
	return s.currentLease(ctx)
}

func (s *Store) currentLease(ctx context.Context) (store.Lease, error) {
	var l store.Lease
	err := s.pool.QueryRow(ctx, "SELECT holder, token, expires FROM leases WHERE org = $1", s.org).Scan(&l.Holder, &l.Token, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Lease{}, nil
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("store: lease: %w", err)
	}
	l.Expires = l.Expires.UTC()
	return l, nil
}

// checkFence guards a write that only the org's leader may make (a page
// commit, a posture report, a regression) inside the write's
// transaction: it locks the lease row FOR SHARE, so a takeover (an UPDATE
// of that row) waits until this transaction ends. A handle that took the
// lease (Lead) fails with store.ErrFenced once the token has moved on; a
// handle that never took it (a follower, or a posture refresh asked of
// one) fails with store.ErrFenced while another instance holds a live
// lease. Without any lease (a single instance that never leads, a tool)
// the write goes on.
func (s *Store) checkFence(ctx context.Context, tx pgx.Tx) error {
	return s.checkFenceAt(ctx, tx, s.fence)
}

// checkFenceAt is checkFence for the lease token fence (a background
// build's, taken when it started).
func (s *Store) checkFenceAt(ctx context.Context, tx pgx.Tx, fence int64) error {
	var tok int64
	var holder string
	var live bool
	err := tx.QueryRow(ctx, `SELECT token, holder, holder <> '' AND expires > clock_timestamp() FROM leases WHERE org = $1 FOR SHARE`,
		s.org).Scan(&tok, &holder, &live)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && fence == 0:
		return nil // no instance ever led this org
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w (the lease row is gone)", store.ErrFenced)
	case err != nil:
		return fmt.Errorf("lease check: %w", err)
	case fence == 0 && live:
		return fmt.Errorf("%w (%q leads the org: only the leader writes)", store.ErrFenced, holder)
	case fence != 0 && tok != fence:
		return fmt.Errorf("%w (token %d, current %d held by %q)", store.ErrFenced, fence, tok, holder)
	}
	return nil
}
