package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// The user seal bounded per commit (schema 10), PostgreSQL's counterpart
// of SQLite's schema 20 (pkg/store/user_parts.go) for its simpler layout:
// PostgreSQL keeps only day and hour buckets (no 2- or 4-day segments), so
// sealing a bucket is moving its rows into a segment, and a move can be
// cut anywhere. Each commit moves at most its budget of rows of the
// org's closed buckets (every bucket older than the table's newest),
// oldest bucket first, in key order, into parts: rows of user_seg_parts,
// each a segment encoding (the shared one, pkg/store/user_segs.go) of some
// of a bucket's entries. A move deletes the rows it encodes in the same
// transaction, so at every commit boundary each entry of a bucket is in
// exactly one place — its rows, its parts or its schema-6 segment in
// user_segs — and a query that folds all three is exact whatever the
// state of the move (UserAgg sums an actor's entries of one bucket from
// any number of places). No state is kept beyond the rows themselves: a
// restart goes on where the last commit stopped (the leader's next
// commits move the rest, oldest first; the open writes nothing, so a
// follower never seals and a seal is always fenced by the leader's lease
// token, checked at the start of the commit), and Prune drops a bucket's
// rows, parts and segment together.
//
// The budget is sealPartEntries rows, or twice the page's inserted events
// when more (a page adds at most one day row and one hour row per event,
// so the seal always keeps pace), whatever the number of users: the
// commit closing a day at 100 000 users moves sealPartEntries of its rows,
// not all of them. A move of fewer rows than a part holds (a bucket's
// tail, late rows) joins the bucket's last part when both fit in
// sealPartEntries and the budget, so parts stay near full.

// userPartsVersion is the schema version that has user_seg_parts.
const userPartsVersion = 10

// sealPartEntries is the most entries a part holds, and the least a
// commit's seal may move.
const sealPartEntries = 4096

// sealBudgetFor is the entries a commit of inserted events may seal.
func (s *Store) sealBudgetFor(inserted int) int {
	if s.cfg.sealBudget > 0 {
		return s.cfg.sealBudget
	}
	return max(sealPartEntries, 2*inserted)
}

// partEntries is the most entries a part holds.
func (s *Store) partEntries() int {
	if s.cfg.sealBudget > 0 {
		return s.cfg.sealBudget
	}
	return sealPartEntries
}

// sealUserParts moves up to budget entries of the org's closed buckets
// into parts, oldest bucket first (user_days, then user_hours); work is
// the entries it read (rows moved and the entries of the parts they
// joined), never more than budget; more reports that closed rows may be
// left.
func (s *Store) sealUserParts(ctx context.Context, tx pgx.Tx, budget int) (work int, more bool, err error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", sealLock, s.org); err != nil {
		return 0, false, fmt.Errorf("store: seal user buckets: %w", err)
	}
	for _, t := range userTables {
		// a move needs room for a useful part (the rest, the next commit)
		for work < budget && (work == 0 || budget-work >= s.partEntries()/4) {
			var oldest, newest *int64
			if err := tx.QueryRow(ctx, `SELECT (SELECT MIN(bucket) FROM `+t.table+` WHERE org = $1),
				(SELECT MAX(bucket) FROM `+t.table+` WHERE org = $1)`, s.org).Scan(&oldest, &newest); err != nil {
				return work, false, fmt.Errorf("store: seal %s: %w", t.table, err)
			}
			if oldest == nil || *oldest >= *newest {
				break // the newest bucket stays rows
			}
			n, err := s.moveUserRows(ctx, tx, t.table, t.span, *oldest, budget-work)
			if err != nil {
				return work, false, err
			}
			if n == 0 {
				return work, true, nil // no room left for the part it would join
			}
			work += n
		}
		if work > 0 && budget-work < s.partEntries()/4 {
			return work, true, nil
		}
	}
	return work, false, nil
}

// moveUserRows moves up to limit of the first rows (in key order) of one
// closed bucket into a part, and returns the entries it read.
func (s *Store) moveUserRows(ctx context.Context, tx pgx.Tx, table string, span, bucket int64, limit int) (int, error) {
	var lastPart, lastN int32
	var lastData []byte
	err := tx.QueryRow(ctx, "SELECT part, n, data FROM user_seg_parts WHERE org = $1 AND span = $2 AND bucket = $3 ORDER BY part DESC LIMIT 1",
		s.org, span, bucket).Scan(&lastPart, &lastN, &lastData)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	take := min(limit, s.partEntries())
	// the rows by their ctid (a TID scan): a semi-join on the keys was
	// planned as a nested loop over the bucket on fresh statistics (9 s a
	// move at 100 000 users)
	fresh, err := deleteEntries(ctx, tx, `DELETE FROM `+table+` WHERE ctid = ANY(ARRAY(
			SELECT ctid FROM `+table+` WHERE org = $1 AND bucket = $2 ORDER BY actor, country LIMIT $3))
		RETURNING `+entryCols, s.org, bucket, take)
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	// a short move joins the last part when both fit
	join := lastData != nil && int(lastN)+len(fresh) <= min(limit, s.partEntries())
	var base []byte
	if join {
		base = lastData
	}
	data, read, err := store.MergeUserSegRows(bucket, base, fresh)
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	n := int32(len(fresh)) // #nosec G115 -- at most the part's entries: a part holds at most the seal's budget of rows (4 096 or twice a page)
	if join {
		n += lastN
	}
	switch {
	case join && data == nil:
		_, err = tx.Exec(ctx, "DELETE FROM user_seg_parts WHERE org = $1 AND span = $2 AND bucket = $3 AND part = $4", s.org, span, bucket, lastPart)
	case join:
		_, err = tx.Exec(ctx, "UPDATE user_seg_parts SET n = $5, data = $6 WHERE org = $1 AND span = $2 AND bucket = $3 AND part = $4",
			s.org, span, bucket, lastPart, n, data)
	case data != nil:
		_, err = tx.Exec(ctx, "INSERT INTO user_seg_parts (org, span, bucket, part, n, data) VALUES ($1, $2, $3, $4, $5, $6)",
			s.org, span, bucket, lastPart+1, n, data)
	}
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	return read, nil
}
