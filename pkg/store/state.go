package store

import (
	"context"
	"database/sql"
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

// commitState applies the batch's state change inside the commit's
// transaction: the reset prefixes first, then the keys in key order (a
// nil value deletes). One prepared statement per kind: a full rewrite
// writes one row per user.
func commitState(ctx context.Context, tx *sql.Tx, b Batch, now time.Time) error {
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
