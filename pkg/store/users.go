package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// UserQuery selects per-actor summaries.
type UserQuery struct {
	From, To time.Time
	Search   string // substring of the actor login ("" = all)
	Limit    int
}

// UserSummary is one actor's activity in the range.
type UserSummary struct {
	Actor            string
	ActorID          string
	Events           int64
	Failures         int64
	Alerts           int64
	MaxAlertSeverity string   // highest alert severity in the range, "" without alerts
	Countries        []string // distinct countries, sorted
	LastSeen         time.Time
	LastIP           string
}

// UserSummaries summarises each actor's events and alerts in the range,
// ordered by alerts, then failures, then events (descending), then actor.
//
// Whole days come from user_days (a day without a segment yet, the open
// day, from its hours: user_days.go), whole hours from user_hours and the
// sub-hour edges from the events. A closed bucket of the roll-ups is one
// sealed segment (user_segs.go) decoded and folded in Go; the open ones
// (the newest bucket, late rows not sealed yet) are read as rows. Both are
// merged per actor by UserAgg. The alerts are read first, so that when
// enough actors have alerts only those that can rank are folded
// (UserAgg.KeepTop). Grouping the roll-up rows in SQL cost
// ~0.7 µs per row (a sort), handing them to Go ~1.4 µs; a week at 10 M
// events and 20 000 users is ~450 000 of them (docs/performance.md).
func (s *Store) UserSummaries(ctx context.Context, q UserQuery) ([]UserSummary, error) {
	agg, err := s.userAgg(ctx, q)
	if err != nil {
		return nil, err
	}
	return agg.Ranked(q.Limit), nil
}

// userAgg folds what UserSummaries ranks.
func (s *Store) userAgg(ctx context.Context, q UserQuery) (*UserAgg, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	// one read transaction: every statement sees the same snapshot, so a
	// seal committed meanwhile (rows into a segment, a day built from its
	// hours) is either wholly seen or not at all
	rtx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	defer rtx.Rollback() //nolint:errcheck // read only
	agg := NewUserAgg()
	agg.byMap = s.userFoldByMap
	scan := func(query string, args []any) error {
		rows, err := rtx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: user summaries: %w", err)
		}
		defer rows.Close()
		if err := agg.ScanActivity(rows); err != nil {
			return fmt.Errorf("store: user summaries: %w", err)
		}
		return nil
	}
	// the alerts first: when at least Limit actors have alerts, only those
	// with as many as the Limit-th can rank, and the activity of the
	// others is not folded (UserAgg.KeepTop)
	var aw where
	aw.add("time BETWEEN ? AND ?", lo, hi)
	aw.add("actor <> ''")
	if q.Search != "" {
		aw.add("actor LIKE ? ESCAPE '\\'", likeEscape(q.Search))
	}
	arows, err := rtx.QueryContext(ctx, userAlertsSQL+aw.sql(), aw.args...)
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	keep := q.Limit
	if s.userFoldAll {
		keep = 0
	}
	err = agg.ScanAlertsFirst(arows, keep)
	arows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	// newest span first, newest bucket first: an actor's first entry is
	// then its newest, and the older ones skip the last IP and id
	sps := spans(lo, endExclusive(hi), []int64{dayMS, hourMS})
	slices.Reverse(sps)
	for _, sp := range sps {
		var w where
		var query string
		if sp.level == 0 {
			w.add("published >= ? AND published < ?", sp.a, sp.b)
			w.add("actor <> ''")
			if q.Search != "" {
				w.add("actor LIKE ? ESCAPE '\\'", likeEscape(q.Search))
			}
			// MAX(published) is the only min/max aggregate, so the bare ip
			// and actor_id come from the newest row (documented SQLite behaviour).
			query = `SELECT actor, country, MAX(published), ip, actor_id, COUNT(*), SUM(outcome IN ('FAILURE', 'DENY'))
				FROM events` + w.sql() + ` GROUP BY actor, country`
		} else {
			if sp.level == dayMS && s.daysFromHours {
				// the days without a segment (the open day) from their hours
				days, err := unsealedDays(ctx, rtx, sp.a, sp.b)
				if err != nil {
					return nil, fmt.Errorf("store: user summaries: %w", err)
				}
				for _, d := range days {
					if err := s.scanUserRollup(ctx, rtx, agg, span{hourMS, d, d + dayMS}, q.Search, scan); err != nil {
						return nil, err
					}
				}
			}
			if err := s.scanUserRollup(ctx, rtx, agg, sp, q.Search, scan); err != nil {
				return nil, err
			}
			continue
		}
		if err := scan(query, w.args); err != nil {
			return nil, err
		}
	}
	return agg, nil
}

// scanUserRollup folds a span of whole buckets of user_days or
// user_hours: the sealed segments and the rows not sealed yet (one per
// bucket, actor and country). From schema 17 the user_days rows of a day
// without a segment are not its entries (user_days.go): only those of the
// sealed days are read.
func (s *Store) scanUserRollup(ctx context.Context, q querier, agg *UserAgg, sp span, search string, scan func(string, []any) error) error {
	if s.userSegs {
		if err := s.scanUserSegs(ctx, q, agg, sp, search); err != nil {
			return err
		}
	}
	table := "user_hours"
	var w where
	w.add("bucket >= ? AND bucket < ?", sp.a, sp.b)
	if sp.level == dayMS {
		table = "user_days"
		if s.daysFromHours {
			w.add("bucket IN (SELECT bucket FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ?)", dayMS, sp.a, sp.b)
		}
	}
	if search != "" {
		w.add("actor LIKE ? ESCAPE '\\'", likeEscape(search))
	}
	return scan(`SELECT actor, country, last_seen, last_ip, actor_id, events, failures FROM `+table+w.sql(), w.args)
}

// userAlertsSQL lists the alerts' actors and severities, one row per
// alert, folded per actor by ScanAlerts. From schema 13 the index
// alerts_time_actor covers it (no alert row is read). Grouping them in SQL
// first costs more than it saves: most actors have one alert of a
// severity in a week (10 M store: 11 666 alerts, 10 819 groups; 21 cpu-ms
// grouped, 13 not; 30-41 from the alert rows).
const userAlertsSQL = "SELECT actor, actor_id, severity, 1 FROM alerts"

// scanUserSegs folds the sealed segments of the span's buckets: the
// coarse segments wholly inside it where they exist (user_coarse.go), the
// base ones elsewhere, newest first.
func (s *Store) scanUserSegs(ctx context.Context, q querier, agg *UserAgg, sp span, search string) error {
	return s.scanUserSegLevels(ctx, q, agg, sp.level, s.userSegLevels(sp.level), sp.a, sp.b, search)
}

// scanUserSegLevels folds [a, b) from the coarsest level of levels whose
// segments exist, the gaps from the finer levels, down to the base span.
func (s *Store) scanUserSegLevels(ctx context.Context, q querier, agg *UserAgg, base int64, levels []int64, a, b int64, search string) error {
	if a >= b {
		return nil
	}
	if len(levels) == 0 {
		return s.foldUserSegs(ctx, q, agg, base, a, b, search)
	}
	w := levels[0]
	var coarse []int64 // newest first
	rows, err := q.QueryContext(ctx, "SELECT bucket FROM user_segs WHERE span = ? AND bucket >= ? AND bucket <= ? ORDER BY bucket DESC",
		w, ceilTo(a, w), b-w)
	if err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	for rows.Next() {
		var c int64
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return fmt.Errorf("store: user summaries: segments: %w", err)
		}
		coarse = append(coarse, c)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	hi := b
	for _, c := range coarse {
		if err := s.scanUserSegLevels(ctx, q, agg, base, levels[1:], c+w, hi, search); err != nil {
			return err
		}
		if err := s.foldUserSegs(ctx, q, agg, w, c, c+1, search); err != nil {
			return err
		}
		hi = c
	}
	return s.scanUserSegLevels(ctx, q, agg, base, levels[1:], a, hi, search)
}

// foldUserSegs folds the segments of one span with buckets in [a, b).
func (s *Store) foldUserSegs(ctx context.Context, q querier, agg *UserAgg, span, a, b int64, search string) error {
	rows, err := q.QueryContext(ctx, "SELECT bucket, data FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ? ORDER BY bucket DESC",
		span, a, b)
	if err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	defer rows.Close()
	var data sql.RawBytes
	for rows.Next() {
		var bucket int64
		if err := rows.Scan(&bucket, &data); err != nil {
			return fmt.Errorf("store: user summaries: segments: %w", err)
		}
		if isPartsMarker(data) { // in parts (user_parts.go)
			if err := foldUserSegParts(ctx, q, agg, span, bucket, search); err != nil {
				return fmt.Errorf("store: user summaries: %w", err)
			}
			continue
		}
		if err := agg.AddSegment(bucket, data, search); err != nil {
			return fmt.Errorf("store: user summaries: segment %d/%d: %w", span, bucket, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	return nil
}
