package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store"
)

const failed = "outcome IN ('FAILURE', 'DENY')"

// GeoPoints groups the org's located events by rounded location (see
// store.Store.GeoPoints); whole sealed days come from geo_days (schema 8)
// and whole hours from geo_hours unless actors are filtered; distinct
// actors are counted from the actor sets (geo_sets.go).
func (s *Store) GeoPoints(ctx context.Context, q store.GeoQuery) ([]store.GeoPoint, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	prec := q.Precision
	if prec == 0 {
		prec = 1
	}
	if prec < 0 || prec > 2 {
		return nil, fmt.Errorf("store: %w: geo precision must be 1 or 2 decimals (0 = default 1), got %d", store.ErrInvalidQuery, q.Precision)
	}
	agg := store.NewGeoAgg()
	typeFilter := func(w *where) {
		if q.EventTypePrefix == "" {
			w.add("event_type = ANY(?)", store.SignInEventTypes)
		}
	}
	actorsCol := "0::bigint"
	if q.CountActors {
		actorsCol = "COUNT(DISTINCT actor)"
	}
	outcomeCol := "''"
	if q.ByOutcome {
		outcomeCol = "outcome"
	}
	// with the sealed days, one snapshot: a seal between two statements
	// would count a day twice or not at all
	var db interface {
		Query(context.Context, string, ...any) (pgx.Rows, error)
	} = s.pool
	spans := func() ([]store.Span, error) {
		levels := []int64{store.HourMS}
		if q.Actor != "" || q.CountActors {
			levels = nil
		}
		return store.Spans(lo, store.EndExclusive(hi), levels), nil
	}
	if s.geoSets && q.Actor == "" && !q.CountActors {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return nil, fmt.Errorf("store: geo points: %w", err)
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
		db = tx
		spans = func() ([]store.Span, error) { return s.geoSetSpans(ctx, tx, lo, store.EndExclusive(hi)) }
	}
	scan := func(query string, args []any) error {
		rows, err := db.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: geo points: %w", err)
		}
		defer rows.Close()
		if err := agg.Scan(rows); err != nil {
			return fmt.Errorf("store: geo points: %w", err)
		}
		return nil
	}
	rnd := func(col string) string {
		return fmt.Sprintf("round(round(%s::numeric, 2), %d)::float8", col, prec)
	}
	// Rows are grouped by their exact location first and rounded after:
	// a range holds few distinct locations, and rounding through numeric
	// per row was most of the 7-day panel's time (EXPLAIN ANALYZE on the
	// 1 M benchmark schema: 62 ms -> 15 ms over ~24 000 geo_hours rows).
	// Counting distinct actors cannot be split by exact location, so that
	// query rounds each row.
	rawSpan := func(a, b int64) error {
		w := s.where()
		eventWhere(w, store.EventQuery{Actor: q.Actor, EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome}, a, b-1)
		typeFilter(w)
		w.add("lat IS NOT NULL AND lon IS NOT NULL")
		if q.CountActors {
			return scan(fmt.Sprintf(`SELECT %s AS rlat, %s AS rlon, %s AS o, COUNT(*), COUNT(*) FILTER (WHERE %s), %s,
				MAX(country), MAX(city), MAX(published) FROM events%s GROUP BY 1, 2, 3`,
				rnd("lat"), rnd("lon"), outcomeCol, failed, actorsCol, w.sql()), w.args)
		}
		return scan(fmt.Sprintf(`SELECT %s AS rlat, %s AS rlon, o, SUM(n)::bigint, SUM(f)::bigint, 0::bigint, MAX(country), MAX(city), MAX(ls)
			FROM (SELECT lat, lon, %s AS o, COUNT(*) AS n, COUNT(*) FILTER (WHERE %s) AS f, MAX(country) AS country, MAX(city) AS city,
				MAX(published) AS ls FROM events%s GROUP BY lat, lon, o) g GROUP BY 1, 2, 3`,
			rnd("lat"), rnd("lon"), outcomeCol, failed, w.sql()), w.args)
	}
	rollSpan := func(table string, a, b int64) error {
		w := s.where()
		w.add("bucket >= ? AND bucket < ?", a, b)
		if q.EventTypePrefix != "" {
			w.add("event_type >= ? AND event_type < ?", q.EventTypePrefix, prefixUpper(q.EventTypePrefix))
		}
		typeFilter(w)
		if q.Outcome != "" {
			w.add("outcome = ?", strings.ToUpper(q.Outcome))
		}
		return scan(geoRollupSQL(table, prec, outcomeCol, w), w.args)
	}
	if q.CountActors && q.Actor == "" && s.geoSets {
		pts, ok, err := s.geoPointsFromSets(ctx, q, prec, lo, store.EndExclusive(hi))
		if ok || err != nil {
			return pts, err
		}
	}
	sp, err := spans()
	if err != nil {
		return nil, err
	}
	for _, sp := range sp {
		switch sp.Level {
		case 0:
			err = rawSpan(sp.A, sp.B)
		case store.DayMS:
			err = rollSpan("geo_days", sp.A, sp.B)
		default:
			err = rollSpan("geo_hours", sp.A, sp.B)
		}
		if err != nil {
			return nil, err
		}
	}
	return agg.Ranked(q.Limit), nil
}

// geoRollupSQL is the geo_hours (or geo_days) statement of a span of
// whole hours (days); migration 5 keeps geo_hours off parallel workers,
// migration 8 geo_days.
func geoRollupSQL(table string, prec int, outcomeCol string, w *where) string {
	return fmt.Sprintf(`SELECT round(lat::numeric, %d)::float8 AS rlat, round(lon::numeric, %d)::float8 AS rlon, o,
		SUM(n)::bigint, SUM(f)::bigint, 0::bigint, MAX(country), MAX(city), MAX(ls)
		FROM (SELECT lat, lon, %s AS o, SUM(n) AS n, COALESCE(SUM(n) FILTER (WHERE %s), 0) AS f, MAX(country) AS country,
			MAX(city) AS city, MAX(last_seen) AS ls FROM %s%s GROUP BY lat, lon, o) g GROUP BY 1, 2, 3`,
		prec, prec, outcomeCol, failed, table, w.sql())
}

// UserSummaries summarises each actor of the org in the range (see
// store.Store.UserSummaries): whole days and hours from the user roll-ups.
func (s *Store) UserSummaries(ctx context.Context, q store.UserQuery) ([]store.UserSummary, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	// one snapshot: a seal moving rows into a segment in between two
	// statements would count them twice or not at all
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	agg := store.NewUserAgg()
	folder := newUserRowFolder()
	// the alerts first: when at least Limit actors have alerts, only those
	// with as many as the Limit-th can rank, and the others' activity is
	// not folded (store.UserAgg.KeepTop)
	aw := s.where()
	aw.add("time BETWEEN ? AND ?", lo, hi)
	aw.add("actor <> ''")
	if q.Search != "" {
		addActorSearch(aw, q.Search)
	}
	arows, err := tx.Query(ctx, "SELECT actor, MAX(actor_id), severity, COUNT(*) FROM alerts"+aw.sql()+" GROUP BY actor, severity", aw.args...)
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	err = agg.ScanAlertsFirst(arows, q.Limit)
	arows.Close()
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	// newest span first, newest bucket first (as SQLite): an actor's first
	// entry is then its newest, and UserAgg skips the older ones' strings
	sps := store.Spans(lo, store.EndExclusive(hi), []int64{store.DayMS, store.HourMS})
	slices.Reverse(sps)
	for _, sp := range sps {
		w := s.where()
		if sp.Level == 0 {
			w.add("published >= ? AND published < ?", sp.A, sp.B)
			w.add("actor <> ''")
			if q.Search != "" {
				addActorSearch(w, q.Search)
			}
			rows, err := tx.Query(ctx, `SELECT actor, country, MAX(published), (array_agg(ip ORDER BY published DESC))[1],
				(array_agg(actor_id ORDER BY published DESC))[1], COUNT(*), COUNT(*) FILTER (WHERE `+failed+`)
				FROM events`+w.sql()+` GROUP BY actor, country`, w.args...)
			if err != nil {
				return nil, fmt.Errorf("store: user summaries: %w", err)
			}
			err = agg.ScanActivity(rows)
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("store: user summaries: %w", err)
			}
			continue
		}
		// A closed bucket is one sealed segment (user_segs.go), decoded
		// into UserAgg; the rows not sealed yet (the newest bucket, late
		// rows) are folded per actor and country in Go (user_rows.go).
		// Grouping the rows in SQL instead sorted every actor's rows and ran
		// two ordered array_aggs per group (docs/performance.md).
		if s.userSegs {
			if err := s.scanUserSegs(ctx, tx, agg, sp, q.Search); err != nil {
				return nil, err
			}
		}
		table := "user_hours"
		if sp.Level == store.DayMS {
			table = "user_days"
		}
		w.add("bucket >= ? AND bucket < ?", sp.A, sp.B)
		if q.Search != "" {
			addActorSearch(w, q.Search)
		}
		rows, err := tx.Query(ctx, `SELECT actor, country, last_seen, last_ip, actor_id, events, failures FROM `+table+w.sql(), w.args...)
		if err != nil {
			return nil, fmt.Errorf("store: user summaries: %w", err)
		}
		err = folder.fold(rows)
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: user summaries: %w", err)
		}
	}
	if err := agg.ScanActivity(folder.rows()); err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	return agg.Ranked(q.Limit), nil
}

// EventTypes lists the org's event types starting with prefix.
func (s *Store) EventTypes(ctx context.Context, prefix string, limit int) ([]store.EventTypeInfo, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT event_type, events, last_seen FROM event_types
		WHERE org = $1 AND event_type >= $2 AND event_type < $3 AND events > 0 ORDER BY event_type LIMIT $4`,
		s.org, prefix, prefixUpper(prefix), limit)
	if err != nil {
		return nil, fmt.Errorf("store: event types: %w", err)
	}
	defer rows.Close()
	out, err := store.ScanEventTypes(rows)
	if err != nil {
		return nil, fmt.Errorf("store: event types: %w", err)
	}
	return out, nil
}

// Actors lists the org's actors whose login contains search, most recent first.
func (s *Store) Actors(ctx context.Context, search string, limit int) ([]store.ActorInfo, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	w := s.where()
	w.add("events > 0")
	if search != "" {
		w.add("actor ILIKE ?", likeEscape(search))
	}
	rows, err := s.pool.Query(ctx, `SELECT actor, actor_id, events, last_seen FROM actors`+w.sql()+
		` ORDER BY last_seen DESC, actor LIMIT `+w.next(limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: actors: %w", err)
	}
	defer rows.Close()
	out, err := store.ScanActors(rows)
	if err != nil {
		return nil, fmt.Errorf("store: actors: %w", err)
	}
	return out, nil
}
