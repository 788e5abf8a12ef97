package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

// userTables are the per-actor roll-ups with their bucket widths (ms),
// which are also their span in user_segs.
var userTables = []struct {
	table string
	span  int64
}{{"user_days", dayMS}, {"user_hours", hourMS}}

// sealBudget bounds the entries one Commit seals: the closed hours' rows,
// then steps of the day and coarse segments' builds (user_parts.go), each
// segment over as many commits as it needs. ~A day of a 1 000-user org,
// ~10-20 cpu-ms; from schema 20 the bound does not grow with the users.
const sealBudget = 20000

// userSegsVersion is the schema version that has user_segs.
const userSegsVersion = 12

// sealUserBuckets seals closed buckets of user_days and user_hours (every
// bucket older than the table's newest) into user_segs, oldest first,
// until it has handled budget entries (0: no limit; it always seals one
// bucket when there is one). more reports that closed buckets were left.
// The work is about the rows ingested since the last seal, except after
// late events: re-sealing an old bucket decodes its segment (from schema
// 19 only the parts the rows fall in), so a page of late events spread
// over many buckets leaves some as rows (still read by queries) for the
// next pages. From schema 17 the days are sealed after the hours, a day
// without a segment from its hours (sealDays).
//
// With spread (a commit's seal), the 6-hour, 2- and 4-day segments that
// the bucket just sealed closes are not built with it: the commit builds
// missing coarse segments only while its seal has handled less than the
// budget (buildPendingCoarse). From schema 20 the day itself and each
// coarse segment are built a bounded step at a time (user_parts.go), so
// at 100 000 users the day (~86 000 hour entries read), its 2-day and its
// 4-day segment (~230 000) are spread over ~20 commits of at most about
// the budget each. Queries read the finer buckets of a bucket that has no
// segment, so the answer is the same.
func (s *Store) sealUserBuckets(ctx context.Context, tx *sql.Tx, budget int, spread bool) (n int, more bool, err error) {
	work := 0
	defer func() { s.sealWork = work }()
	var hours []int64 // the hour buckets sealed (schema 17: their days may need a seal)
	for _, t := range userTables {
		if t.span == dayMS && s.daysFromHours {
			continue // after the hours (user_days.go)
		}
		var newest sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT MAX(bucket) FROM "+t.table).Scan(&newest); err != nil {
			return n, false, fmt.Errorf("store: seal %s: %w", t.table, err)
		}
		if !newest.Valid {
			continue
		}
		after := int64(math.MinInt64)
		for {
			var b int64
			err := tx.QueryRowContext(ctx, "SELECT bucket FROM "+t.table+" WHERE bucket > ? AND bucket < ? ORDER BY bucket LIMIT 1",
				after, newest.Int64).Scan(&b)
			if errors.Is(err, sql.ErrNoRows) {
				break
			}
			if err != nil {
				return n, false, fmt.Errorf("store: seal %s: %w", t.table, err)
			}
			if budget > 0 && work >= budget {
				return n, true, nil
			}
			k, err := s.sealUserBucket(ctx, tx, t.table, t.span, b, newest.Int64, s.userSegLevels(t.span), spread)
			if err != nil {
				return n, false, err
			}
			work += k
			n++
			after = b
			if t.span == hourMS {
				hours = append(hours, b)
			}
		}
	}
	if !s.daysFromHours {
		return n, false, nil
	}
	k, work, more, err := s.sealDays(ctx, tx, budget, work, hours, spread)
	n += k
	if err != nil || !spread || !s.coarseUserSegs {
		return n, more, err
	}
	for budget <= 0 || work < budget {
		k, err := s.buildPendingCoarse(ctx, tx, s.stepBudget(budget, work))
		if err != nil || k <= 0 { // none left (a build always reads entries)
			return n, more, err
		}
		work += k
	}
	return n, true, nil
}

// sealUserBucket merges the rows of one bucket into its segment and into
// the coarser segments that hold the bucket (user_coarse.go), building
// those of closed coarse buckets (wholly older than newest, the table's
// newest bucket) that have none yet, and deletes the rows. It returns the
// number of entries handled (rows and the segments' entries).
func (s *Store) sealUserBucket(ctx context.Context, tx *sql.Tx, table string, span, bucket, newest int64, levels []int64, spread bool) (int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT actor, country, actor_id, events, failures, last_seen, last_ip FROM "+table+ // #nosec G202 -- table is one of userTables' constant names; the bucket is a bound parameter
		" WHERE bucket = ?", bucket)
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	var fresh []UserSegEntry
	for rows.Next() {
		var e UserSegEntry
		if err := rows.Scan(&e.Actor, &e.Country, &e.ActorID, &e.Events, &e.Failures, &e.LastSeen, &e.LastIP); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
		}
		fresh = append(fresh, e)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	work, err := s.sealEntries(ctx, tx, span, bucket, newest, levels, fresh, spread)
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE bucket = ?", bucket); err != nil { // #nosec G202 -- table is one of userTables' constant names; the bucket is a bound parameter
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	return work, nil
}

// sealEntries merges entries into the segment (span, bucket) and into the
// coarser segments that hold the bucket, building those of closed coarse
// buckets (wholly older than newest) that have none yet. It returns the
// entries handled.
func (s *Store) sealEntries(ctx context.Context, tx *sql.Tx, span, bucket, newest int64, levels []int64, fresh []UserSegEntry, spread bool) (int, error) {
	ins := []segInput{{rows: fresh}}
	work, err := s.mergeIntoSeg(ctx, tx, span, bucket, ins, true)
	if err != nil {
		return 0, err
	}
	k, err := s.sealLevels(ctx, tx, span, bucket, newest, levels, func() ([]segInput, error) { return ins, nil }, spread)
	return work + k, err
}

// sealLevels merges the inputs (ins lists what a seal added to the
// segment (span, bucket)) into the coarser segments that hold the bucket,
// and builds those of closed coarse buckets (wholly older than newest)
// that have none yet, but with spread those newer than every coarse
// segment of their level (buildPendingCoarse builds them later, a bounded
// step per commit). It returns the entries handled.
func (s *Store) sealLevels(ctx context.Context, tx *sql.Tx, span, bucket, newest int64, levels []int64, ins func() ([]segInput, error), spread bool) (int, error) {
	work := 0
	for _, w := range levels {
		c := floorTo(bucket, w)
		var has int
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM user_segs WHERE span = ? AND bucket = ?)", w, c).Scan(&has); err != nil {
			return 0, fmt.Errorf("coarse user segment %d/%d: %w", w, c, err)
		}
		if has == 1 {
			in, err := ins()
			if err != nil {
				return 0, fmt.Errorf("coarse user segment %d/%d: %w", w, c, err)
			}
			k, err := s.mergeIntoSeg(ctx, tx, w, c, in, false)
			if err != nil {
				return 0, err
			}
			work += max(k, 0)
			continue
		}
		if c+w > newest { // the coarse bucket is open
			continue
		}
		if spread {
			var later int
			if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM user_segs WHERE span = ? AND bucket > ?)", w, c).Scan(&later); err != nil {
				return 0, fmt.Errorf("coarse user segment %d/%d: %w", w, c, err)
			}
			if later == 0 {
				continue // the newest: buildPendingCoarse finds it
			}
		}
		k, err := s.buildCoarseStep(ctx, tx, span, w, c, 0)
		if err != nil {
			return 0, err
		}
		work += k
	}
	return work, nil
}

// unsealUserBuckets turns the segments of the buckets that the events of
// ids (a JSON array, as Prune binds it) fall in back into rows, so that
// Prune can subtract from them; Prune seals them again afterwards.
func (s *Store) unsealUserBuckets(ctx context.Context, tx *sql.Tx, ids string) error {
	for _, t := range userTables {
		rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT DISTINCT published - (published %% %d) FROM events
			WHERE id IN (SELECT value FROM json_each(?)) AND actor <> ''`, t.span), ids)
		if err != nil {
			return fmt.Errorf("store: unseal %s: %w", t.table, err)
		}
		var buckets []int64
		for rows.Next() {
			var b int64
			if err := rows.Scan(&b); err != nil {
				rows.Close()
				return fmt.Errorf("store: unseal %s: %w", t.table, err)
			}
			buckets = append(buckets, b)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("store: unseal %s: %w", t.table, err)
		}
		for _, b := range buckets {
			// an unfinished build of the bucket or over it read the entries
			// Prune changes (rows or segments)
			if err := s.dropBuild(ctx, tx, t.span, b); err != nil {
				return fmt.Errorf("store: unseal %s %d: %w", t.table, b, err)
			}
			if err := s.dropBuildsOver(ctx, tx, t.span, b); err != nil {
				return fmt.Errorf("store: unseal %s %d: %w", t.table, b, err)
			}
			entries, err := userSeg(ctx, tx, t.span, b)
			if err != nil {
				return err
			}
			if entries == nil {
				continue
			}
			args := make([]any, 0, 8*len(entries))
			for _, e := range entries {
				args = append(args, b, e.Actor, e.Country, e.ActorID, e.Events, e.Failures, e.LastSeen, e.LastIP)
			}
			if err := s.multiExec(ctx, tx, t.table, args); err != nil {
				return fmt.Errorf("store: unseal %s %d: %w", t.table, b, err)
			}
			if err := s.deleteUserSeg(ctx, tx, t.span, b); err != nil {
				return fmt.Errorf("store: unseal %s %d: %w", t.table, b, err)
			}
			// the coarser segments hold the bucket's entries too (and the
			// unfinished builds over it, which deleteUserSeg dropped); they
			// are built again when the rows are sealed
			for _, w := range s.userSegLevels(t.span) {
				if err := s.deleteUserSeg(ctx, tx, w, floorTo(b, w)); err != nil {
					return fmt.Errorf("store: unseal %s %d: %w", t.table, b, err)
				}
			}
		}
	}
	return nil
}

// sealAllUserBuckets seals every closed bucket, one per transaction: after
// migration 12 it packs an existing store's rows, and a store closed
// halfway continues where it stopped at the next open.
func (s *Store) sealAllUserBuckets(ctx context.Context) error {
	sealed := 0
	for {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: seal user buckets: %w", err)
		}
		n, _, err := s.sealUserBuckets(ctx, tx, 1, false)
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error above is the one to report
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: seal user buckets: %w", err)
		}
		if n == 0 {
			return s.buildAllCoarseUserSegs(ctx)
		}
		sealed++
		if s.opts.sealLimit > 0 && sealed >= s.opts.sealLimit {
			return nil
		}
	}
}
