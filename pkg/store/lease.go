package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The lease and org tables are created on first use rather than by a
// numbered migration: they are bookkeeping of the contract (Leaser, org
// binding), not data, and an older build simply ignores them.
const leaseDDL = `CREATE TABLE IF NOT EXISTS lease (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	holder  TEXT    NOT NULL,
	token   INTEGER NOT NULL,
	expires INTEGER NOT NULL  -- unix ms
)`

const metaDDL = `CREATE TABLE IF NOT EXISTS store_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID`

// ErrOtherOrg is wrapped by BindOrg's error when the database belongs to
// another org.
var ErrOtherOrg = errors.New("store: the database belongs to another org")

// BindOrg ties the SQLite file to one org (the normalized org URL): the
// first call records it, a later call with another org fails with
// ErrOtherOrg, so two data sources pointed at one file by mistake cannot
// mix their orgs' rows. A SQLite file holds exactly one org.
func (s *Store) BindOrg(ctx context.Context, org string) error {
	return s.explainWrite(s.bindOrg(ctx, org))
}

func (s *Store) bindOrg(ctx context.Context, org string) error {
	if org == "" {
		return errors.New("store: bind org: empty org")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.w.ExecContext(ctx, metaDDL); err != nil {
		return fmt.Errorf("store: bind org: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, "INSERT INTO store_meta (key, value) VALUES ('org', ?) ON CONFLICT(key) DO NOTHING", org); err != nil {
		return fmt.Errorf("store: bind org: %w", err)
	}
	var have string
	if err := s.w.QueryRowContext(ctx, "SELECT value FROM store_meta WHERE key = 'org'").Scan(&have); err != nil {
		return fmt.Errorf("store: bind org: %w", err)
	}
	if !strings.EqualFold(have, org) {
		return fmt.Errorf("%w: %s holds %s, not %s (give each org its own storage path)", ErrOtherOrg, s.path, have, org)
	}
	return nil
}

// Describe names the backend and the file.
func (s *Store) Describe() string { return "sqlite " + s.path }

// Lead takes or renews the file's lease (see Leaser). SQLite's clock is
// the local one: every process sharing a file runs on this machine.
// A write the file refuses is named by cause (disk full, read-only, ...),
// as a page commit's is (explainWrite), so the lease's failures count
// under their class in oktaguard_store_write_failures_total.
func (s *Store) Lead(ctx context.Context, holder string, ttl time.Duration) (Lease, error) {
	l, err := s.lead(ctx, holder, ttl)
	return l, s.explainWrite(err)
}

func (s *Store) lead(ctx context.Context, holder string, ttl time.Duration) (Lease, error) {
	if holder == "" || ttl <= 0 {
		return Lease{}, fmt.Errorf("store: lead: %w: holder and a positive ttl are required", ErrInvalidQuery)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Lease{}, ErrClosed
	}
	if _, err := s.w.ExecContext(ctx, leaseDDL); err != nil {
		return Lease{}, fmt.Errorf("store: lead: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Lease{}, fmt.Errorf("store: lead: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	now := time.Now()
	cur, ok, err := readLease(ctx, tx)
	if err != nil {
		return Lease{}, err
	}
	if ok && cur.Holder != holder && cur.Holder != "" && now.Before(cur.Expires) && !holderDead(cur.Holder) {
		return cur, nil // someone else leads
	}
	next := Lease{Holder: holder, Token: cur.Token, Expires: now.Add(ttl), Leader: true}
	if cur.Holder != holder {
		next.Token++
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO lease (id, holder, token, expires) VALUES (1, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, token = excluded.token, expires = excluded.expires`,
		next.Holder, next.Token, next.Expires.UnixMilli()); err != nil {
		return Lease{}, fmt.Errorf("store: lead: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Lease{}, fmt.Errorf("store: lead: %w", err)
	}
	s.fence = next.Token
	next.Expires = next.Expires.Truncate(time.Millisecond).UTC()
	return next, nil
}

// Resign releases the lease if holder has it.
func (s *Store) Resign(ctx context.Context, holder string) error {
	return s.explainWrite(s.resign(ctx, holder))
}

func (s *Store) resign(ctx context.Context, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.w.ExecContext(ctx, leaseDDL); err != nil {
		return fmt.Errorf("store: resign: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, "UPDATE lease SET holder = '', expires = 0 WHERE id = 1 AND holder = ?", holder); err != nil {
		return fmt.Errorf("store: resign: %w", err)
	}
	return nil
}

// CurrentLease reads the lease.
func (s *Store) CurrentLease(ctx context.Context) (Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Lease{}, ErrClosed
	}
	if _, err := s.w.ExecContext(ctx, leaseDDL); err != nil {
		return Lease{}, fmt.Errorf("store: lease: %w", err)
	}
	l, _, err := readLease(ctx, s.w)
	return l, err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readLease(ctx context.Context, q queryRower) (Lease, bool, error) {
	var l Lease
	var exp int64
	err := q.QueryRowContext(ctx, "SELECT holder, token, expires FROM lease WHERE id = 1").Scan(&l.Holder, &l.Token, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Lease{}, false, nil
	}
	if err != nil {
		return Lease{}, false, fmt.Errorf("store: lease: %w", err)
	}
	l.Expires = fromMS(exp)
	return l, true, nil
}

// checkFence guards a write that only the org's leader may make (a page
// commit, a posture report, a regression), inside the write's
// transaction, so no takeover can slip between the check and the commit
// (SQLite has one writer at a time). A handle that took the lease (Lead)
// fails with ErrFenced once the lease's token has moved on; a handle that
// never took it (a follower, or a posture refresh asked of one) fails
// with ErrFenced while another instance holds a live lease. Without any
// lease (a single instance that never leads, a tool) the write goes on.
func (s *Store) checkFence(ctx context.Context, tx *sql.Tx) error {
	l, ok, err := readLease(ctx, tx)
	if err != nil && s.fence == 0 && strings.Contains(err.Error(), "no such table") {
		return nil // no instance ever led this file
	}
	if err != nil {
		return err
	}
	if s.fence == 0 {
		if ok && l.Holder != "" && time.Now().Before(l.Expires) && !holderDead(l.Holder) {
			return fmt.Errorf("%w (%q leads the org: only the leader writes)", ErrFenced, l.Holder)
		}
		return nil
	}
	if !ok || l.Token != s.fence {
		return fmt.Errorf("%w (token %d, current %d held by %q)", ErrFenced, s.fence, l.Token, l.Holder)
	}
	return nil
}

// holderDead reports a holder named host/pid/... (pipeline.NewInstanceID)
// on this host whose process is gone: every process sharing a SQLite file
// runs on this machine, so a restart after a kill -9 need not wait out the
// dead process's lease.
func holderDead(holder string) bool {
	parts := strings.Split(holder, "/")
	if len(parts) < 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if host == "" || parts[0] != host || err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	proc, err := os.FindProcess(pid)
	if err != nil {
		return true
	}
	err = proc.Signal(syscall.Signal(0))
	return errors.Is(err, os.ErrProcessDone) || errors.Is(err, syscall.ESRCH)
}
