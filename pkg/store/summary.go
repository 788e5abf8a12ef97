package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SignInEventTypes are the event types GeoPoints counts when the query
// names no event type: the interactive sign-in set of detections.md.
var SignInEventTypes = []string{
	"user.session.start",
	"user.authentication.sso",
	"user.authentication.verify",
	"user.authentication.auth_via_mfa",
	"user.authentication.auth_via_IDP",
}

// GeoQuery selects located events for a map.
type GeoQuery struct {
	From, To        time.Time
	Actor           string
	EventTypePrefix string // "" = the sign-in set (SignInEventTypes)
	Outcome         string
	ByOutcome       bool // one point per location and outcome
	Precision       int  // decimals lat/lon are rounded to: 1 (default, ≈ 11 km) or 2 (≈ 1 km)
	Limit           int  // points, the busiest first
	// CountActors fills GeoPoint.Actors (distinct actors per point). It
	// reads the range's rows instead of the hourly roll-up: exact but
	// slower on long ranges of large stores.
	CountActors bool
}

// GeoPoint is one rounded location with its counts.
type GeoPoint struct {
	Lat, Lon float64
	Country  string
	City     string // one city seen at this location
	Outcome  string // only with ByOutcome
	Count    int64
	Failures int64
	Actors   int64 // distinct actors
	LastSeen time.Time
}

// GeoPoints groups located events by rounded latitude/longitude, busiest
// first. Locations are rounded to 2 decimals, then to q.Precision. Without
// an actor filter whole hours come from a roll-up (exact).
func (s *Store) GeoPoints(ctx context.Context, q GeoQuery) ([]GeoPoint, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	prec := q.Precision
	if prec == 0 {
		prec = 1
	}
	if prec < 0 || prec > 2 {
		return nil, fmt.Errorf("store: %w: geo precision must be 1 or 2 decimals (0 = default 1), got %d", ErrInvalidQuery, q.Precision)
	}
	agg := NewGeoAgg()
	actorsCol := "0"
	if q.CountActors {
		actorsCol = "COUNT(DISTINCT actor)"
	}
	// one read transaction: the spans, sealed days and rows of one snapshot
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: geo points: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	scan := func(query string, args []any) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("store: geo points: %w", err)
		}
		defer rows.Close()
		if err := agg.Scan(rows); err != nil {
			return fmt.Errorf("store: geo points: %w", err)
		}
		return nil
	}
	rawSpan := func(a, b int64) error {
		w := s.geoRawWhere(q, a, b)
		return scan(fmt.Sprintf(`SELECT ROUND(ROUND(lat, 2), %d) AS rlat, ROUND(ROUND(lon, 2), %d) AS rlon, %s AS o, COUNT(*),
			SUM(outcome IN ('FAILURE', 'DENY')), %s, MAX(country), MAX(city), MAX(published)
			FROM events%s GROUP BY rlat, rlon, o`, prec, prec, geoOutcomeCol(q), actorsCol, w.sql()), w.args)
	}
	rollSpan := func(table string, a, b int64) error {
		w := geoRollWhere(q, a, b)
		return scan(fmt.Sprintf(`SELECT ROUND(lat, %d) AS rlat, ROUND(lon, %d) AS rlon, %s AS o, SUM(n),
			SUM(CASE WHEN outcome IN ('FAILURE', 'DENY') THEN n ELSE 0 END), 0, MAX(country), MAX(city), MAX(last_seen)
			FROM %s%s GROUP BY rlat, rlon, o`, prec, prec, geoOutcomeCol(q), table, w.sql()), w.args)
	}
	end := endExclusive(hi)
	if s.geoSets && !s.geoOld && q.Actor == "" {
		// schema 18: sealed days, hours and, with distinct actors, their
		// sets (geo_sets.go)
		sp, ok, err := geoSetSpans(ctx, tx, lo, end)
		if err != nil {
			return nil, err
		}
		if ok {
			if q.CountActors {
				return s.geoPointsFromSets(ctx, tx, q, prec, sp)
			}
			for _, x := range sp {
				switch x.level {
				case 0:
					err = rawSpan(x.a, x.b)
				case hourMS:
					err = rollSpan("geo_hours", x.a, x.b)
				default:
					err = rollSpan("geo_days", x.a, x.b)
				}
				if err != nil {
					return nil, err
				}
			}
			return agg.Ranked(q.Limit), nil
		}
	}
	levels := []int64{hourMS}
	if q.Actor != "" || q.CountActors {
		levels = nil
	}
	for _, sp := range spans(lo, end, levels) {
		if sp.level == 0 {
			err = rawSpan(sp.a, sp.b)
		} else {
			err = rollSpan("geo_hours", sp.a, sp.b)
		}
		if err != nil {
			return nil, err
		}
	}
	return agg.Ranked(q.Limit), nil
}

// geoOutcomeCol is the outcome a geo point is keyed by (an empty string:
// all outcomes in one point).
func geoOutcomeCol(q GeoQuery) string {
	if q.ByOutcome {
		return "outcome"
	}
	return "''"
}

// geoTypeFilter restricts to the sign-in types when no prefix is given.
func geoTypeFilter(q GeoQuery, w *where) {
	if q.EventTypePrefix == "" {
		js, _ := json.Marshal(SignInEventTypes)
		w.add("event_type IN (SELECT value FROM json_each(?))", string(js))
	}
}

// geoRawWhere selects a geo query's located events in [a, b).
func (s *Store) geoRawWhere(q GeoQuery, a, b int64) where {
	eq := EventQuery{Actor: q.Actor, EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome}
	eq.hours = s.entityHours
	w := eq.where(a, b-1, "")
	geoTypeFilter(q, &w)
	w.add("lat IS NOT NULL AND lon IS NOT NULL")
	return w
}

// geoRollWhere selects a geo query's roll-up rows (geo_hours, geo_days)
// of buckets in [a, b).
func geoRollWhere(q GeoQuery, a, b int64) where {
	var w where
	w.add("bucket >= ? AND bucket < ?", a, b)
	if q.EventTypePrefix != "" {
		w.add("event_type >= ? AND event_type < ?", q.EventTypePrefix, prefixUpper(q.EventTypePrefix))
	}
	geoTypeFilter(q, &w)
	if q.Outcome != "" {
		w.add("outcome = ?", strings.ToUpper(q.Outcome))
	}
	return w
}

// span is [a, b) read from a roll-up of the given bucket width (0 = rows).
type span struct{ level, a, b int64 }

// spans splits [lo, end) into whole buckets of the coarsest level possible
// and finer pieces at the edges, down to raw rows.
func spans(lo, end int64, levels []int64) []span {
	// open bounds: no stored event predates 1970 or lies past year 146 million
	lo, end = max(lo, 0), min(end, 1<<62)
	if lo >= end {
		return nil
	}
	if len(levels) == 0 {
		return []span{{0, lo, end}}
	}
	l := levels[0] // #nosec G602 -- len(levels) > 0: the empty case returned just above
	a, b := ceilTo(lo, l), floorTo(end, l)
	if a >= b {
		return spans(lo, end, levels[1:]) // #nosec G602 -- len(levels) > 0: the empty case returned above
	}
	out := spans(lo, a, levels[1:]) // #nosec G602 -- len(levels) > 0: the empty case returned above
	out = append(out, span{l, a, b})
	return append(out, spans(b, end, levels[1:])...) // #nosec G602 -- len(levels) > 0: the empty case returned above
}

func endExclusive(hi int64) int64 {
	if hi == maxInt64 {
		return hi
	}
	return hi + 1
}

// EventTypeInfo is one known event type.
type EventTypeInfo struct {
	EventType string
	Events    int64 // stored events of this type
	LastSeen  time.Time
}

// EventTypes lists the stored event types starting with prefix, by name.
func (s *Store) EventTypes(ctx context.Context, prefix string, limit int) ([]EventTypeInfo, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT event_type, events, last_seen FROM event_types
		WHERE event_type >= ? AND event_type < ? AND events > 0 ORDER BY event_type LIMIT ?`, prefix, prefixUpper(prefix), limit)
	if err != nil {
		return nil, fmt.Errorf("store: event types: %w", err)
	}
	defer rows.Close()
	out, err := ScanEventTypes(rows)
	if err != nil {
		return nil, fmt.Errorf("store: event types: %w", err)
	}
	return out, nil
}

// ActorInfo is one known actor.
type ActorInfo struct {
	Actor    string
	ActorID  string
	Events   int64
	LastSeen time.Time
}

// Actors lists stored actors whose login contains search (case-insensitive
// for ASCII), most recently seen first.
func (s *Store) Actors(ctx context.Context, search string, limit int) ([]ActorInfo, error) {
	if err := s.checkLimit(limit); err != nil {
		return nil, err
	}
	q := `SELECT actor, actor_id, events, last_seen FROM actors
		WHERE actor LIKE ?1 ESCAPE '\' AND events > 0 ORDER BY last_seen DESC, actor LIMIT ?2`
	if s.actorsLog { // the table plus the log not folded yet (actors_log.go)
		q = actorsListSQL
	}
	rows, err := s.r.QueryContext(ctx, q, likeEscape(search), limit)
	if err != nil {
		return nil, fmt.Errorf("store: actors: %w", err)
	}
	defer rows.Close()
	out, err := ScanActors(rows)
	if err != nil {
		return nil, fmt.Errorf("store: actors: %w", err)
	}
	return out, nil
}

// RankGeoPoints orders points by count (most first), then position and
// outcome, and keeps the first limit; every backend's geo query ends with it.
func RankGeoPoints(out []GeoPoint, limit int) []GeoPoint {
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Lat != b.Lat {
			return a.Lat < b.Lat
		}
		if a.Lon != b.Lon {
			return a.Lon < b.Lon
		}
		return a.Outcome < b.Outcome
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}
