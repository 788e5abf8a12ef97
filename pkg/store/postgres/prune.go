package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// Prune removes the org's events of the whole days before `before` (the
// retention works in partitions, so up to one day more than asked stays).
// A day partition is dropped once every org in the database has pruned
// past it; until then only this org's rows are deleted from it. The
// roll-ups lose the same buckets, and the actor and event-type
// dictionaries are recounted from the roll-ups that remain, so every
// query stays consistent with the events kept. The alert links of the
// pruned events go with them (in the same transaction as their
// partition's rows); alerts are kept (PruneAlerts).
func (s *Store) Prune(ctx context.Context, before time.Time) (_ int64, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if before.IsZero() {
		return 0, fmt.Errorf("store: prune: %w: zero time", store.ErrInvalidQuery)
	}
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	cut := store.FloorTo(before.UnixMilli(), store.DayMS)
	if _, err := s.pool.Exec(ctx, "UPDATE orgs SET retained_from = GREATEST(retained_from, $2) WHERE id = $1", s.org, cut); err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	var everyone int64 // every org pruned up to here
	if err := s.pool.QueryRow(ctx, "SELECT MIN(retained_from) FROM orgs").Scan(&everyone); err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	parts, err := s.partitions(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	var total int64
	for name, day := range parts {
		if day+store.DayMS > cut {
			continue
		}
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
		n, err := s.prunePartition(ctx, name, day, day+store.DayMS <= everyone)
		total += n
		if err != nil {
			return total, err
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return total, fmt.Errorf("store: prune: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if s.geoSets {
		// after a geo build step of this org, not in the middle of one
		// (geo_sets.go): the build and this transaction write the same rows
		if _, err := tx.Exec(ctx, "SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", s.org); err != nil {
			return total, fmt.Errorf("store: prune: %w", err)
		}
	}
	for _, r := range store.CountRollups() {
		tables := []string{r.Table}
		if s.outcomeCounts {
			tables = append(tables, outcomeTable(r.Table))
		}
		for _, t := range tables {
			if _, err := tx.Exec(ctx, "DELETE FROM "+t+" WHERE org = $1 AND bucket < $2", s.org, cut); err != nil {
				return total, fmt.Errorf("store: prune: %s: %w", t, err)
			}
		}
	}
	tables := []string{"user_days", "user_hours", "geo_hours"}
	if s.levelCounts {
		tables = append(tables, "event_levels")
	}
	if s.userSegs {
		tables = append(tables, "user_segs")
	}
	if s.userParts {
		tables = append(tables, "user_seg_parts")
	}
	if s.geoSets {
		tables = append(tables, "geo_days", "geo_sealed_days")
	}
	for _, t := range tables {
		if _, err := tx.Exec(ctx, "DELETE FROM "+t+" WHERE org = $1 AND bucket < $2", s.org, cut); err != nil {
			return total, fmt.Errorf("store: prune: %s: %w", t, err)
		}
	}
	if total > 0 {
		// the actors recounted from the user days kept, rows and sealed
		// segments (user_segs.go)
		counts, err := s.dayActorEvents(ctx, tx)
		if err != nil {
			return total, fmt.Errorf("store: prune: actors: %w", err)
		}
		actors, ns := make([]string, 0, len(counts)), make([]int64, 0, len(counts))
		for a, n := range counts {
			actors, ns = append(actors, a), append(ns, n)
		}
		if _, err := tx.Exec(ctx, `UPDATE actors a SET events = COALESCE(c.n, 0)
			FROM actors a2 LEFT JOIN unnest($2::text[], $3::bigint[]) AS c(actor, n) ON c.actor = a2.actor
			WHERE a.org = $1 AND a2.org = a.org AND a2.actor = a.actor`, s.org, actors, ns); err != nil {
			return total, fmt.Errorf("store: prune: actors: %w", err)
		}
		for _, q := range []string{
			`UPDATE event_types t SET events = COALESCE((SELECT SUM(n) FROM event_counts_hour h
				WHERE h.org = t.org AND h.event_type = t.event_type), 0) WHERE t.org = $1`,
			"DELETE FROM event_types WHERE org = $1 AND events <= 0",
			"DELETE FROM actors WHERE org = $1 AND events <= 0",
		} {
			if _, err := tx.Exec(ctx, q, s.org); err != nil {
				return total, fmt.Errorf("store: prune: %w", err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return total, fmt.Errorf("store: prune: %w", err)
	}
	return total, nil
}

func (s *Store) prunePartition(ctx context.Context, name string, day int64, drop bool) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: prune %s: %w", name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	var n int64
	// the alert links of the events that go (as SQLite's Prune): every
	// org's when the partition is dropped, else this org's
	links := "DELETE FROM alert_events l USING " + name + " e WHERE l.org = e.org AND l.event_uuid = e.uuid"
	var args []any
	if !drop {
		links += " AND e.org = $1 AND l.org = $1"
		args = append(args, s.org)
	}
	if _, err := tx.Exec(ctx, links, args...); err != nil {
		return 0, fmt.Errorf("store: prune %s: alert links: %w", name, err)
	}
	if drop {
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+name+" WHERE org = $1", s.org).Scan(&n); err != nil {
			return 0, fmt.Errorf("store: prune %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "DROP TABLE "+name); err != nil {
			return 0, fmt.Errorf("store: prune %s: %w", name, err)
		}
	} else {
		tag, err := tx.Exec(ctx, "DELETE FROM "+name+" WHERE org = $1", s.org)
		if err != nil {
			return 0, fmt.Errorf("store: prune %s: %w", name, err)
		}
		n = tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("store: prune %s: %w", name, err)
	}
	if drop {
		s.partMu.Lock()
		delete(s.parts, day)
		s.partMu.Unlock()
	}
	return n, nil
}

// PruneAlerts deletes the org's alerts (and links) older than before.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time) (_ int64, err error) {
	defer func() { err = s.explainOp(ctx, err) }()
	if before.IsZero() {
		return 0, fmt.Errorf("store: prune alerts: %w: zero time", store.ErrInvalidQuery)
	}
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM alerts WHERE org = $1 AND time < $2", s.org, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: prune alerts: %w", err)
	}
	return tag.RowsAffected(), nil
}
