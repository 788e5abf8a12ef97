package store

import (
	"context"
	"database/sql"
	"fmt"
)

// The actors dictionary (login -> actor id, events, last seen) is kept as
// a folded table plus an append-only log of per-commit deltas (actors_log,
// schema 15), as the detector state is (state_log.go). Updated in place,
// the actors table, keyed by login, dirtied one leaf page per distinct
// actor of a commit: at 100 000 users a 1 000-event commit touched ~1 000
// distinct actors spread over the table's ~1 500 leaves, so its pages grew
// with the number of users. A commit now appends one row per distinct actor
// of the page (rows of increasing seq: a few pages at the right edge of the
// log), and a fold merges the whole log into the table once it holds more
// rows than a quarter of the table (actorsLogDiv; at least actorsLogMin):
// one fold writes at most every leaf of the table once, for as many
// commits as filled the log, so per commit it costs about the table's
// leaves divided by the commits between folds, i.e. (with ~70 actors a
// leaf and up to 1 000 log rows a commit) ~60 pages whatever the number
// of users. Actors (the actor search) reads the log on top of the table:
// the log's bound (a quarter of the table) bounds what that adds.
//
// Rows of the log: events may be negative (Prune subtracts the events it
// deletes by appending such rows, with last_seen 0 and no actor id). The
// value of an actor is the sum of its events over the table row and its
// log rows, the largest last_seen, and the actor id of the newest row that
// has one (actorIDKey) — what the in-place upsert kept. Actors whose
// events sum to zero or less are not listed, and the fold deletes them.
const actorsLogVersion = 15

// The log is folded when it holds more than max(table rows / actorsLogDiv,
// actorsLogMin) rows: the minimum keeps small stores from folding at every
// commit. Tests lower the minimum per store (Store.actorsLogMin).
const (
	actorsLogDiv = 4
	actorsLogMin = 5000
)

const actorsLogMigration = `
CREATE TABLE actors_log (
	seq       INTEGER PRIMARY KEY, -- commit order
	actor     TEXT    NOT NULL,
	actor_id  TEXT    NOT NULL,    -- '' when the rows it folds had none
	last_seen INTEGER NOT NULL,    -- unix ms; 0 for Prune's rows
	events    INTEGER NOT NULL     -- negative for Prune's rows
);
`

// actorIDKey orders a row's actor id for MAX(): rows with an id first,
// then the newest; substr(MAX(key), 18) is then the id of the newest row
// that has one (” when none has).
const actorIDKey = `(actor_id <> '') || printf('%016d', last_seen) || actor_id`

// actorsUnion lists the rows of the table and of the log for the actors
// whose login matches where (a condition on actor with its placeholders),
// as (actor, key, last_seen, events).
func actorsUnion(tableWhere, logWhere string) string {
	return `SELECT actor, ` + actorIDKey + ` AS k, last_seen, events FROM actors WHERE ` + tableWhere + `
		UNION ALL SELECT actor, ` + actorIDKey + `, last_seen, events FROM actors_log WHERE ` + logWhere
}

// actorsFolded groups actorsUnion per actor: actor, actor id, events, last seen.
func actorsFolded(tableWhere, logWhere string) string {
	return `SELECT actor, substr(MAX(k), 18) AS actor_id, SUM(events) AS events, MAX(last_seen) AS last_seen
		FROM (` + actorsUnion(tableWhere, logWhere) + `) GROUP BY actor`
}

// actorsListSQL is Actors' query with the log (?1 the LIKE pattern, ?2
// the limit): the log's rows grouped per actor (l, at most the log's
// rows), joined to the table's rows; the actor id key is computed only
// for the table rows that have log rows, so a search reads the table as
// before plus the log.
const actorsListSQL = `WITH l AS MATERIALIZED (SELECT actor, MAX(k) AS k, SUM(events) AS events, MAX(last_seen) AS last_seen
		FROM (SELECT actor, ` + actorIDKey + ` AS k, last_seen, events FROM actors_log WHERE actor LIKE ?1 ESCAPE '\') GROUP BY actor)
	SELECT actor, actor_id, events, last_seen FROM (
		SELECT a.actor AS actor,
			CASE WHEN l.k IS NOT NULL AND l.k > ((a.actor_id <> '') || printf('%016d', a.last_seen) || a.actor_id)
				THEN substr(l.k, 18) ELSE a.actor_id END AS actor_id,
			a.events + COALESCE(l.events, 0) AS events, MAX(a.last_seen, COALESCE(l.last_seen, 0)) AS last_seen
		FROM actors AS a LEFT JOIN l ON l.actor = a.actor WHERE a.actor LIKE ?1 ESCAPE '\'
		UNION ALL
		SELECT actor, substr(k, 18), events, last_seen FROM l WHERE NOT EXISTS (SELECT 1 FROM actors AS a WHERE a.actor = l.actor))
	WHERE events > 0 ORDER BY last_seen DESC, actor LIMIT ?2`

// appendActors appends the page's actors to the log and folds the log
// when it is due. The caller holds s.mu, in tx.
func (s *Store) appendActors(ctx context.Context, tx *sql.Tx, actors map[string]*Seen) error {
	if len(actors) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(actors))
	for a, ag := range actors {
		args = append(args, a, ag.ID, ag.LastSeen, ag.N)
	}
	if err := s.multiExec(ctx, tx, "actors_log", args); err != nil {
		return fmt.Errorf("store: commit: actors: %w", err)
	}
	return s.foldActorsIfDue(ctx, tx)
}

// foldActorsIfDue folds the log into the table when it holds more than a
// quarter of the table's rows and more than the minimum. The table's row count
// is counted again after a fold only (one scan per fold); another process
// folding meanwhile only moves the next fold.
func (s *Store) foldActorsIfDue(ctx context.Context, tx *sql.Tx) error {
	var first, last sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT (SELECT MIN(seq) FROM actors_log), (SELECT MAX(seq) FROM actors_log)").Scan(&first, &last); err != nil {
		return fmt.Errorf("store: actors log: %w", err)
	}
	if !last.Valid {
		return nil
	}
	if s.actorsRows < 0 {
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM actors").Scan(&s.actorsRows); err != nil {
			return fmt.Errorf("store: actors log: %w", err)
		}
	}
	minRows := s.actorsLogMin
	if minRows == 0 {
		minRows = actorsLogMin
	}
	if n := last.Int64 - first.Int64 + 1; n <= max(s.actorsRows/actorsLogDiv, minRows) {
		return nil
	}
	s.actorsRows = -1 // counted again by the next commit
	return foldActors(ctx, tx, last.Int64)
}

// foldActors merges the log's rows up to seq upTo into the table and
// deletes them. One statement per step, in the caller's transaction.
func foldActors(ctx context.Context, tx *sql.Tx, upTo int64) error {
	in := "actor IN (SELECT actor FROM actors_log WHERE seq <= ?1)"
	for _, q := range []string{
		`INSERT OR REPLACE INTO actors (actor, actor_id, events, last_seen) ` + actorsFolded(in, "seq <= ?1"),
		"DELETE FROM actors WHERE events <= 0 AND " + in,
		"DELETE FROM actors_log WHERE seq <= ?1",
	} {
		if _, err := tx.ExecContext(ctx, q, upTo); err != nil {
			return fmt.Errorf("store: fold actors: %w", err)
		}
	}
	return nil
}
