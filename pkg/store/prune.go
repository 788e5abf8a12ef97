package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// pruneChunk is how many events one Prune transaction deletes, so that the
// writer is never blocked for long.
const pruneChunk = 5000

// Prune deletes the events published before `before` with their raw JSON
// and their alert links, and keeps the roll-ups and dictionaries exact.
// Alerts themselves are kept (see PruneAlerts). It returns the number of
// events deleted. It works in chunks of a few thousand events; a cancelled
// context stops it between chunks with the work done so far committed.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.prune(ctx, before)
	if err == nil && n > 0 {
		// the pages the chunks freed go back to the disk (vacuum.go)
		err = s.reclaim(ctx)
	}
	return n, s.explainWrite(err)
}

func (s *Store) prune(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("store: prune: %w: zero time", ErrInvalidQuery)
	}
	cut := before.UnixMilli()
	var total int64
	for {
		n, err := s.pruneChunk(ctx, cut)
		total += n
		if err != nil {
			return total, err
		}
		if n < pruneChunk {
			return total, nil
		}
	}
}

func (s *Store) pruneChunk(ctx context.Context, cut int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if err := s.prepare(ctx); err != nil { // unsealing user buckets upserts rows
		return 0, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	s.dropGeoIDs()
	rows, err := tx.QueryContext(ctx, "SELECT id FROM events WHERE published < ? ORDER BY published LIMIT ?", cut, pruneChunk)
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: prune: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	if len(ids) == 0 {
		if !s.userSegs && !s.geoSets {
			return 0, nil
		}
		// the chunk before was full: seal what it left unsealed
		if s.userSegs {
			if _, _, err := s.sealUserBuckets(ctx, tx, 0, false); err != nil {
				return 0, fmt.Errorf("store: prune: %w", err)
			}
		}
		if s.geoSets {
			if err := s.sealGeoDays(ctx, tx, 0, s.geoChecked); err != nil {
				return 0, fmt.Errorf("store: prune: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("store: prune: %w", err)
		}
		return 0, nil
	}
	js, _ := json.Marshal(ids)
	if s.userSegs {
		if err := s.unsealUserBuckets(ctx, tx, string(js)); err != nil {
			return 0, fmt.Errorf("store: prune: %w", err)
		}
	}
	var geoHours []int64
	if s.geoSets {
		if geoHours, err = s.pruneGeoHours(ctx, tx, string(js)); err != nil {
			return 0, err
		}
	}
	set := "(SELECT value FROM json_each(?1))"
	// roll-ups: subtract what is deleted, drop emptied rows
	var stmts, empties []string
	for _, r := range countRollups {
		stmts = append(stmts, fmt.Sprintf(`UPDATE %[1]s AS c SET n = c.n - d.k FROM (SELECT published - (published %% %[2]d) AS b,
			event_type, outcome, country, COUNT(*) AS k FROM events WHERE id IN %[3]s GROUP BY 1, 2, 3, 4) AS d
			WHERE c.bucket = d.b AND c.event_type = d.event_type AND c.outcome = d.outcome AND c.country = d.country`, r.table, r.width, set))
		empties = append(empties, "DELETE FROM "+r.table+" WHERE n <= 0")
	}
	if s.outcomeCounts {
		sub, empty := pruneOutcomeCounts(set)
		stmts, empties = append(stmts, sub...), append(empties, empty...)
	}
	if s.levelCounts {
		sub, empty := pruneLevels(set)
		stmts, empties = append(stmts, sub), append(empties, empty)
	}
	emptyActors := []string{"DELETE FROM actors WHERE events <= 0"}
	if s.actorsLog { // appended to the log (actors_log.go), folded later
		emptyActors = nil
		stmts = append(stmts, `INSERT INTO actors_log (actor, actor_id, last_seen, events)
			SELECT actor, '', 0, -COUNT(*) FROM events WHERE id IN `+set+` AND actor <> '' GROUP BY actor`)
	} else {
		stmts = append(stmts, `UPDATE actors AS a SET events = a.events - d.k FROM (SELECT actor, COUNT(*) AS k FROM events WHERE id IN `+set+` GROUP BY actor) AS d
			WHERE a.actor = d.actor`)
	}
	stmts = append(stmts,
		`UPDATE event_types AS t SET events = t.events - d.k FROM (SELECT event_type, COUNT(*) AS k FROM events WHERE id IN `+set+` GROUP BY event_type) AS d
			WHERE t.event_type = d.event_type`,
		`UPDATE user_days AS u SET events = u.events - d.k, failures = u.failures - d.f FROM (SELECT published - (published % 86400000) AS b,
			actor, country, COUNT(*) AS k, SUM(outcome IN ('FAILURE', 'DENY')) AS f FROM events WHERE id IN `+set+` AND actor <> '' GROUP BY 1, 2, 3) AS d
			WHERE u.bucket = d.b AND u.actor = d.actor AND u.country = d.country`,
		`UPDATE user_hours AS u SET events = u.events - d.k, failures = u.failures - d.f FROM (SELECT published - (published % 3600000) AS b,
			actor, country, COUNT(*) AS k, SUM(outcome IN ('FAILURE', 'DENY')) AS f FROM events WHERE id IN `+set+` AND actor <> '' GROUP BY 1, 2, 3) AS d
			WHERE u.bucket = d.b AND u.actor = d.actor AND u.country = d.country`,
		`UPDATE geo_hours AS g SET n = g.n - d.k FROM (SELECT published - (published % 3600000) AS b, event_type, outcome,
			ROUND(lat, 2) AS la, ROUND(lon, 2) AS lo, country, city, COUNT(*) AS k FROM events WHERE id IN `+set+`
			AND lat IS NOT NULL AND lon IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7) AS d
			WHERE g.bucket = d.b AND g.event_type = d.event_type AND g.outcome = d.outcome AND g.lat = d.la AND g.lon = d.lo
			AND g.country = d.country AND g.city = d.city`,
		`DELETE FROM alert_events WHERE event_uuid IN (SELECT uuid FROM events WHERE id IN `+set+`)`,
		`DELETE FROM events_raw WHERE id IN `+set,
		// a contentless index without contentless_delete (schema 11) forgets
		// a row through the 'delete' command given the text it indexed
		`INSERT INTO events_fts (events_fts, rowid, t) SELECT 'delete', id, `+ftsText("")+` FROM events WHERE id IN `+set,
		`DELETE FROM events WHERE id IN `+set,
	)
	if s.rawBlocks {
		// a block goes with the last of its events (the block of an id is
		// the first ending at or after it); one with events left stays
		stmts = append(stmts, `DELETE FROM events_raw_blocks WHERE last_id IN (SELECT (SELECT MIN(b.last_id)
			FROM events_raw_blocks b WHERE b.last_id >= p.value) FROM json_each(?1) p)
			AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id BETWEEN events_raw_blocks.first_id AND events_raw_blocks.last_id)`)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q, string(js)); err != nil {
			return 0, fmt.Errorf("store: prune: %w", err)
		}
	}
	for _, q := range append(append(empties, emptyActors...),
		"DELETE FROM user_days WHERE events <= 0",
		"DELETE FROM user_hours WHERE events <= 0",
		"DELETE FROM geo_hours WHERE n <= 0",
		"DELETE FROM event_types WHERE events <= 0",
	) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("store: prune: %w", err)
		}
	}
	if s.actorsLog {
		if err := s.foldActorsIfDue(ctx, tx); err != nil {
			return 0, fmt.Errorf("store: prune: %w", err)
		}
	}
	if s.geoSets {
		// the sets of the hours the chunk cut into, from their remaining
		// events; their days are read from hours until sealed again
		if err := s.rebuildPrunedGeo(ctx, tx, geoHours); err != nil {
			return 0, err
		}
		if len(ids) < pruneChunk {
			if err := s.sealGeoDays(ctx, tx, 0, s.geoChecked); err != nil {
				return 0, fmt.Errorf("store: prune: %w", err)
			}
		}
	}
	if s.userSegs && len(ids) < pruneChunk {
		// the last chunk seals again what the chunks unsealed (the rows
		// are exact meanwhile; a prune stopped halfway leaves them to the
		// next commits' seals)
		if _, _, err := s.sealUserBuckets(ctx, tx, 0, false); err != nil {
			return 0, fmt.Errorf("store: prune: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	s.installGeoIDs()
	return int64(len(ids)), nil
}

// PruneAlerts deletes alerts (and their event links) whose time is before
// `before`. Prune keeps alerts; call this for a separate alert retention.
func (s *Store) PruneAlerts(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.pruneAlerts(ctx, before)
	return n, s.explainWrite(err)
}

func (s *Store) pruneAlerts(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, fmt.Errorf("store: prune alerts: %w: zero time", ErrInvalidQuery)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	r, err := s.w.ExecContext(ctx, "DELETE FROM alerts WHERE time < ?", before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: prune alerts: %w", err)
	}
	n, _ := r.RowsAffected()
	return n, nil
}
