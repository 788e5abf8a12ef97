package store

import (
	"sort"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// Go-side post-processing of the summary queries, shared by every backend
// (SQLite here, pkg/store/postgres): each backend writes its own SQL for
// the spans of a query, and these fold the rows the same way.

// GeoAgg merges geo point rows of several spans (raw rows and roll-ups)
// by rounded position and outcome.
type GeoAgg struct {
	m map[geoPointKey]*GeoPoint
}

type geoPointKey struct {
	lat, lon float64
	outcome  string
}

// NewGeoAgg returns an empty GeoAgg.
func NewGeoAgg() *GeoAgg { return &GeoAgg{m: map[geoPointKey]*GeoPoint{}} }

// Scan folds rows of (lat, lon, outcome, count, failures, actors,
// country, city, last_seen ms) into the points.
func (g *GeoAgg) Scan(rows AlertRows) error {
	for rows.Next() {
		var p GeoPoint
		var last int64
		if err := rows.Scan(&p.Lat, &p.Lon, &p.Outcome, &p.Count, &p.Failures, &p.Actors, &p.Country, &p.City, &last); err != nil {
			return err
		}
		p.LastSeen = fromMS(last)
		k := geoPointKey{p.Lat, p.Lon, p.Outcome}
		a := g.m[k]
		if a == nil {
			g.m[k] = &p
			continue
		}
		a.Count += p.Count
		a.Failures += p.Failures
		a.Actors += p.Actors // only one span when counting actors
		if p.LastSeen.After(a.LastSeen) {
			a.LastSeen = p.LastSeen
		}
		a.Country, a.City = max(a.Country, p.Country), max(a.City, p.City)
	}
	return rows.Err()
}

// Ranked returns the points ranked and limited (RankGeoPoints).
func (g *GeoAgg) Ranked(limit int) []GeoPoint {
	out := make([]GeoPoint, 0, len(g.m))
	for _, p := range g.m {
		out = append(out, *p)
	}
	return RankGeoPoints(out, limit)
}

// UserAgg merges per-actor activity rows of several spans and the actors'
// alert counts into user summaries.
type UserAgg struct {
	users     map[string]*UserSummary
	countries map[string]map[string]bool
}

// NewUserAgg returns an empty UserAgg.
func NewUserAgg() *UserAgg {
	return &UserAgg{users: map[string]*UserSummary{}, countries: map[string]map[string]bool{}}
}

// ScanActivity folds rows of (actor, country, last_seen ms, last_ip,
// actor_id, events, failures); the newest row gives the last IP and id.
func (g *UserAgg) ScanActivity(rows AlertRows) error {
	for rows.Next() {
		var actor, country, actorID, ip string
		var n, fails, last int64
		if err := rows.Scan(&actor, &country, &last, &ip, &actorID, &n, &fails); err != nil {
			return err
		}
		u := g.users[actor]
		if u == nil {
			u = &UserSummary{Actor: actor}
			g.users[actor] = u
			g.countries[actor] = map[string]bool{}
		}
		u.Events += n
		u.Failures += fails
		if t := fromMS(last); !t.Before(u.LastSeen) {
			u.LastSeen, u.LastIP, u.ActorID = t, ip, actorID
		}
		if country != "" {
			g.countries[actor][country] = true
		}
	}
	return rows.Err()
}

// ScanAlerts folds rows of (actor, actor_id, severity, count): an actor
// with alerts but no activity in the range is listed too.
func (g *UserAgg) ScanAlerts(rows AlertRows) error {
	for rows.Next() {
		var actor, actorID, sev string
		var n int64
		if err := rows.Scan(&actor, &actorID, &sev, &n); err != nil {
			return err
		}
		u := g.users[actor]
		if u == nil { // alerts on an actor whose events are outside the range
			u = &UserSummary{Actor: actor, ActorID: actorID}
			g.users[actor] = u
		}
		u.Alerts += n
		if alert.SeverityRank(sev) > alert.SeverityRank(u.MaxAlertSeverity) {
			u.MaxAlertSeverity = sev
		}
	}
	return rows.Err()
}

// Ranked returns the summaries ordered by alerts, then failures, then
// events (descending), then actor, at most limit of them.
func (g *UserAgg) Ranked(limit int) []UserSummary {
	out := make([]UserSummary, 0, len(g.users))
	for actor, u := range g.users {
		u.Countries = u.Countries[:0]
		for c := range g.countries[actor] {
			u.Countries = append(u.Countries, c)
		}
		sort.Strings(u.Countries)
		if len(u.Countries) == 0 {
			u.Countries = nil
		}
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
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// ScanEventTypes reads rows of (event_type, events, last_seen ms).
func ScanEventTypes(rows AlertRows) ([]EventTypeInfo, error) {
	var out []EventTypeInfo
	for rows.Next() {
		var e EventTypeInfo
		var last int64
		if err := rows.Scan(&e.EventType, &e.Events, &last); err != nil {
			return nil, err
		}
		e.LastSeen = fromMS(last)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ScanActors reads rows of (actor, actor_id, events, last_seen ms).
func ScanActors(rows AlertRows) ([]ActorInfo, error) {
	var out []ActorInfo
	for rows.Next() {
		var a ActorInfo
		var last int64
		if err := rows.Scan(&a.Actor, &a.ActorID, &a.Events, &last); err != nil {
			return nil, err
		}
		a.LastSeen = fromMS(last)
		out = append(out, a)
	}
	return out, rows.Err()
}

// ScanPostureRecords reads rows of (id, time ms, profile, score) — with
// withJSON, (id, time ms, profile, score, json) — and returns the records
// with their ids, for the checks query that follows.
func ScanPostureRecords(rows AlertRows, withJSON bool) ([]PostureRecord, []int64, error) {
	var out []PostureRecord
	var ids []int64
	for rows.Next() {
		var r PostureRecord
		var t int64
		dest := []any{&r.ID, &t, &r.Profile, &r.Score}
		if withJSON {
			dest = append(dest, &r.JSON)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		r.Time = fromMS(t)
		out = append(out, r)
		ids = append(ids, r.ID)
	}
	return out, ids, rows.Err()
}

// ScanPostureChecks reads rows of (report_id, check_id, title, category,
// severity, status, findings, failing), keeping the reports of want (all
// when want is nil).
func ScanPostureChecks(rows AlertRows, want map[int64]bool) (map[int64][]PostureCheckStatus, error) {
	out := map[int64][]PostureCheckStatus{}
	for rows.Next() {
		var id int64
		var c PostureCheckStatus
		if err := rows.Scan(&id, &c.ID, &c.Title, &c.Category, &c.Severity, &c.Status, &c.Findings, &c.Failing); err != nil {
			return nil, err
		}
		if want == nil || want[id] {
			out[id] = append(out[id], c)
		}
	}
	return out, rows.Err()
}

// AttachChecks sets each record's checks.
func AttachChecks(recs []PostureRecord, checks map[int64][]PostureCheckStatus) {
	for i := range recs {
		recs[i].Checks = checks[recs[i].ID]
	}
}
