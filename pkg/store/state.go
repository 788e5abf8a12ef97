package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// ValidateStateChange checks a batch's state part: no empty key and no
// empty reset prefix (which would delete every state key of the org).
func ValidateStateChange(b Batch) error {
	for k := range b.State {
		if k == "" {
			return fmt.Errorf("store: commit: %w: empty state key", ErrInvalidBatch)
		}
	}
	for _, p := range b.StateReset {
		if p == "" {
			return fmt.Errorf("store: commit: %w: empty state reset prefix", ErrInvalidBatch)
		}
	}
	return nil
}

// StatePrefixEnd is the exclusive upper bound of the keys starting with
// prefix, for a range scan on the state table's primary key.
func StatePrefixEnd(prefix string) string { return prefix + "\U0010FFFF" }

// SortedStateKeys returns the keys of a batch's state change in order: a
// commit writes them in the order of the state table's primary key, so
// neighbouring keys (one subject's entries, see pkg/detect's key layout)
// are written one after the other into the same B-tree pages.
func SortedStateKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// commitStateInPlace (Options.StateInPlace, the path before the state
// log) applies the batch's state change to the state table inside the
// commit's transaction: the reset prefixes first, then the keys in key
// order (a nil value deletes). One prepared statement per kind: a full
// rewrite writes one row per user.
func commitStateInPlace(ctx context.Context, tx *sql.Tx, b Batch, now time.Time) error {
	if err := ValidateStateChange(b); err != nil {
		return err
	}
	for _, p := range b.StateReset {
		if _, err := tx.ExecContext(ctx, "DELETE FROM state WHERE key >= ? AND key < ?", p, StatePrefixEnd(p)); err != nil {
			return fmt.Errorf("store: commit: state reset %q: %w", p, err)
		}
	}
	if len(b.State) == 0 {
		return nil
	}
	del, err := tx.PrepareContext(ctx, "DELETE FROM state WHERE key = ?")
	if err != nil {
		return fmt.Errorf("store: commit: state: %w", err)
	}
	defer del.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
	if err != nil {
		return fmt.Errorf("store: commit: state: %w", err)
	}
	defer put.Close()
	ts := now.UnixMilli()
	for _, k := range SortedStateKeys(b.State) {
		v := b.State[k]
		if v == nil {
			if _, err := del.ExecContext(ctx, k); err != nil {
				return fmt.Errorf("store: commit: state %q: %w", k, err)
			}
			continue
		}
		if _, err := put.ExecContext(ctx, k, v, ts); err != nil {
			return fmt.Errorf("store: commit: state %q: %w", k, err)
		}
	}
	return nil
}

// getStateInPlace is GetState of Options.StateInPlace.
func (s *Store) getStateInPlace(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, "SELECT value FROM state WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get state %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// allStateInPlace is AllState of Options.StateInPlace.
func (s *Store) allStateInPlace(ctx context.Context, prefix string) (map[string][]byte, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key",
		prefix, StatePrefixEnd(prefix))
	if err != nil {
		return nil, fmt.Errorf("store: state: %w", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("store: state: %w", err)
		}
		if v == nil {
			v = []byte{}
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: state: %w", err)
	}
	return out, nil
}
