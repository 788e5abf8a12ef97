package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
)

// Days from hours (schema 17). Until schema 16 every commit upserted one
// user_days row per (day, actor, country) of its page as well as the
// user_hours row: the open day's rows, keyed (day, actor, country), spread
// over one leaf per ~100 actors active that day, so a 1 000-event commit
// dirtied about one leaf per distinct actor of the page once the day had
// more actors than that (~100 pages at 10 000 users), and the day's seal
// then deleted every row of the day at once (hundreds of freed pages in
// one commit at 100 000 users). The hour rows hold the same entries a day
// holds, at a finer grain, and the open hour's rows are few.
//
// Since schema 17 a day is either sealed or not:
//   - sealed: user_segs has its day segment (span dayMS). Its entries are
//     the segment plus its user_days rows: a late event of a sealed day
//     is upserted into user_days as before and merged into the segment by
//     the next seal.
//   - not sealed (the open day; a closed day whose seal is still to come):
//     its entries are its hours (hour segments and user_hours rows); a
//     commit writes no user_days row for it, and any user_days row it has
//     (Prune's unsealing, a store migrated from schema 16) is ignored by
//     the queries and deleted when the day is sealed.
//
// The seal of a closed day that has no segment builds it from the day's
// hour segments and hour rows (sealDayFromHours), merges it into the
// coarse day segments like any day seal (user_coarse.go) and deletes the
// day's rows. Coarse day segments are merges of the day segments that
// existed, so they never hold an unsealed day: a query of whole days reads
// the segments (coarse or not) and the rows of the sealed days, and the
// hours of each unsealed day of its range that has hour data
// (unsealedDays). The answer is exact at any moment, as before.
const daysFromHoursVersion = 17

// daysFromHoursMigration drops the rows of the days without a segment
// (the open day; rarely a closed day a seal had not reached): their
// entries are in user_hours too, where the queries now read them. One
// statement in the migration's transaction: a crash rolls it back whole.
const daysFromHoursMigration = `
DELETE FROM user_days WHERE bucket NOT IN (SELECT bucket FROM user_segs WHERE span = 86400000);
`

// sealedDays returns which of the days have a day segment.
func sealedDays(ctx context.Context, q querier, days map[int64]bool) error {
	for d := range days {
		var one int
		err := q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM user_segs WHERE span = ? AND bucket = ?)", dayMS, d).Scan(&one)
		if err != nil {
			return fmt.Errorf("day segment %d: %w", d, err)
		}
		days[d] = one == 1
	}
	return nil
}

// newestHourBucket is the newest hour with user activity (rows or a
// segment); ok is false when there is none.
func newestHourBucket(ctx context.Context, q querier) (int64, bool, error) {
	var h sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MAX(m) FROM (SELECT MAX(bucket) AS m FROM user_hours
		UNION ALL SELECT MAX(bucket) FROM user_segs WHERE span = ?)`, hourMS).Scan(&h)
	if err != nil {
		return 0, false, fmt.Errorf("newest hour: %w", err)
	}
	return h.Int64, h.Valid, nil
}

// nextHourData is the first hour in [from, to) with user activity (rows
// or a segment); ok is false when there is none.
func nextHourData(ctx context.Context, q querier, from, to int64) (int64, bool, error) {
	var h sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT MIN(m) FROM (SELECT MIN(bucket) AS m FROM user_hours WHERE bucket >= ?1 AND bucket < ?2
		UNION ALL SELECT MIN(bucket) FROM user_segs WHERE span = ?3 AND bucket >= ?1 AND bucket < ?2)`, from, to, hourMS).Scan(&h)
	if err != nil {
		return 0, false, fmt.Errorf("hours from %d: %w", from, err)
	}
	return h.Int64, h.Valid, nil
}

// unsealedDays lists, newest first, the days of [a, b) (whole days) that
// have hour data but no day segment: a query reads them from user_hours.
// One seek per day with data.
func unsealedDays(ctx context.Context, q querier, a, b int64) ([]int64, error) {
	sealed := map[int64]bool{}
	rows, err := q.QueryContext(ctx, "SELECT bucket FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ?", dayMS, a, b)
	if err != nil {
		return nil, fmt.Errorf("day segments: %w", err)
	}
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, fmt.Errorf("day segments: %w", err)
		}
		sealed[d] = true
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("day segments: %w", err)
	}
	var out []int64
	for x := a; x < b; {
		h, ok, err := nextHourData(ctx, q, x, b)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		d := floorTo(h, dayMS)
		if !sealed[d] {
			out = append(out, d)
		}
		x = d + dayMS
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// dayFromHours is the inputs of a day's merge from the key after after
// (nil: all): its hour segments and hour rows, oldest first (a
// newer-or-equal last-seen brings its IP and id, as the day's upserts
// did).
func dayFromHours(ctx context.Context, tx *sql.Tx, day int64, after *rawEntry) ([]segInput, error) {
	ins, err := segsFrom(ctx, tx, hourMS, day, day+dayMS, after)
	if err != nil {
		return nil, err
	}
	hrows, err := tx.QueryContext(ctx, `SELECT actor, country, actor_id, events, failures, last_seen, last_ip FROM user_hours
		WHERE bucket >= ? AND bucket < ? ORDER BY bucket`, day, day+dayMS)
	if err != nil {
		return nil, err
	}
	var fresh []UserSegEntry
	for hrows.Next() {
		var e UserSegEntry
		if err := hrows.Scan(&e.Actor, &e.Country, &e.ActorID, &e.Events, &e.Failures, &e.LastSeen, &e.LastIP); err != nil {
			hrows.Close()
			return nil, err
		}
		fresh = append(fresh, e)
	}
	if err := hrows.Close(); err != nil {
		return nil, err
	}
	if err := hrows.Err(); err != nil {
		return nil, err
	}
	return append(ins, segInput{rows: fresh}), nil
}

// sealDayFromHours advances the build of the segment of a closed day
// that has none from its hours by budget entries read (0: to the end;
// buildSegStep). The step that finishes it merges it into the coarse day
// segments and deletes the day's user_days rows (which the queries
// ignored). newest is the open day; with spread the newest coarse
// segments it closes are left to later commits (sealLevels).
func (s *Store) sealDayFromHours(ctx context.Context, tx *sql.Tx, day, newest int64, spread bool, budget int) (int, bool, error) {
	work, done, err := s.buildSegStep(ctx, tx, dayMS, day, func(after *rawEntry) ([]segInput, error) {
		return dayFromHours(ctx, tx, day, after)
	}, budget)
	if err != nil || !done {
		return work, done, wrapSealDay(day, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_days WHERE bucket = ?", day); err != nil {
		return 0, false, wrapSealDay(day, err)
	}
	var has int
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM user_segs WHERE span = ? AND bucket = ?)", dayMS, day).Scan(&has); err != nil {
		return 0, false, wrapSealDay(day, err)
	}
	if has == 0 {
		return work, true, nil
	}
	// the day had no segment: the one written is what it adds to the
	// coarse segments (one input, not its 24 hours again)
	k, err := s.sealLevels(ctx, tx, dayMS, day, newest, s.userSegLevels(dayMS), func() ([]segInput, error) {
		return segsFrom(ctx, tx, dayMS, day, day+1, nil)
	}, spread)
	return work + k, true, wrapSealDay(day, err)
}

func wrapSealDay(day int64, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: seal day %d from hours: %w", day, err)
}

// sealDays seals the closed days (before the open day, the day of the
// newest hour with data), after the hours were sealed, within the budget
// of entries (0: none) given the work already done:
//   - a day with user_days rows: merged into its segment, or built from its
//     hours when it has none (the rows are then dropped);
//   - the days after the newest day segment with hour data: built from
//     their hours (the day that just closed, normally);
//   - the days of hours sealed by this seal (hours: their buckets) that
//     have no segment (a late event on a day without activity before).
func (s *Store) sealDays(ctx context.Context, tx *sql.Tx, budget, work int, hours []int64, spread bool) (n, done int, more bool, err error) {
	newestHour, ok, err := newestHourBucket(ctx, tx)
	if err != nil {
		return 0, work, false, fmt.Errorf("store: seal days: %w", err)
	}
	if !ok {
		return 0, work, false, nil
	}
	open := floorTo(newestHour, dayMS)
	levels := s.userSegLevels(dayMS)
	seal := func(d int64) (bool, error) {
		if budget > 0 && work >= budget {
			return false, nil
		}
		var has int
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM user_segs WHERE span = ? AND bucket = ?)", dayMS, d).Scan(&has); err != nil {
			return false, fmt.Errorf("store: seal days: %w", err)
		}
		k, done := 0, true
		if has == 1 {
			k, err = s.sealUserBucket(ctx, tx, "user_days", dayMS, d, open, levels, spread)
		} else {
			k, done, err = s.sealDayFromHours(ctx, tx, d, open, spread, s.stepBudget(budget, work))
		}
		if err != nil {
			return false, err
		}
		work += k
		n++
		return done, nil // an unfinished day: the next seal continues it
	}
	// days whose build a seal began (user_parts.go), oldest first
	if s.segParts {
		var unfinished []int64
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT bucket FROM user_seg_parts AS p WHERE span = ?1 AND bucket < ?2
			AND NOT EXISTS (SELECT 1 FROM user_segs AS u WHERE u.span = ?1 AND u.bucket = p.bucket) ORDER BY bucket`, dayMS, open)
		if err != nil {
			return n, work, false, fmt.Errorf("store: seal days: %w", err)
		}
		for rows.Next() {
			var d int64
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return n, work, false, fmt.Errorf("store: seal days: %w", err)
			}
			unfinished = append(unfinished, d)
		}
		if err := rows.Close(); err != nil {
			return n, work, false, fmt.Errorf("store: seal days: %w", err)
		}
		for _, d := range unfinished {
			if ok, err := seal(d); err != nil || !ok {
				return n, work, err == nil, err
			}
		}
	}
	after := int64(math.MinInt64)
	for {
		var d int64
		err := tx.QueryRowContext(ctx, "SELECT bucket FROM user_days WHERE bucket > ? AND bucket < ? ORDER BY bucket LIMIT 1", after, open).Scan(&d)
		if err == sql.ErrNoRows {
			break
		}
		if err != nil {
			return n, work, false, fmt.Errorf("store: seal days: %w", err)
		}
		if ok, err := seal(d); err != nil || !ok {
			return n, work, err == nil, err
		}
		after = d
	}
	var newestDay sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(bucket) FROM user_segs WHERE span = ?", dayMS).Scan(&newestDay); err != nil {
		return n, work, false, fmt.Errorf("store: seal days: %w", err)
	}
	from := int64(0)
	if newestDay.Valid {
		from = newestDay.Int64 + dayMS
	}
	for from < open {
		h, ok, err := nextHourData(ctx, tx, from, open)
		if err != nil {
			return n, work, false, fmt.Errorf("store: seal days: %w", err)
		}
		if !ok {
			break
		}
		d := floorTo(h, dayMS)
		if ok, err := seal(d); err != nil || !ok {
			return n, work, err == nil, err
		}
		from = d + dayMS
	}
	seen := map[int64]bool{}
	for _, h := range hours {
		d := floorTo(h, dayMS)
		if d >= open || seen[d] {
			continue
		}
		seen[d] = true
		var has int
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM user_segs WHERE span = ? AND bucket = ?)", dayMS, d).Scan(&has); err != nil {
			return n, work, false, fmt.Errorf("store: seal days: %w", err)
		}
		if has == 1 {
			continue
		}
		if ok, err := seal(d); err != nil || !ok {
			return n, work, err == nil, err
		}
	}
	return n, work, false, nil
}

// sealAllDaysFromHours seals, one per transaction, every closed day that
// has hour segments but no day segment: at open, for the days a commit's
// seal could not find (a day whose hours were all sealed before a crash
// between the two, or rows dropped by the migration of a day older than
// the newest day segment). Queries are exact without it (they read such a
// day from its hours); it makes them read one segment again.
func (s *Store) sealAllDaysFromHours(ctx context.Context) error {
	after := int64(math.MinInt64)
	for {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: seal days: %w", err)
		}
		newestHour, ok, err := newestHourBucket(ctx, tx)
		if err != nil || !ok {
			tx.Rollback() //nolint:errcheck // the error, if any, is the one to report
			return err
		}
		open := floorTo(newestHour, dayMS)
		var d int64
		err = tx.QueryRowContext(ctx, `SELECT h.bucket - (h.bucket % ?1) FROM user_segs AS h
			WHERE h.span = ?2 AND h.bucket >= ?3 AND h.bucket < ?4
			AND NOT EXISTS (SELECT 1 FROM user_segs AS d WHERE d.span = ?1 AND d.bucket = h.bucket - (h.bucket % ?1))
			ORDER BY h.bucket LIMIT 1`, dayMS, hourMS, after, open).Scan(&d)
		if err == sql.ErrNoRows {
			tx.Rollback() //nolint:errcheck // read only so far
			return nil
		}
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error above is the one to report
			return fmt.Errorf("store: seal days: %w", err)
		}
		if _, _, err := s.sealDayFromHours(ctx, tx, d, open, false, 0); err != nil {
			tx.Rollback() //nolint:errcheck // the error above is the one to report
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: seal days: %w", err)
		}
		after = d + dayMS
	}
}
