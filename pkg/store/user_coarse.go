package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
)

// Coarse user segments (schema 13): besides the segment of each closed
// hour and day (user_segs.go), user_segs holds, under their own span,
// segments of 6 hours (from the hour segments) and of 2 and 4 days (from
// the day segments): each is the merge of the base segments of its
// buckets, so a query reads one coarse segment where it would read up to
// 6 or 4 base ones. A 7-day range ending on an hour is 6 whole days and
// 24 edge hours: 436 000 entries at 10 M events and 20 000 users (31 000
// a day, 10 300 an hour), ~225 000 with these levels (36 000 for 2 days,
// ~40 000 for 4, 23 400 for 6 hours), which is what the users summary's
// CPU grows with (docs/performance.md).
//
// Invariant: a coarse segment, when it exists, equals the merge of the
// base segments of its buckets. Sealing rows into a base segment merges
// the same rows into the coarse segments that hold it; unsealing a base
// segment (Prune) deletes them; a closed coarse bucket without a segment
// is built from its base segments when one of them is sealed (the newest
// ones a commit's day seal closes: by the next commits whose seal is under
// its budget, buildPendingCoarse), and at open (buildAllCoarseUserSegs:
// stores sealed before schema 13, or stopped halfway: resumable).
// The queries read a coarse segment where one exists wholly inside the
// range and the base segments elsewhere, so the answer is exact whichever
// exist.

// userSegLevels are the coarse segment widths (ms) built from the base
// segments of each span, coarsest first. Each divides the next coarser
// one's width and is a multiple of the base span, and all are aligned to
// the Unix epoch like the base buckets.
var userSegLevels = map[int64][]int64{
	dayMS:  {4 * dayMS, 2 * dayMS},
	hourMS: {6 * hourMS},
}

// userSegLevels are the coarse levels of a span that this store keeps
// (none before schema 13).
func (s *Store) userSegLevels(span int64) []int64 {
	if !s.coarseUserSegs {
		return nil
	}
	return userSegLevels[span]
}

// coarseUserSegsVersion is the schema version from which the coarse
// segments are maintained (migration 13 adds no table for them: they live
// in user_segs under their own spans).
const coarseUserSegsVersion = 13

// buildCoarseStep advances the build of the coarse segment (w, c) as the
// merge of the base segments (span) of its buckets by budget entries read
// (0: to the end; buildSegStep). It returns the entries handled.
func (s *Store) buildCoarseStep(ctx context.Context, tx *sql.Tx, span, w, c int64, budget int) (int, error) {
	k, _, err := s.buildSegStep(ctx, tx, w, c, func(after *rawEntry) ([]segInput, error) {
		return segsFrom(ctx, tx, span, c, c+w, after)
	}, budget)
	if err != nil {
		return 0, fmt.Errorf("coarse user segment %d/%d: %w", w, c, err)
	}
	return k, nil
}

// buildAllCoarseUserSegs builds every missing coarse segment of a closed
// coarse bucket, one per transaction, oldest first: at open, for a store
// sealed before schema 13 (or stopped halfway: the next open continues).
func (s *Store) buildAllCoarseUserSegs(ctx context.Context) error {
	for _, t := range userTables {
		for _, w := range s.userSegLevels(t.span) {
			after := int64(math.MinInt64)
			for {
				done, next, err := s.buildNextCoarseUserSeg(ctx, t.table, t.span, w, after)
				if err != nil {
					return err
				}
				if done {
					break
				}
				after = next
			}
		}
	}
	return nil
}

// buildNextCoarseUserSeg builds, in its own transaction, the oldest
// missing coarse segment (w) above after of a closed coarse bucket that
// has base segments. done reports that there was none.
func (s *Store) buildNextCoarseUserSeg(ctx context.Context, table string, span, w, after int64) (done bool, c int64, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, fmt.Errorf("store: build coarse user segments: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var newest sql.NullInt64
	if span == dayMS && s.daysFromHours { // no rows for the open day (user_days.go)
		h, ok, err := newestHourBucket(ctx, tx)
		if err != nil {
			return false, 0, fmt.Errorf("store: build coarse user segments: %w", err)
		}
		newest = sql.NullInt64{Int64: floorTo(h, dayMS), Valid: ok}
	} else if err := tx.QueryRowContext(ctx, "SELECT MAX(bucket) FROM "+table).Scan(&newest); err != nil {
		return false, 0, fmt.Errorf("store: build coarse user segments: %w", err)
	}
	if !newest.Valid {
		return true, 0, nil
	}
	// base buckets of closed coarse buckets above after, whose coarse
	// bucket has no segment
	err = tx.QueryRowContext(ctx, `SELECT bucket - (bucket % ?1) AS c FROM user_segs
		WHERE span = ?2 AND bucket >= ?3 AND bucket < ?4
		AND NOT EXISTS (SELECT 1 FROM user_segs AS u WHERE u.span = ?1 AND u.bucket = user_segs.bucket - (user_segs.bucket % ?1))
		ORDER BY bucket LIMIT 1`, w, span, after+w, floorTo(newest.Int64, w)).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return true, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("store: build coarse user segments: %w", err)
	}
	if _, err := s.buildCoarseStep(ctx, tx, span, w, c, 0); err != nil {
		return false, 0, fmt.Errorf("store: build coarse user segments: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, 0, fmt.Errorf("store: build coarse user segments: %w", err)
	}
	return false, c, nil
}

// buildPendingCoarse builds the oldest missing coarse segment of a closed
// coarse bucket newer than every coarse segment of its level (what a
// commit's seal left: sealLevels with spread), 6 hours first, then days,
// finest level first. A step reads about budget entries (0: the whole
// segment; buildSegStep), so a segment is built over as many commits as
// it needs: a coarse bucket with parts but no segment yet is found again,
// and continued. It returns the entries handled, -1 when there was none.
func (s *Store) buildPendingCoarse(ctx context.Context, tx *sql.Tx, budget int) (int, error) {
	h, ok, err := newestHourBucket(ctx, tx)
	if err != nil || !ok {
		return -1, err
	}
	for _, base := range [2][2]int64{{hourMS, h}, {dayMS, floorTo(h, dayMS)}} {
		span, open := base[0], base[1]
		levels := s.userSegLevels(span)
		for i := len(levels) - 1; i >= 0; i-- {
			w := levels[i]
			var newest sql.NullInt64
			if err := tx.QueryRowContext(ctx, "SELECT MAX(bucket) FROM user_segs WHERE span = ?", w).Scan(&newest); err != nil {
				return 0, fmt.Errorf("store: coarse user segments: %w", err)
			}
			from := int64(math.MinInt64)
			if newest.Valid {
				from = newest.Int64 + w
			}
			var d int64
			err := tx.QueryRowContext(ctx, "SELECT bucket FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ? ORDER BY bucket LIMIT 1",
				span, from, floorTo(open, w)).Scan(&d)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return 0, fmt.Errorf("store: coarse user segments: %w", err)
			}
			k, err := s.buildCoarseStep(ctx, tx, span, w, floorTo(d, w), budget)
			if err != nil {
				return 0, fmt.Errorf("store: coarse user segments: %w", err)
			}
			return k, nil
		}
	}
	return -1, nil
}
