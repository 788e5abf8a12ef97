package store

import (
	"context"
	"database/sql"
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
	Precision       int  // decimals lat/lon are rounded to (0..4; default 1 ≈ 11 km)
	Limit           int  // points, the busiest first
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

// GeoPoints groups located events by rounded latitude/longitude, busiest first.
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
	if prec < 0 || prec > 4 {
		return nil, fmt.Errorf("store: %w: geo precision must be 0..4 decimals, got %d", ErrInvalidQuery, q.Precision)
	}
	eq := EventQuery{Actor: q.Actor, EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome}
	w := eq.where(lo, hi, "")
	if q.EventTypePrefix == "" {
		js, _ := json.Marshal(SignInEventTypes)
		w.add("event_type IN (SELECT value FROM json_each(?))", string(js))
	}
	w.add("lat IS NOT NULL AND lon IS NOT NULL")
	outcomeCol, groupExtra := "''", ""
	if q.ByOutcome {
		outcomeCol, groupExtra = "outcome", ", outcome"
	}
	query := fmt.Sprintf(`SELECT ROUND(lat, %d) AS rlat, ROUND(lon, %d) AS rlon, %s, COUNT(*) AS n,
		SUM(outcome IN ('FAILURE', 'DENY')), COUNT(DISTINCT actor), MAX(country), MAX(city), MAX(published)
		FROM events%s GROUP BY rlat, rlon%s ORDER BY n DESC, rlat, rlon LIMIT ?`, prec, prec, outcomeCol, w.sql(), groupExtra)
	rows, err := s.r.QueryContext(ctx, query, append(w.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: geo points: %w", err)
	}
	defer rows.Close()
	var out []GeoPoint
	for rows.Next() {
		var p GeoPoint
		var last int64
		if err := rows.Scan(&p.Lat, &p.Lon, &p.Outcome, &p.Count, &p.Failures, &p.Actors, &p.Country, &p.City, &last); err != nil {
			return nil, fmt.Errorf("store: geo points: %w", err)
		}
		p.LastSeen = fromMS(last)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: geo points: %w", err)
	}
	return out, nil
}

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

var severityRank = map[string]int{"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

// UserSummaries summarises each actor's events and alerts in the range,
// ordered by alerts, then failures, then events (descending).
func (s *Store) UserSummaries(ctx context.Context, q UserQuery) ([]UserSummary, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	var w where
	w.add("published BETWEEN ? AND ?", lo, hi)
	w.add("actor <> ''")
	if q.Search != "" {
		w.add("actor LIKE ? ESCAPE '\\'", likeEscape(q.Search))
	}
	// MAX(published) is the only min/max aggregate, so the bare ip column
	// comes from the newest row (SQLite's documented behaviour).
	rows, err := s.r.QueryContext(ctx, `SELECT actor, MAX(published), ip, actor_id, COUNT(*),
		SUM(outcome IN ('FAILURE', 'DENY')), group_concat(DISTINCT NULLIF(country, ''))
		FROM events`+w.sql()+` GROUP BY actor`, w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	users := map[string]*UserSummary{}
	for rows.Next() {
		var u UserSummary
		var last int64
		var countries sql.NullString
		if err := rows.Scan(&u.Actor, &last, &u.LastIP, &u.ActorID, &u.Events, &u.Failures, &countries); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: user summaries: %w", err)
		}
		u.LastSeen = fromMS(last)
		if countries.Valid && countries.String != "" {
			u.Countries = strings.Split(countries.String, ",")
			sort.Strings(u.Countries)
		}
		users[u.Actor] = &u
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
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
	for arows.Next() {
		var actor, actorID, sev string
		var n int64
		if err := arows.Scan(&actor, &actorID, &sev, &n); err != nil {
			return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
		}
		u := users[actor]
		if u == nil { // alerts on an actor whose events are outside the range
			u = &UserSummary{Actor: actor, ActorID: actorID}
			users[actor] = u
		}
		u.Alerts += n
		if severityRank[sev] > severityRank[u.MaxAlertSeverity] {
			u.MaxAlertSeverity = sev
		}
	}
	if err := arows.Err(); err != nil {
		return nil, fmt.Errorf("store: user summaries: alerts: %w", err)
	}
	out := make([]UserSummary, 0, len(users))
	for _, u := range users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Alerts != b.Alerts {
			return a.Alerts > b.Alerts
		}
		if a.Failures != b.Failures {
			return a.Failures > b.Failures
		}
		if a.Events != b.Events {
			return a.Events > b.Events
		}
		return a.Actor < b.Actor
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
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
	var out []EventTypeInfo
	for rows.Next() {
		var e EventTypeInfo
		var last int64
		if err := rows.Scan(&e.EventType, &e.Events, &last); err != nil {
			return nil, fmt.Errorf("store: event types: %w", err)
		}
		e.LastSeen = fromMS(last)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
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
	rows, err := s.r.QueryContext(ctx, `SELECT actor, actor_id, events, last_seen FROM actors
		WHERE actor LIKE ? ESCAPE '\' AND events > 0 ORDER BY last_seen DESC, actor LIMIT ?`, likeEscape(search), limit)
	if err != nil {
		return nil, fmt.Errorf("store: actors: %w", err)
	}
	defer rows.Close()
	var out []ActorInfo
	for rows.Next() {
		var a ActorInfo
		var last int64
		if err := rows.Scan(&a.Actor, &a.ActorID, &a.Events, &last); err != nil {
			return nil, fmt.Errorf("store: actors: %w", err)
		}
		a.LastSeen = fromMS(last)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: actors: %w", err)
	}
	return out, nil
}
