package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"modernc.org/sqlite"
)

// Distinct users per Geomap point from roll-ups (schema 18).
//
// Every geo_hours row carries the set of actors of its events (column
// actors): the actors' numbers (geo_actor_ids, one number per login, never
// reused) sorted and stored as varint deltas. A commit merges its page's
// sets into the rows it upserts (oktaguard_geoset_union, a Go function
// SQLite calls in the upsert). When a day is over its hour rows are
// folded into geo_days (one row per key of the day, counts summed, sets
// united) and the day is listed in geo_sealed_days. A Geomap query with
// distinct users then unites the sets of whole sealed days, of whole
// hours at the edges and, for the sub-hour ends, reads raw rows with
// their actors' numbers: exact, like COUNT(DISTINCT actor) over the rows.
//
// Stores migrated from schema 17 have no sets for their existing rows
// yet: geo_build holds the hours [lo, hi) still to build from the raw
// events, newest first, a few hours per transaction at open (resumable).
// A query touching that range reads raw rows as before.

const geoSetsVersion = 18

const geoSetsMigration = `
CREATE TABLE geo_actor_ids (
	gid   INTEGER PRIMARY KEY,      -- the actor's number in the sets
	login TEXT    NOT NULL UNIQUE   -- events.actor
);
ALTER TABLE geo_hours ADD COLUMN actors BLOB; -- NULL until built (geo_build)
CREATE TABLE geo_days (
	bucket     INTEGER NOT NULL,  -- unix ms, start of the UTC day
	event_type TEXT    NOT NULL,
	outcome    TEXT    NOT NULL,
	lat        REAL    NOT NULL,
	lon        REAL    NOT NULL,
	country    TEXT    NOT NULL,
	city       TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	actors     BLOB    NOT NULL,
	PRIMARY KEY (bucket, event_type, outcome, lat, lon, country, city)
) WITHOUT ROWID;
CREATE TABLE geo_sealed_days (bucket INTEGER PRIMARY KEY);
CREATE TABLE geo_build (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	lo INTEGER NOT NULL,          -- hours in [lo, hi) have no sets yet
	hi INTEGER NOT NULL
);
INSERT INTO geo_build SELECT 1, MIN(bucket), MAX(bucket) + 3600000 FROM geo_hours HAVING COUNT(*) > 0;
`

// geoBuildHours is how many hours one transaction of the build at open
// fills.
const geoBuildHours = 6

// geoIDCacheMax bounds the writer's cache of actor numbers.
const geoIDCacheMax = 200000

func init() {
	registerGeoUnion("oktaguard_geoset_union", unionGeoSets)
	sqlite.MustRegisterFunction("oktaguard_geoset_agg", &sqlite.FunctionImpl{NArgs: 1, Deterministic: true,
		MakeAggregate: func(sqlite.FunctionContext) (sqlite.AggregateFunction, error) { return &geoSetAgg{}, nil }})
}

// registerGeoUnion registers f(row's blob, page's blob) as an SQL
// function for the upserts; a row not built yet (NULL: geo_build,
// geo_mins_build) stays so.
func registerGeoUnion(name string, f func(a, b []byte) ([]byte, error)) {
	sqlite.MustRegisterDeterministicScalarFunction(name, 2,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			if args[0] == nil {
				return nil, nil
			}
			a, _ := args[0].([]byte)
			b, _ := args[1].([]byte)
			return f(a, b)
		})
}

// geoSetAgg unites sets in SQL (the day seal).
type geoSetAgg struct {
	ids []uint32
	err error
}

func (g *geoSetAgg) Step(_ *sqlite.FunctionContext, args []driver.Value) error {
	b, _ := args[0].([]byte)
	return forGeoSet(b, func(id uint32) { g.ids = append(g.ids, id) })
}

func (g *geoSetAgg) WindowInverse(*sqlite.FunctionContext, []driver.Value) error {
	return errors.New("oktaguard_geoset_agg: not a window function")
}

func (g *geoSetAgg) WindowValue(*sqlite.FunctionContext) (driver.Value, error) {
	slices.Sort(g.ids)
	return appendGeoSet(nil, slices.Compact(g.ids)), nil
}

func (g *geoSetAgg) Final(*sqlite.FunctionContext) {}

// appendGeoSet encodes sorted distinct ids as varint deltas.
func appendGeoSet(dst []byte, ids []uint32) []byte {
	var prev uint32
	for i, id := range ids {
		d := id - prev
		if i == 0 {
			d = id
		}
		dst = binary.AppendUvarint(dst, uint64(d))
		prev = id
	}
	if dst == nil {
		dst = []byte{}
	}
	return dst
}

var errGeoSet = errors.New("store: corrupt geo actor set")

// forGeoSet calls f with each id of an encoded set, in order.
func forGeoSet(b []byte, f func(uint32)) error {
	var id uint64
	for first := true; len(b) > 0; first = false {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return errGeoSet
		}
		b = b[n:]
		if first {
			id = d
		} else {
			id += d
		}
		if id > 1<<32-1 {
			return errGeoSet
		}
		f(uint32(id))
	}
	return nil
}

func unionGeoSets(a, b []byte) ([]byte, error) {
	var ids []uint32
	for _, s := range [2][]byte{a, b} {
		if err := forGeoSet(s, func(id uint32) { ids = append(ids, id) }); err != nil {
			return nil, err
		}
	}
	slices.Sort(ids)
	return appendGeoSet(make([]byte, 0, len(a)+len(b)), slices.Compact(ids)), nil
}

// geoActorAgg folds geo rows with actor sets (or raw rows with one actor
// each) into a GeoAgg's points and counts each point's distinct actors.
type geoActorAgg struct {
	*GeoAgg
	sets  map[geoPointKey]*IDBits
	local map[geoPointKey]map[string]struct{} // raw actors without a number (none normally)
}

func newGeoActorAgg() *geoActorAgg {
	return &geoActorAgg{GeoAgg: NewGeoAgg(), sets: map[geoPointKey]*IDBits{}}
}

func (g *geoActorAgg) point(p *GeoPoint) *IDBits {
	k := geoPointKey{p.Lat, p.Lon, p.Outcome}
	if a := g.m[k]; a == nil {
		g.m[k] = p
	} else {
		a.Merge(p)
	}
	s := g.sets[k]
	if s == nil {
		s = &IDBits{}
		g.sets[k] = s
	}
	return s
}

// scanSets folds rows of (lat, lon, outcome, count, failures, country,
// city, last_seen ms, actors set, whether the set is NULL).
func (g *geoActorAgg) scanSets(rows *sql.Rows) error {
	for rows.Next() {
		p := &GeoPoint{}
		var last int64
		var set []byte
		var unbuilt bool
		if err := rows.Scan(&p.Lat, &p.Lon, &p.Outcome, &p.Count, &p.Failures, &p.Country, &p.City, &last, &set, &unbuilt); err != nil {
			return err
		}
		if unbuilt {
			return errors.New("store: geo row without its actor set")
		}
		p.LastSeen = fromMS(last)
		s := g.point(p)
		if err := forGeoSet(set, s.Add); err != nil {
			return err
		}
	}
	return rows.Err()
}

// scanPoints folds aggregated raw rows of (lat, lon, outcome, count,
// failures, actors (ignored), country, city, last_seen ms) into the points.
func (g *geoActorAgg) scanPoints(rows *sql.Rows) error {
	for rows.Next() {
		p := &GeoPoint{}
		var last, ignored int64
		if err := rows.Scan(&p.Lat, &p.Lon, &p.Outcome, &p.Count, &p.Failures, &ignored, &p.Country, &p.City, &last); err != nil {
			return err
		}
		p.LastSeen = fromMS(last)
		g.point(p)
	}
	return rows.Err()
}

// scanRawActors folds the distinct (lat, lon, outcome, actor number or
// NULL, actor when it has no number) of raw rows into the points' sets.
func (g *geoActorAgg) scanRawActors(rows *sql.Rows) error {
	for rows.Next() {
		p := &GeoPoint{}
		var gid sql.NullInt64
		var actor sql.NullString
		if err := rows.Scan(&p.Lat, &p.Lon, &p.Outcome, &gid, &actor); err != nil {
			return err
		}
		k := geoPointKey{p.Lat, p.Lon, p.Outcome}
		set := g.sets[k]
		if set == nil {
			set = g.point(p) // (scanPoints saw every point first)
		}
		if gid.Valid {
			set.Add(uint32(gid.Int64)) // #nosec G115 -- geo_actor_ids rowids, one per distinct actor, allocated by this store from 1
			continue
		}
		if g.local == nil {
			g.local = map[geoPointKey]map[string]struct{}{}
		}
		if g.local[k] == nil {
			g.local[k] = map[string]struct{}{}
		}
		g.local[k][actor.String] = struct{}{}
	}
	return rows.Err()
}

// ranked sets each point's distinct actors and ranks the points.
func (g *geoActorAgg) ranked(limit int) []GeoPoint {
	for k, s := range g.sets {
		g.m[k].Actors = s.Count() + int64(len(g.local[k]))
	}
	return g.Ranked(limit)
}

// geoIDs returns the numbers of the given actors, numbering new ones in
// tx. New numbers enter the writer's cache once tx commits
// (installGeoIDs); a rolled-back number is never cached.
func (s *Store) geoIDs(ctx context.Context, tx *sql.Tx, actors map[string]struct{}) (map[string]uint32, error) {
	out := make(map[string]uint32, len(actors))
	var miss []string
	for a := range actors {
		if id, ok := s.geoIDCache[a]; ok {
			out[a] = id
		} else if id, ok := s.geoIDPending[a]; ok {
			out[a] = id
		} else {
			miss = append(miss, a)
		}
	}
	if len(miss) == 0 {
		return out, nil
	}
	slices.Sort(miss)
	if s.geoIDPending == nil {
		s.geoIDPending = map[string]uint32{}
	}
	for len(miss) > 0 {
		n := min(len(miss), 500)
		args := make([]any, n)
		q := "INSERT INTO geo_actor_ids (login) VALUES (?)"
		for i, a := range miss[:n] {
			args[i] = a
			if i > 0 {
				q += ",(?)"
			}
		}
		// ON CONFLICT DO UPDATE (a no-op) so that RETURNING reports the
		// existing rows too
		rows, err := tx.QueryContext(ctx, q+" ON CONFLICT(login) DO UPDATE SET login = excluded.login RETURNING gid, login", args...)
		if err != nil {
			return nil, fmt.Errorf("store: geo actor ids: %w", err)
		}
		for rows.Next() {
			var id int64
			var a string
			if err := rows.Scan(&id, &a); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: geo actor ids: %w", err)
			}
			out[a] = uint32(id)            // #nosec G115 -- geo_actor_ids rowids, one per distinct actor, allocated by this store from 1
			s.geoIDPending[a] = uint32(id) // #nosec G115 -- as above
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("store: geo actor ids: %w", err)
		}
		miss = miss[n:]
	}
	for a := range actors {
		if _, ok := out[a]; !ok {
			return nil, fmt.Errorf("store: geo actor ids: no number for an actor")
		}
	}
	return out, nil
}

// installGeoIDs caches the numbers of a committed transaction (commit);
// dropGeoIDs forgets those of a rolled-back one.
func (s *Store) installGeoIDs() {
	if s.geoIDCache == nil {
		s.geoIDCache = map[string]uint32{}
	}
	for a, id := range s.geoIDPending {
		if len(s.geoIDCache) >= geoIDCacheMax {
			break
		}
		s.geoIDCache[a] = id
	}
	s.geoIDPending = nil
}

func (s *Store) dropGeoIDs() { s.geoIDPending = nil }

// geoPage collects a page's actors (and their events' offsets in the
// hour) per geo_hours key.
type geoPage struct {
	keys   map[GeoKey][]geoPageHit
	maxDay int64 // start of the page's newest day (any event), -1 if none
}

type geoPageHit struct {
	actor string
	at    int64 // ms since the start of the hour
}

func newGeoPage() *geoPage { return &geoPage{keys: map[GeoKey][]geoPageHit{}, maxDay: -1} }

func (p *geoPage) add(c *EventColumns, eventType, outcome, actor string) {
	p.maxDay = max(p.maxDay, c.Published-c.Published%dayMS)
	if !c.HasGeo {
		return
	}
	k := GeoKey{c.Published - c.Published%hourMS, eventType, outcome, c.Lat, c.Lon, c.Country, c.City}
	p.keys[k] = append(p.keys[k], geoPageHit{actor, c.Published - k.Bucket})
}

// writeGeoSets upserts the page's geo rows with their actor sets into
// geo_hours, and into geo_days for the keys of sealed days, then seals
// the days the page closed. It replaces upsertGeo on schema 18.
func (s *Store) writeGeoSets(ctx context.Context, tx *sql.Tx, geos map[GeoKey]*Seen, page *geoPage) error {
	if len(geos) > 0 {
		actors := map[string]struct{}{}
		days := map[int64]bool{}
		for k, hs := range page.keys {
			for _, h := range hs {
				actors[h.actor] = struct{}{}
			}
			days[k.Bucket-k.Bucket%dayMS] = false
		}
		ids, err := s.geoIDs(ctx, tx, actors)
		if err != nil {
			return err
		}
		if err := geoSealedDays(ctx, tx, days); err != nil {
			return err
		}
		hourKey, ncols := "geo_hours_sets", 10
		if s.geoMins {
			hourKey, ncols = "geo_hours_mins", 11
		}
		hourArgs := make([]any, 0, ncols*len(geos))
		var dayArgs []any
		buf := make([]uint32, 0, 64)
		var hits []geoHit
		var mins geoMins
		for k, g := range geos {
			hits = hits[:0]
			for _, h := range page.keys[k] {
				hits = append(hits, geoHit{ids[h.actor], h.at})
			}
			set, m := geoSetAndMins(hits, buf, &mins)
			hourArgs = append(hourArgs, k.Bucket, k.EventType, k.Outcome, k.Lat, k.Lon, k.Country, k.City, g.N, g.LastSeen, set)
			if s.geoMins {
				hourArgs = append(hourArgs, m)
			}
			if day := k.Bucket - k.Bucket%dayMS; days[day] {
				dayArgs = append(dayArgs, day, k.EventType, k.Outcome, k.Lat, k.Lon, k.Country, k.City, g.N, g.LastSeen, set)
			}
		}
		if err := s.multiExec(ctx, tx, hourKey, hourArgs); err != nil {
			return fmt.Errorf("store: commit: geo_hours: %w", err)
		}
		if err := s.multiExec(ctx, tx, "geo_days", dayArgs); err != nil {
			return fmt.Errorf("store: commit: geo_days: %w", err)
		}
	}
	if page.maxDay > s.geoChecked {
		if err := s.sealGeoDays(ctx, tx, s.geoChecked, page.maxDay); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		s.geoCheckedPending = page.maxDay
	}
	return nil
}

// geoSealedDays marks which of the given days are sealed.
func geoSealedDays(ctx context.Context, tx *sql.Tx, days map[int64]bool) error {
	for d := range days {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM geo_sealed_days WHERE bucket = ?", d).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: geo sealed days: %w", err)
		}
		days[d] = err == nil
	}
	return nil
}

// geoBuildRange is the range of hours whose sets are not built yet (lo >=
// hi: none).
func geoBuildRange(ctx context.Context, q rowQuerier) (lo, hi int64, err error) {
	return readBuildRange(ctx, q, "geo_build")
}

type rowQuerier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// readBuildRange reads the range [lo, hi) of a build table (geo_build,
// geo_mins_build); none when the table has no row.
func readBuildRange(ctx context.Context, q rowQuerier, table string) (lo, hi int64, err error) {
	err = q.QueryRowContext(ctx, "SELECT lo, hi FROM "+table+" WHERE id = 1").Scan(&lo, &hi)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: %s: %w", table, err)
	}
	return lo, hi, nil
}

// sealGeoDays folds each day in [from, to) that has geo_hours rows, is
// not sealed and is built, into geo_days.
func (s *Store) sealGeoDays(ctx context.Context, tx *sql.Tx, from, to int64) error {
	blo, bhi, err := geoBuildRange(ctx, tx)
	if err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT bucket - bucket % 86400000 AS d FROM geo_hours
		WHERE bucket >= ? AND bucket < ? AND d NOT IN (SELECT bucket FROM geo_sealed_days WHERE bucket >= ? AND bucket < ?)`, from, to, from, to)
	if err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	var days []int64
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return fmt.Errorf("store: seal geo days: %w", err)
		}
		if blo < bhi && d < bhi && d+dayMS > blo {
			continue // hours without sets yet
		}
		days = append(days, d)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	for _, d := range days {
		for _, q := range []string{
			"DELETE FROM geo_days WHERE bucket = ?1",
			`INSERT INTO geo_days (bucket, event_type, outcome, lat, lon, country, city, n, last_seen, actors)
			SELECT ?1, event_type, outcome, lat, lon, country, city, SUM(n), MAX(last_seen), oktaguard_geoset_agg(actors)
			FROM geo_hours WHERE bucket >= ?1 AND bucket < ?1 + 86400000 GROUP BY event_type, outcome, lat, lon, country, city`,
			"INSERT INTO geo_sealed_days (bucket) VALUES (?1)",
		} {
			if _, err := tx.ExecContext(ctx, q, d); err != nil {
				return fmt.Errorf("store: seal geo day: %w", err)
			}
		}
	}
	return nil
}

// buildGeoHour sets the actor sets of every geo_hours row of hour h from
// the raw events.
func (s *Store) buildGeoHour(ctx context.Context, tx *sql.Tx, h int64) error {
	type key struct {
		typ, outcome  string
		lat, lon      float64
		country, city string
	}
	rows, err := tx.QueryContext(ctx, `SELECT event_type, outcome, ROUND(lat, 2), ROUND(lon, 2), country, city, actor, published
		FROM events WHERE published >= ? AND published < ? AND lat IS NOT NULL AND lon IS NOT NULL`, h, h+hourMS)
	if err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	sets := map[key][]geoPageHit{}
	actors := map[string]struct{}{}
	for rows.Next() {
		var k key
		var a string
		var at int64
		if err := rows.Scan(&k.typ, &k.outcome, &k.lat, &k.lon, &k.country, &k.city, &a, &at); err != nil {
			rows.Close()
			return fmt.Errorf("store: build geo sets: %w", err)
		}
		sets[k] = append(sets[k], geoPageHit{a, at - h})
		actors[a] = struct{}{}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	ids, err := s.geoIDs(ctx, tx, actors)
	if err != nil {
		return err
	}
	// rows left without events (none after a prune's clean-up) get an
	// empty set (and no minutes)
	cols := "actors = ?1"
	if s.geoMins {
		cols += ", mins = ?2"
	}
	if _, err := tx.ExecContext(ctx, "UPDATE geo_hours SET "+cols+" WHERE bucket = ?3", []byte{}, []byte{}, h); err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	var buf []uint32
	var hits []geoHit
	var mins geoMins
	for k, hs := range sets {
		hits = hits[:0]
		for _, x := range hs {
			hits = append(hits, geoHit{ids[x.actor], x.at})
		}
		set, m := geoSetAndMins(hits, buf, &mins)
		if _, err := tx.ExecContext(ctx, "UPDATE geo_hours SET "+cols+` WHERE bucket = ?3 AND event_type = ?4 AND outcome = ?5
			AND lat = ?6 AND lon = ?7 AND country = ?8 AND city = ?9`, set, m, h, k.typ, k.outcome,
			k.lat, k.lon, k.country, k.city); err != nil {
			return fmt.Errorf("store: build geo sets: %w", err)
		}
	}
	return nil
}

// buildAllGeoSets builds the sets of the hours geo_build lists, newest
// first, geoBuildHours hours per transaction, then seals the closed days
// (at open: resumable, each transaction leaves a usable store).
func (s *Store) buildAllGeoSets(ctx context.Context) error {
	for step := 1; ; step++ {
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: build geo sets: %w", err)
		}
		done, err := s.buildGeoSetsStep(ctx, tx)
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error above is the one to report
			s.dropGeoIDs()
			return fmt.Errorf("store: build geo sets: %w", err)
		}
		s.installGeoIDs()
		if done {
			break
		}
		if s.opts.geoBuildLimit > 0 && step >= s.opts.geoBuildLimit {
			return nil
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var newest sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(bucket) FROM geo_hours").Scan(&newest); err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	open := newest.Int64 - newest.Int64%dayMS
	if err := s.sealGeoDays(ctx, tx, 0, open); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	s.geoChecked = open
	return nil
}

// buildGeoSetsStep builds up to geoBuildHours hours, the newest of those
// without sets (geo_build) or without minutes (geo_mins_build; a hour
// built gets both); done when none is left.
func (s *Store) buildGeoSetsStep(ctx context.Context, tx *sql.Tx) (bool, error) {
	lo, hi, err := geoBuildRange(ctx, tx)
	if err != nil {
		return false, err
	}
	mlo, mhi, err := s.geoMinsBuildRange(ctx, tx)
	if err != nil {
		return false, err
	}
	top, bottom := int64(-1<<63), int64(1<<63-1)
	for _, r := range [][2]int64{{lo, hi}, {mlo, mhi}} {
		if r[0] < r[1] {
			top, bottom = max(top, r[1]), min(bottom, r[0])
		}
	}
	if bottom >= top {
		return true, nil
	}
	next := max(bottom, top-geoBuildHours*hourMS)
	for h := top - hourMS; h >= next; h -= hourMS {
		if err := s.buildGeoHour(ctx, tx, h); err != nil {
			return false, err
		}
	}
	for _, r := range []struct {
		table  string
		lo, hi int64
	}{{"geo_build", lo, hi}, {"geo_mins_build", mlo, mhi}} {
		switch {
		case r.lo >= r.hi || r.hi <= next: // nothing to build, or below this step
		case next <= r.lo:
			_, err = tx.ExecContext(ctx, "DELETE FROM "+r.table) // #nosec G202 -- r.table is one of two constant table names in the loop above
		default:
			_, err = tx.ExecContext(ctx, "UPDATE "+r.table+" SET hi = ?", next) // #nosec G202 -- r.table is one of two constant table names in the loop above
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// pruneGeoHours lists the hours of a prune chunk's located events (read
// before they are deleted).
func (s *Store) pruneGeoHours(ctx context.Context, tx *sql.Tx, idsJSON string) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT published - (published % 3600000) FROM events
		WHERE id IN (SELECT value FROM json_each(?)) AND lat IS NOT NULL AND lon IS NOT NULL`, idsJSON)
	if err != nil {
		return nil, fmt.Errorf("store: prune: geo sets: %w", err)
	}
	var hours []int64
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: prune: geo sets: %w", err)
		}
		hours = append(hours, h)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("store: prune: geo sets: %w", err)
	}
	return hours, nil
}

// rebuildPrunedGeo, after a prune chunk deleted its events, rebuilds the
// sets of the hours they were in from the events left and unseals their
// days (sealed again from their hours by the prune's last chunk).
func (s *Store) rebuildPrunedGeo(ctx context.Context, tx *sql.Tx, hours []int64) error {
	for _, h := range hours {
		if err := s.buildGeoHour(ctx, tx, h); err != nil {
			return err
		}
		d := h - h%dayMS
		for _, q := range []string{"DELETE FROM geo_days WHERE bucket = ?", "DELETE FROM geo_sealed_days WHERE bucket = ?"} {
			if _, err := tx.ExecContext(ctx, q, d); err != nil {
				return fmt.Errorf("store: prune: geo sets: %w", err)
			}
		}
	}
	return nil
}

// geoSetSpans splits [lo, end) into sealed days (level dayMS), hours and
// raw pieces; ok is false when the range has hours whose sets are not
// built yet (the caller reads raw rows as before schema 18).
func geoSetSpans(ctx context.Context, tx *sql.Tx, lo, end int64) (out []span, ok bool, err error) {
	blo, bhi, err := geoBuildRange(ctx, tx)
	if err != nil {
		return nil, false, err
	}
	if blo < bhi && lo < bhi && end > blo {
		return nil, false, nil
	}
	sp := spans(lo, end, []int64{dayMS, hourMS})
	for _, x := range sp {
		if x.level != dayMS {
			out = append(out, x)
			continue
		}
		rows, err := tx.QueryContext(ctx, "SELECT bucket FROM geo_sealed_days WHERE bucket >= ? AND bucket < ? ORDER BY bucket", x.a, x.b)
		if err != nil {
			return nil, false, fmt.Errorf("store: geo points: %w", err)
		}
		// runs of sealed days, and between them days read from their hours
		cur := x.a
		for rows.Next() {
			var d int64
			if err := rows.Scan(&d); err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("store: geo points: %w", err)
			}
			if n := len(out); d == cur && n > 0 && out[n-1].level == dayMS && out[n-1].b == d {
				out[n-1].b = d + dayMS
			} else {
				if d > cur {
					out = append(out, span{hourMS, cur, d})
				}
				out = append(out, span{dayMS, d, d + dayMS})
			}
			cur = d + dayMS
		}
		if err := rows.Close(); err != nil {
			return nil, false, fmt.Errorf("store: geo points: %w", err)
		}
		if cur < x.b {
			out = append(out, span{hourMS, cur, x.b})
		}
	}
	return out, true, nil
}

// geoPointsFromSets answers a geo query with distinct actors from the
// spans of geoSetSpans: the sets of sealed days and hours, and raw rows
// with their actors' numbers.
func (s *Store) geoPointsFromSets(ctx context.Context, tx *sql.Tx, q GeoQuery, prec int, sp []span) ([]GeoPoint, error) {
	agg := newGeoActorAgg()
	query := func(scan func(*sql.Rows) error, q string, args []any) error {
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("store: geo points: %w", err)
		}
		defer rows.Close()
		if err := scan(rows); err != nil {
			return fmt.Errorf("store: geo points: %w", err)
		}
		return nil
	}
	raw := func(a, b int64) error {
		if a >= b {
			return nil
		}
		// the counts per point grouped in SQL, then the distinct actor
		// numbers per point (numbers only: a row a point and actor, no
		// strings unless an actor has no number)
		w := s.geoRawWhere(q, a, b)
		rnd := fmt.Sprintf("ROUND(ROUND(lat, 2), %[1]d) AS rlat, ROUND(ROUND(lon, 2), %[1]d) AS rlon, %[2]s AS o", prec, geoOutcomeCol(q))
		err := query(agg.scanPoints, fmt.Sprintf(`SELECT %s, COUNT(*), SUM(outcome IN ('FAILURE', 'DENY')), 0, MAX(country), MAX(city), MAX(published)
			FROM events%s GROUP BY rlat, rlon, o`, rnd, w.sql()), w.args)
		if err == nil {
			err = query(agg.scanRawActors, fmt.Sprintf(`SELECT DISTINCT rlat, rlon, o, g, CASE WHEN g IS NULL THEN actor END
				FROM (SELECT %s, (SELECT gid FROM geo_actor_ids WHERE login = events.actor) AS g, actor FROM events%s)`, rnd, w.sql()), w.args)
		}
		return err
	}
	mlo, mhi, err := s.geoMinsBuildRange(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("store: geo points: %w", err)
	}
	partial := func(a, b int64) error {
		// a partial hour: its whole minutes from the hour's rows (schema
		// 19, built), the rest (under a minute at an end, or a range
		// inside one hour) from raw rows
		p, ok := splitGeoPartial(a, b)
		if !s.geoMins || s.geoRawEnds || !ok || (mlo < mhi && p.h >= mlo && p.h < mhi) {
			return raw(a, b)
		}
		err := raw(a, p.ma)
		if err == nil && p.ma < p.mb {
			w := geoRollWhere(q, p.h, p.h+hourMS)
			err = query(func(rows *sql.Rows) error { return agg.scanMinutes(rows, p) }, fmt.Sprintf(`SELECT ROUND(lat, %d), ROUND(lon, %d), %s,
				outcome IN ('FAILURE', 'DENY'), country, city, mins, mins IS NULL FROM geo_hours%s`, prec, prec, geoOutcomeCol(q), w.sql()), w.args)
		}
		if err == nil {
			err = raw(p.mb, b)
		}
		return err
	}
	for _, x := range sp {
		var err error
		if x.level == 0 {
			// a raw span under two hours may cross an hour's start: a
			// partial hour each side
			for a := x.a; a < x.b && err == nil; a = a - a%hourMS + hourMS {
				err = partial(a, min(x.b, a-a%hourMS+hourMS))
			}
		} else {
			table := "geo_hours"
			if x.level == dayMS {
				table = "geo_days"
			}
			w := geoRollWhere(q, x.a, x.b)
			err = query(agg.scanSets, fmt.Sprintf(`SELECT ROUND(lat, %d), ROUND(lon, %d), %s, n, CASE WHEN outcome IN ('FAILURE', 'DENY') THEN n ELSE 0 END,
				country, city, last_seen, actors, actors IS NULL FROM %s%s`, prec, prec, geoOutcomeCol(q), table, w.sql()), w.args)
		}
		if err != nil {
			return nil, err
		}
	}
	return agg.ranked(q.Limit), nil
}
