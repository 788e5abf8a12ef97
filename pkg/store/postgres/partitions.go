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
		if err := s.createPartition(ctx, d); err != nil {
			return err
		}
		s.parts[d] = true
	}
	return nil
}

func (s *Store) createPartition(ctx context.Context, day int64) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	// serialise creators (several orgs' leaders may want the same day)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7366422)"); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", partName(day)).Scan(&exists); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE %s PARTITION OF events FOR VALUES FROM (%d) TO (%d)",
			partName(day), day, day+store.DayMS)); err != nil {
			return fmt.Errorf("partition %s: %w", partName(day), err)
		}
	}
	return tx.Commit(ctx)
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
