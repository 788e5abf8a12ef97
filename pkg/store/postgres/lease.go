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
// on expiry. A change of holder increments the fencing token.
func (s *Store) Lead(ctx context.Context, holder string, ttl time.Duration) (store.Lease, error) {
	if holder == "" || ttl <= 0 {
		return store.Lease{}, fmt.Errorf("store: lead: %w: holder and a positive ttl are required", store.ErrInvalidQuery)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Lease{}, store.ErrClosed
	}
	var l store.Lease
	err := s.pool.QueryRow(ctx, `INSERT INTO leases AS l (org, holder, token, expires)
		VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
		ON CONFLICT (org) DO UPDATE SET
			token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END,
			holder = excluded.holder, expires = excluded.expires
		WHERE l.holder = excluded.holder OR l.holder = '' OR l.expires < clock_timestamp()
		RETURNING holder, token, expires`, s.org, holder, ttl.Milliseconds()).Scan(&l.Holder, &l.Token, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, err := s.currentLease(ctx)
		return cur, err
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("store: lead: %w", err)
	}
	l.Leader = true
	l.Expires = l.Expires.UTC()
	s.fence = l.Token
	return l, nil
}

// Resign gives the lease up if holder has it.
func (s *Store) Resign(ctx context.Context, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
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

// checkFence locks the lease row FOR SHARE and compares the token: a
// takeover (an UPDATE of that row) waits until this transaction ends, and
// a token that moved on fails the transaction with store.ErrFenced.
func (s *Store) checkFence(ctx context.Context, tx pgx.Tx) error {
	if s.fence == 0 {
		return nil
	}
	var tok int64
	var holder string
	err := tx.QueryRow(ctx, "SELECT token, holder FROM leases WHERE org = $1 FOR SHARE", s.org).Scan(&tok, &holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w (the lease row is gone)", store.ErrFenced)
	}
	if err != nil {
		return fmt.Errorf("lease check: %w", err)
	}
	if tok != s.fence {
		return fmt.Errorf("%w (token %d, current %d held by %q)", store.ErrFenced, s.fence, tok, holder)
	}
	return nil
}
