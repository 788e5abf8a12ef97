package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// Sealed user segments, as SQLite's (pkg/store/user_segs.go, the shared
// encoding): the rows of a closed user_days or user_hours bucket of an
// org are packed into one user_segs row, so the users summary decodes a
// bucket in Go instead of receiving its rows one by one. The newest bucket
// of each table stays as rows, and so do late rows of an old bucket until
// the next seal; a query reads both in one snapshot. Only commits seal
// (the org's leader, under its lease token): rows a store was migrated
// with, or left by a restart, are sealed by the next commits, a budget
// each, oldest first.

// userTables are the per-actor roll-ups with their bucket widths (ms).
var userTables = []struct {
	table string
	span  int64
}{{"user_days", store.DayMS}, {"user_hours", store.HourMS}}

// sealBudget bounds the entries one Commit seals (about a day of a
// 20 000-user org); the rest is left to the next pages.
const sealBudget = 50000

// sealLock serialises the sealing of an org's buckets (with the org id as
// the second key): a seal reads a segment and rewrites it.
const sealLock = 7366423

// sealUserBuckets seals the org's closed buckets (every bucket older than
// the table's newest), oldest first, until it has handled budget entries:
// from schema 10 a bounded move into parts (user_parts.go); before, whole
// buckets (0: no limit; one bucket is always sealed when there is one).
// work is the entries read; more reports that closed buckets were left.
func (s *Store) sealUserBuckets(ctx context.Context, tx pgx.Tx, budget int) (work int, more bool, err error) {
	if s.userParts {
		return s.sealUserParts(ctx, tx, budget)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", sealLock, s.org); err != nil {
		return 0, false, fmt.Errorf("store: seal user buckets: %w", err)
	}
	for _, t := range userTables {
		rows, err := tx.Query(ctx, `SELECT DISTINCT bucket FROM `+t.table+` WHERE org = $1
			AND bucket < (SELECT MAX(bucket) FROM `+t.table+` WHERE org = $1) ORDER BY bucket`, s.org)
		if err != nil {
			return work, false, fmt.Errorf("store: seal %s: %w", t.table, err)
		}
		buckets, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return work, false, fmt.Errorf("store: seal %s: %w", t.table, err)
		}
		for _, b := range buckets {
			if budget > 0 && work >= budget {
				return work, true, nil
			}
			k, err := s.sealUserBucket(ctx, tx, t.table, t.span, b)
			if err != nil {
				return work, false, err
			}
			work += k
		}
	}
	return work, false, nil
}

// sealUserBucket moves the rows of one bucket into its segment (the rows
// deleted are exactly the rows merged: DELETE … RETURNING).
func (s *Store) sealUserBucket(ctx context.Context, tx pgx.Tx, table string, span, bucket int64) (int, error) {
	fresh, err := deleteEntries(ctx, tx, `DELETE FROM `+table+` WHERE org = $1 AND bucket = $2
		RETURNING `+entryCols, s.org, bucket)
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	var base []byte
	err = tx.QueryRow(ctx, "SELECT data FROM user_segs WHERE org = $1 AND span = $2 AND bucket = $3", s.org, span, bucket).Scan(&base)
	if errors.Is(err, pgx.ErrNoRows) {
		base, err = nil, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: user segment %d/%d: %w", span, bucket, err)
	}
	data, read, err := store.MergeUserSegRows(bucket, base, fresh)
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	if data == nil {
		_, err = tx.Exec(ctx, "DELETE FROM user_segs WHERE org = $1 AND span = $2 AND bucket = $3", s.org, span, bucket)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO user_segs (org, span, bucket, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org, span, bucket) DO UPDATE SET data = excluded.data`, s.org, span, bucket, data)
	}
	if err != nil {
		return 0, fmt.Errorf("store: seal %s %d: %w", table, bucket, err)
	}
	return read, nil
}

// entryCols are a user row's columns as a segment entry (deleteEntries).
const entryCols = "actor, country, actor_id, events, failures, last_seen, last_ip"

// deleteEntries runs a DELETE … RETURNING entryCols and collects the rows
// deleted as segment entries.
func deleteEntries(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]store.UserSegEntry, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.UserSegEntry, error) {
		var e store.UserSegEntry
		err := r.Scan(&e.Actor, &e.Country, &e.ActorID, &e.Events, &e.Failures, &e.LastSeen, &e.LastIP)
		return e, err
	})
}

// segSources is the relation of the sealed entries: user_segs, and from
// schema 10 the parts too (an entry is in one place only).
func (s *Store) segSources() string {
	if s.userParts {
		return "(SELECT org, span, bucket, data FROM user_segs UNION ALL SELECT org, span, bucket, data FROM user_seg_parts) sealed"
	}
	return "user_segs"
}

// scanUserSegs folds the org's sealed segments (and parts) of the span's buckets.
func (s *Store) scanUserSegs(ctx context.Context, tx pgx.Tx, agg *store.UserAgg, sp store.Span, search string) error {
	rows, err := tx.Query(ctx, "SELECT bucket, data FROM "+s.segSources()+" WHERE org = $1 AND span = $2 AND bucket >= $3 AND bucket < $4 ORDER BY bucket DESC",
		s.org, sp.Level, sp.A, sp.B)
	if err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bucket int64
		var data []byte
		if err := rows.Scan(&bucket, &data); err != nil {
			return fmt.Errorf("store: user summaries: segments: %w", err)
		}
		if err := agg.AddSegment(bucket, data, search); err != nil {
			return fmt.Errorf("store: user summaries: segment %d/%d: %w", sp.Level, bucket, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	return nil
}

// dayActorEvents is the org's events per actor in user_days, rows and
// segments (Prune recounts the actors dictionary from it).
func (s *Store) dayActorEvents(ctx context.Context, tx pgx.Tx) (map[string]int64, error) {
	out := map[string]int64{}
	rows, err := tx.Query(ctx, "SELECT actor, SUM(events)::bigint FROM user_days WHERE org = $1 GROUP BY actor", s.org)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[a] += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !s.userSegs {
		return out, nil
	}
	rows, err = tx.Query(ctx, "SELECT bucket, data FROM "+s.segSources()+" WHERE org = $1 AND span = $2", s.org, store.DayMS)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var bucket int64
		var data []byte
		if err := rows.Scan(&bucket, &data); err != nil {
			return nil, err
		}
		entries, err := store.DecodeUserSeg(bucket, data)
		if err != nil {
			return nil, fmt.Errorf("user segment %d: %w", bucket, err)
		}
		for _, e := range entries {
			out[e.Actor] += e.Events
		}
	}
	return out, rows.Err()
}

// userSegsVersion is the schema version that has user_segs.
const userSegsVersion = 6

// addActorSearch keeps the actors whose login contains search, folding
// ASCII letters only: what a sealed segment's filter does (UserAgg,
// SQLite's LIKE), so an actor matches alike in a sealed bucket and in the
// rows not sealed yet (ILIKE also folds É to é, a segment does not).
func addActorSearch(w *where, search string) {
	w.add("translate(actor, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE ?", likeEscape(foldASCII(search)))
}

// foldASCII lower-cases ASCII letters only (what ILIKE under the collation
// "C" and SQLite's LIKE fold).
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
