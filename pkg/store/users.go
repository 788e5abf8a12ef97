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
// Whole days come from user_days, whole hours from user_hours and the
// sub-hour edges from the events. A closed bucket of the roll-ups is one
// sealed segment (user_segs.go) decoded and folded in Go; the open ones
// (the newest bucket, late rows not sealed yet) are read as rows. Both are
// merged per actor by UserAgg. Grouping the roll-up rows in SQL cost
// ~0.7 µs per row (a sort), handing them to Go ~1.4 µs; a week at 10 M
// events and 20 000 users is ~450 000 of them (docs/performance.md).
func (s *Store) UserSummaries(ctx context.Context, q UserQuery) ([]UserSummary, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	agg := NewUserAgg()
	scan := func(query string, args []any) error {
		rows, err := s.r.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: user summaries: %w", err)
		}
		defer rows.Close()
		if err := agg.ScanActivity(rows); err != nil {
			return fmt.Errorf("store: user summaries: %w", err)
		}
		return nil
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
			table := "user_hours"
			if sp.level == dayMS {
				table = "user_days"
			}
			if s.userSegs {
				if err := s.scanUserSegs(ctx, agg, sp, q.Search); err != nil {
					return nil, err
				}
			}
			// the rows not sealed yet; one per bucket, actor and country
			w.add("bucket >= ? AND bucket < ?", sp.a, sp.b)
			if q.Search != "" {
				w.add("actor LIKE ? ESCAPE '\\'", likeEscape(q.Search))
			}
			query = `SELECT actor, country, last_seen, last_ip, actor_id, events, failures FROM ` + table + w.sql()
		}
		if err := scan(query, w.args); err != nil {
			return nil, err
		}
	}
	var aw where
	aw.add("time BETWEEN ? AND ?", lo, hi)
	aw.add("actor <> ''")
	if q.Search != "" {
		aw.add("actor LIKE ? ESCAPE '\\'", likeEscape(q.Search))
	}
	arows, err := s.r.QueryContext(ctx, "SELECT actor, MAX(actor_id), severity, COUNT(*) FROM alerts"+aw.sql()+" GROUP BY actor, severity", aw.args...)
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	defer arows.Close()
	if err := agg.ScanAlerts(arows); err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	return agg.Ranked(q.Limit), nil
}

// scanUserSegs folds the sealed segments of the span's buckets.
func (s *Store) scanUserSegs(ctx context.Context, agg *UserAgg, sp span, search string) error {
	rows, err := s.r.QueryContext(ctx, "SELECT bucket, data FROM user_segs WHERE span = ? AND bucket >= ? AND bucket < ? ORDER BY bucket DESC",
		sp.level, sp.a, sp.b)
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
		if err := agg.AddSegment(bucket, data, search); err != nil {
			return fmt.Errorf("store: user summaries: segment %d/%d: %w", sp.level, bucket, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: user summaries: segments: %w", err)
	}
	return nil
}
