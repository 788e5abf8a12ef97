package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Events are partitioned by UTC day of published. Partitions are created
// ahead of the commit that needs them (and the next day's with it), each
// in its own short transaction, so the page transaction never runs DDL.
//
// The cache of existing partitions is per handle, so it may be stale:
// another instance's Prune may have dropped a cached day. That is safe
// because a day is dropped only once every org's retention horizon
// (orgs.retained_from) has passed it, and Commit reads its org's horizon
// inside the page transaction (FOR SHARE, so a concurrent Prune waits)
// and stores no event before it: no insert ever targets a dropped day.
// Nor is a dropped day created again: createPartition refuses a day
// wholly before the org's horizon.

func partName(day int64) string {
	return "events_p" + time.UnixMilli(day).UTC().Format("20060102")
}

func (s *Store) ensurePartitions(ctx context.Context, evs []event.Event) error {
	days := map[int64]bool{}
	for i := range evs {
		d := store.FloorTo(evs[i].Published.UnixMilli(), store.DayMS)
		days[d] = true
		days[d+store.DayMS] = true
	}
	s.partMu.Lock()
	defer s.partMu.Unlock()
	for d := range days {
		if s.parts[d] {
			continue
		}
		ok, err := s.createPartition(ctx, d)
		if err != nil {
			return err
		}
		if ok {
			s.parts[d] = true
		}
	}
	return nil
}

// createPartition creates the day's partition unless it exists; it
// reports whether the partition exists afterwards (false for a day that
// retention has pruned).
func (s *Store) createPartition(ctx context.Context, day int64) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("partition: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	// serialise creators (several orgs' leaders may want the same day)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7366422)"); err != nil {
		return false, fmt.Errorf("partition: %w", err)
	}
	var exists bool
	var horizon int64
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL, (SELECT retained_from FROM orgs WHERE id = $2)",
		partName(day), s.org).Scan(&exists, &horizon); err != nil {
		return false, fmt.Errorf("partition: %w", err)
	}
	if !exists && day+store.DayMS <= horizon {
		return false, nil // pruned already: its events are expired, not stored
	}
	if !exists {
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s PARTITION OF events FOR VALUES FROM (%d) TO (%d)",
			partName(day), day, day+store.DayMS)); err != nil {
			return false, fmt.Errorf("partition %s: %w", partName(day), err)
		}
	}
	return true, tx.Commit(ctx)
}

// partitions lists the events partitions with their day start.
func (s *Store) partitions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		t, err := time.Parse("20060102", name[len("events_p"):])
		if err != nil {
			continue // not ours
		}
		out[name] = t.UnixMilli()
	}
	return out, rows.Err()
}
