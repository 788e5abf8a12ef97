package store

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"

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
		a.Merge(&p)
		a.Actors += p.Actors // only one span when counting actors
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

// UserAgg merges per-actor activity rows of several spans, sealed user
// segments (user_segs.go) and the actors' alert counts into user summaries.
//
// A segment's entries are sorted by actor, so AddSegment finds each
// entry's user by walking the users sorted by actor beside them (one
// string comparison per step) instead of a map look-up per entry: the map
// look-up (hash, probe, compare, and a cache miss on a map of 20 000
// users) was about half of the fold's CPU (docs/performance.md, "Panels
// with margin"). The map stays for the rows and alerts, which come in
// any order.
type UserAgg struct {
	users map[string]*userAcc
	// sorted holds the users of users by actor, except those in pending
	// (added since the last AddSegment), which settle merges in
	sorted, pending []*userAcc
	scratch         []byte    // decoded segment, reused
	slab            []userAcc // where create takes new users from (one allocation per 512)
	// segments and entries folded by AddSegment (tests and benchmarks
	// check what a query reads)
	segments, entries int
	// byMap makes AddSegment look each entry up in the map (the fold
	// before the sorted walk; benchmarks compare the two)
	byMap bool
	// only: fold activity into the users already here, add none (KeepTop)
	only bool
	// folded: activity has been folded (KeepTop must come before it)
	folded bool
}

type userAcc struct {
	UserSummary
	lastMS int64 // newest activity, unix ms (math.MinInt64: none yet)
}

// NewUserAgg returns an empty UserAgg.
func NewUserAgg() *UserAgg {
	return &UserAgg{users: map[string]*userAcc{}}
}

func (g *UserAgg) get(actor []byte) *userAcc {
	u := g.users[string(actor)] // no allocation for the look-up
	if u == nil {
		u = g.create(string(actor))
	}
	return u
}

// create adds a user without activity yet.
func (g *UserAgg) create(actor string) *userAcc {
	if len(g.slab) == 0 {
		g.slab = make([]userAcc, 512)
	}
	u := &g.slab[0]
	g.slab = g.slab[1:]
	*u = userAcc{UserSummary: UserSummary{Actor: actor}, lastMS: math.MinInt64}
	g.users[actor] = u
	g.pending = append(g.pending, u)
	return u
}

// settle merges the pending users into sorted.
func (g *UserAgg) settle() {
	if len(g.pending) == 0 {
		return
	}
	byActor := func(a, b *userAcc) int { return strings.Compare(a.Actor, b.Actor) }
	slices.SortFunc(g.pending, byActor) // already sorted when AddSegment added them
	merged := make([]*userAcc, 0, len(g.sorted)+len(g.pending))
	i, j := 0, 0
	for i < len(g.sorted) && j < len(g.pending) {
		if g.sorted[i].Actor < g.pending[j].Actor {
			merged = append(merged, g.sorted[i])
			i++
		} else {
			merged = append(merged, g.pending[j])
			j++
		}
	}
	merged = append(append(merged, g.sorted[i:]...), g.pending[j:]...)
	g.sorted, g.pending = merged, g.pending[:0]
}

// add folds one activity entry; the newest (or equally new, later
// folded) entry gives the last IP and actor id.
func (u *userAcc) add(country, lastIP, actorID []byte, n, fails, last int64) {
	u.Events += n
	u.Failures += fails
	if last >= u.lastMS {
		u.lastMS = last
		if u.LastIP != string(lastIP) {
			u.LastIP = string(lastIP)
		}
		if u.ActorID != string(actorID) {
			u.ActorID = string(actorID)
		}
	}
	if len(country) == 0 {
		return
	}
	for _, c := range u.Countries {
		if c == string(country) {
			return
		}
	}
	u.Countries = append(u.Countries, string(country))
}

// ScanActivity folds rows of (actor, country, last_seen ms, last_ip,
// actor_id, events, failures); the newest row gives the last IP and id.
func (g *UserAgg) ScanActivity(rows AlertRows) error {
	g.folded = true
	for rows.Next() {
		var actor, country, actorID, ip string
		var n, fails, last int64
		if err := rows.Scan(&actor, &country, &last, &ip, &actorID, &n, &fails); err != nil {
			return err
		}
		u := g.users[actor]
		if u == nil {
			if g.only { // cannot rank (KeepTop)
				continue
			}
			u = g.create(actor)
		}
		u.add([]byte(country), []byte(ip), []byte(actorID), n, fails, last)
	}
	return rows.Err()
}

// ScanAlertsFirst folds the alerts (ScanAlerts) before any activity, then
// narrows the fold to the users that can rank among the first limit
// (KeepTop; limit 0 does not narrow). Both backends' users summaries.
func (g *UserAgg) ScanAlertsFirst(rows AlertRows, limit int) error {
	if err := g.ScanAlerts(rows); err != nil {
		return err
	}
	g.KeepTop(limit)
	return nil
}

// KeepTop narrows the fold to the users that can be among the first limit
// of Ranked, when the alerts alone tell: call it after ScanAlerts and
// before any activity (it does nothing otherwise). Ranked orders by
// alerts first, so when at least limit users have alerts, a user with
// fewer alerts than the limit-th most is outranked by limit users whatever
// its activity, and so is a user without alerts: only the users with at
// least that many alerts are kept, and the activity of every other actor
// is skipped (a segment's entries are still decoded, but not folded into
// users). With fewer than limit users with alerts, users without alerts
// rank by failures and events, which needs every user: nothing changes.
// It reports whether it narrowed. The answer is the same either way
// (TestUserAggKeepTop); at 10 M events and 20 000 users a week's 100 come
// from ~450 users with 3 alerts or more (docs/performance.md).
func (g *UserAgg) KeepTop(limit int) bool {
	if g.folded || limit <= 0 || len(g.users) < limit {
		return false
	}
	counts := make([]int64, 0, len(g.users))
	for _, u := range g.users {
		if u.Alerts > 0 {
			counts = append(counts, u.Alerts)
		}
	}
	if len(counts) < limit {
		return false
	}
	slices.SortFunc(counts, func(a, b int64) int { return cmp.Compare(b, a) })
	least := counts[limit-1]
	for actor, u := range g.users {
		if u.Alerts < least {
			delete(g.users, actor)
		}
	}
	g.pending = slices.DeleteFunc(g.pending, func(u *userAcc) bool { return u.Alerts < least })
	g.sorted = slices.DeleteFunc(g.sorted, func(u *userAcc) bool { return u.Alerts < least })
	g.only = true
	return true
}

// AddSegment folds the entries of a sealed user segment of the bucket
// starting at bucket (unix ms), keeping the actors that contain search
// (case-insensitive for ASCII, as SQL LIKE; "" keeps all).
func (g *UserAgg) AddSegment(bucket int64, data []byte, search string) error {
	r, scratch, err := openUserSeg(bucket, data, g.scratch)
	g.scratch = scratch
	if err != nil {
		return err
	}
	g.segments++
	g.folded = true
	g.settle()
	needle := asciiLower([]byte(search))
	var e rawEntry
	var u *userAcc // nil: the entry's actor is skipped (only)
	var prev []byte
	started := false
	j := 0 // g.sorted[:j] sort before the current actor
	for {
		ok, err := r.next(&e)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		g.entries++
		if len(needle) > 0 && !containsFold(e.actor, needle) {
			continue
		}
		// entries are sorted by actor: an actor's other countries follow
		// (e.actor aliases the decoded segment, unchanged until the next)
		if !started || !bytes.Equal(e.actor, prev) {
			if !started && !g.byMap {
				// a part of a segment (user_parts.go) starts anywhere:
				// skip the users before it in one search, not a walk
				a := e.actor
				j = sort.Search(len(g.sorted), func(i int) bool { return g.sorted[i].Actor >= string(a) })
			}
			started, prev = true, e.actor
			switch {
			case g.byMap && g.only:
				u = g.users[string(e.actor)]
			case g.byMap:
				u = g.get(e.actor)
			case g.only: // the users kept by KeepTop, sorted: no new ones
				u = nil
				for j < len(g.sorted) && g.sorted[j].Actor < string(e.actor) {
					j++
				}
				if j < len(g.sorted) && g.sorted[j].Actor == string(e.actor) {
					u = g.sorted[j]
					j++
				}
			default:
				// a segment holds most users of the range, so the next user
				// in order is usually this entry's: one equality test (a
				// length compare first) before walking with <
				if j < len(g.sorted) && g.sorted[j].Actor == string(e.actor) {
					u = g.sorted[j]
					j++ // the next entries' actors sort after it
				} else {
					for j < len(g.sorted) && g.sorted[j].Actor < string(e.actor) {
						j++
					}
					if j < len(g.sorted) && g.sorted[j].Actor == string(e.actor) {
						u = g.sorted[j]
						j++
					} else { // new, and after every pending one (sorted entries)
						u = g.create(string(e.actor))
					}
				}
			}
		}
		if u != nil {
			u.add(e.country, e.lastIP, e.actorID, e.events, e.failures, e.lastSeen)
		}
	}
}

func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// containsFold reports whether s contains the lower-case needle, folding
// ASCII letters of s only (SQLite's LIKE).
func containsFold(s, needle []byte) bool {
outer:
	for i := 0; i+len(needle) <= len(s); i++ {
		for j, n := range needle {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != n {
				continue outer
			}
		}
		return true
	}
	return false
}

// ScanAlerts folds rows of (actor, actor_id, severity, count), one or
// more per actor and severity: an actor with alerts but no activity in
// the range is listed too, with the largest actor id of its alerts.
func (g *UserAgg) ScanAlerts(rows AlertRows) error {
	for rows.Next() {
		var actor, actorID, sev string
		var n int64
		if err := rows.Scan(&actor, &actorID, &sev, &n); err != nil {
			return err
		}
		u := g.users[actor]
		if u == nil { // alerts on an actor whose events are outside the range
			u = g.create(actor)
			u.ActorID = actorID
		} else if u.lastMS == math.MinInt64 && actorID > u.ActorID {
			u.ActorID = actorID // no activity: the largest id of its alerts
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
	rank := func(a, b *userAcc) int {
		if c := cmp.Compare(b.Alerts, a.Alerts); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Failures, a.Failures); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Events, a.Events); c != 0 {
			return c
		}
		return strings.Compare(a.Actor, b.Actor)
	}
	if limit <= 0 {
		return []UserSummary{}
	}
	// the best limit, kept sorted: most users fail the comparison with the
	// worst kept one (cheaper than sorting every user of the range)
	top := make([]*userAcc, 0, min(limit, len(g.users))+1)
	for _, u := range g.users {
		if len(top) == limit && rank(u, top[limit-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, u, rank)
		top = slices.Insert(top, i, u)
		if len(top) > limit {
			top = top[:limit]
		}
	}
	out := make([]UserSummary, 0, len(top))
	for _, u := range top {
		if u.lastMS != math.MinInt64 {
			u.LastSeen = fromMS(u.lastMS)
		}
		sort.Strings(u.Countries)
		out = append(out, u.UserSummary)
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
