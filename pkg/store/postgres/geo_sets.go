package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Distinct users per Geomap point from actor sets (schema 8), as SQLite's
// schema 18 (pkg/store/geo_sets.go) with PostgreSQL's own representation.
//
// Every geo_hours row carries the set of its events' actors: their
// numbers (geo_actor_ids, per org, never reused) as a sorted int4[]. The
// sets are int4[] rather than SQLite's varint bytes because the server
// unites them itself, inside the statements that already fold a page into
// the roll-ups (rollup_sql.go, geoSetRollup) and that seal a day (no read
// of the stored set back into Go, no server-side extension). A commit
// upserts its page's sets into the hour rows in its transaction (fenced
// like every write of the commit); when a day is over, the first commit of
// the next day folds the day's hour rows into geo_days (counts summed,
// sets united) and lists the day in geo_sealed_days; a late event into a
// sealed day updates its day row too. A Geomap query with distinct users
// then unites in Go, in one bitmap per point, the sets of the sealed days,
// of the hours of the other days and, for the sub-hour ends, the numbers
// of the raw rows' actors: exact, like COUNT(DISTINCT actor) over the rows.
//
// A store migrated from schema 7 has no sets for its rows yet: the org's
// row in orgs holds the days [geo_unbuilt_lo, geo_unbuilt_hi) still to
// build. A background build (builds.go: on the org's leader only, retried
// after errors, reported) builds them from the raw events, newest first,
// geoBuildHours hours per transaction, and seals each day once all its
// hours are built (resumable: the next leader goes on); a query touching
// those days reads raw rows as before. The build locks the
// org's row (FOR UPDATE) for its step, which a commit (FOR SHARE) waits
// for, so the sets it computes never miss a commit's events. Prune drops
// the sets with their buckets (prune.go).

const geoSetsVersion = 8

// geoBuildHours is how many hours one transaction of the build fills (a
// commit of the org waits for it).
const geoBuildHours = 6

// geoIDCacheMax bounds a handle's cache of actor numbers.
const geoIDCacheMax = 200000

// geoState is a handle's part of the sets.
type geoState struct {
	idMu sync.Mutex
	ids  map[string]int32 // committed actor numbers

	// sealedTo (under Store.mu): the start of the newest day this
	// handle's commits have sealed the days before
	sealedTo int64
}

// unbuilt is the org's hours without sets yet, [lo, hi) (lo >= hi: none;
// the migration sets whole days, the build moves hi down by hours).
type unbuilt struct{ lo, hi int64 }

func (u unbuilt) overlaps(a, b int64) bool { return u.lo < u.hi && a < u.hi && b > u.lo }

// cachedIDs returns the numbers of the actors the cache has, and the others.
func (s *Store) cachedIDs(actors map[string]struct{}, pending map[string]int32) (map[string]int32, []string) {
	out := make(map[string]int32, len(actors))
	var miss []string
	s.geo.idMu.Lock()
	defer s.geo.idMu.Unlock()
	for a := range actors {
		if id, ok := s.geo.ids[a]; ok {
			out[a] = id
		} else if id, ok := pending[a]; ok {
			out[a] = id
		} else {
			miss = append(miss, a)
		}
	}
	return out, miss
}

// geoIDs returns the numbers of the actors, numbering new ones in tx
// (from the org's geo_actor_next counter; a number another transaction
// gave the login first wins). New numbers go to pending; the caller
// caches them once tx commits (installIDs).
func (s *Store) geoIDs(ctx context.Context, tx pgx.Tx, actors map[string]struct{}, pending map[string]int32) (map[string]int32, error) {
	out, miss := s.cachedIDs(actors, pending)
	if len(miss) == 0 {
		return out, nil
	}
	slices.Sort(miss)
	read := func(logins []string) error {
		rows, err := tx.Query(ctx, "SELECT login, gid FROM geo_actor_ids WHERE org = $1 AND login = ANY($2)", s.org, logins)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			var id int32
			if err := rows.Scan(&a, &id); err != nil {
				return err
			}
			out[a] = id
			pending[a] = id
		}
		return rows.Err()
	}
	if err := read(miss); err != nil {
		return nil, fmt.Errorf("store: geo actor ids: %w", err)
	}
	var fresh []string
	for _, a := range miss {
		if _, ok := out[a]; !ok {
			fresh = append(fresh, a)
		}
	}
	if len(fresh) > 0 {
		if _, err := tx.Exec(ctx, `WITH c AS (INSERT INTO geo_actor_next AS t (org, next) VALUES ($1, $3)
				ON CONFLICT (org) DO UPDATE SET next = t.next + $3 RETURNING next - $3 AS base)
			INSERT INTO geo_actor_ids (org, login, gid) SELECT $1, u.l, c.base + u.o::int - 1
			FROM c, unnest($2::text[]) WITH ORDINALITY AS u(l, o) ON CONFLICT (org, login) DO NOTHING`,
			s.org, fresh, int32(len(fresh))); err != nil { // #nosec G115 -- the distinct new actors of one page, far below 2^31
			return nil, fmt.Errorf("store: geo actor ids: %w", err)
		}
		if err := read(fresh); err != nil {
			return nil, fmt.Errorf("store: geo actor ids: %w", err)
		}
	}
	for a := range actors {
		if _, ok := out[a]; !ok {
			return nil, errors.New("store: geo actor ids: no number for an actor")
		}
	}
	return out, nil
}

// installIDs caches the numbers of a committed transaction.
func (s *Store) installIDs(pending map[string]int32) {
	s.geo.idMu.Lock()
	defer s.geo.idMu.Unlock()
	if s.geo.ids == nil {
		s.geo.ids = map[string]int32{}
	}
	for a, id := range pending {
		if len(s.geo.ids) >= geoIDCacheMax {
			return
		}
		s.geo.ids[a] = id
	}
}

// setText is a sorted, distinct set as an int4[] literal.
func setText(ids []int32) string {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	b := make([]byte, 0, 2+8*len(ids))
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(append(b, '}'))
}

// geoPage is a page's located events per geo_hours key, with their actors.
type geoPage struct {
	keys   map[store.GeoKey][]string
	maxDay int64 // start of the newest day of the page's inserted events, -1 if none
}

func newGeoPage() *geoPage { return &geoPage{keys: map[store.GeoKey][]string{}, maxDay: -1} }

// add files an inserted event under its geo_hours key (store.IngestAgg's,
// with RoundGeo = round2).
func (p *geoPage) add(ev *event.Event, c *store.EventColumns) {
	p.maxDay = max(p.maxDay, store.FloorTo(c.Published, store.DayMS))
	if !c.HasGeo {
		return
	}
	k := store.GeoKey{Bucket: store.FloorTo(c.Published, store.HourMS), EventType: ev.EventType, Outcome: ev.Outcome.Result,
		Lat: round2(c.Lat), Lon: round2(c.Lon), Country: c.Country, City: c.City}
	p.keys[k] = append(p.keys[k], ev.Actor.AlternateID)
}

// geoDaySQL folds a page's rows into the day rows of the days sealed
// already (late events); the other days' rows are folded when sealed.
var geoDaySQL = `INSERT INTO geo_days AS t (org, bucket, event_type, outcome, lat, lon, country, city, n, last_seen, actors)
	SELECT $1, x.bucket, x.event_type, x.outcome, x.lat, x.lon, x.country, x.city, x.n, x.last_seen, x.actors::int4[]
	FROM unnest($2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[])
		AS x(bucket, event_type, outcome, lat, lon, country, city, n, last_seen, actors)
	WHERE EXISTS (SELECT 1 FROM geo_sealed_days s WHERE s.org = $1 AND s.bucket = x.bucket)
	ON CONFLICT (org, bucket, event_type, outcome, lat, lon, country, city) DO UPDATE SET n = t.n + excluded.n,
		last_seen = GREATEST(t.last_seen, excluded.last_seen), actors = ` + unionSQL("t.actors", "excluded.actors")

// queueGeoSets queues the page's geo_hours upsert with its actor sets and
// the day rows of sealed days (in place of geoRollup's upsert); it numbers
// the page's new actors in tx first.
func (s *Store) queueGeoSets(ctx context.Context, tx pgx.Tx, q *stmtBatch, geos map[store.GeoKey]*store.Seen, page *geoPage, pending map[string]int32) error {
	if len(geos) == 0 {
		return nil
	}
	actors := map[string]struct{}{}
	for _, as := range page.keys {
		for _, a := range as {
			actors[a] = struct{}{}
		}
	}
	ids, err := s.geoIDs(ctx, tx, actors, pending)
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	type dayRow struct {
		n, last int64
		ids     []int32
	}
	days := map[store.GeoKey]*dayRow{}
	var b, n, ls []int64
	var et, oc, co, ci, sets []string
	var la, lo []float64
	var buf []int32
	for k, v := range geos {
		buf = buf[:0]
		for _, a := range page.keys[k] {
			buf = append(buf, ids[a])
		}
		b, et, oc, la, lo = append(b, k.Bucket), append(et, k.EventType), append(oc, k.Outcome), append(la, k.Lat), append(lo, k.Lon)
		co, ci, n, ls, sets = append(co, k.Country), append(ci, k.City), append(n, v.N), append(ls, v.LastSeen), append(sets, setText(buf))
		dk := k
		dk.Bucket = store.FloorTo(k.Bucket, store.DayMS)
		d := days[dk]
		if d == nil {
			d = &dayRow{}
			days[dk] = d
		}
		d.n += v.N
		d.last = max(d.last, v.LastSeen)
		d.ids = append(d.ids, buf...)
	}
	q.add("geo_hours", geoSetRollup.upsertSQL(s.cfg.rollupsOnConflict), s.org, b, et, oc, la, lo, co, ci, n, ls, sets)
	b, n, ls, et, oc, co, ci, sets, la, lo = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
	for k, d := range days {
		b, et, oc, la, lo = append(b, k.Bucket), append(et, k.EventType), append(oc, k.Outcome), append(la, k.Lat), append(lo, k.Lon)
		co, ci, n, ls, sets = append(co, k.Country), append(ci, k.City), append(n, d.n), append(ls, d.last), append(sets, setText(d.ids))
	}
	q.add("geo_days", geoDaySQL, s.org, b, et, oc, la, lo, co, ci, n, ls, sets)
	return nil
}

// sealNewGeoDays, after a commit's roll-ups ran, seals the built days
// before the page's newest day that have hour rows and are not sealed,
// from the day after the newest sealed one (older unsealed days, if any,
// stay read from their hours: exact, only slower). Once a day per handle.
func (s *Store) sealNewGeoDays(ctx context.Context, tx pgx.Tx, to int64, ub unbuilt) error {
	var from int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(bucket) + 86400000, 0) FROM geo_sealed_days WHERE org = $1", s.org).Scan(&from); err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	if ub.lo < ub.hi {
		from = max(from, ub.hi)
	}
	if from >= to {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT bucket - bucket % 86400000 FROM geo_hours WHERE org = $1 AND bucket >= $2 AND bucket < $3`,
		s.org, from, to)
	if err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	days, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("store: seal geo days: %w", err)
	}
	for _, d := range days {
		if !ub.overlaps(d, d+store.DayMS) {
			if err := s.sealGeoDay(ctx, tx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// sealGeoDay (re)builds day d's geo_days rows from its hour rows and lists
// it as sealed.
func (s *Store) sealGeoDay(ctx context.Context, tx pgx.Tx, d int64) error {
	// $2::bigint: under the simple protocol (behind PgBouncer) a value
	// arrives as an untyped literal, and "$2 + 86400000" took int4's +
	for _, q := range []string{
		"DELETE FROM geo_days WHERE org = $1 AND bucket = $2",
		`INSERT INTO geo_days (org, bucket, event_type, outcome, lat, lon, country, city, n, last_seen, actors)
		SELECT $1, $2::bigint, c.event_type, c.outcome, c.lat, c.lon, c.country, c.city, c.n, c.ls, COALESCE(a.actors, '{}')
		FROM (SELECT event_type, outcome, lat, lon, country, city, SUM(n) AS n, MAX(last_seen) AS ls FROM geo_hours
			WHERE org = $1 AND bucket >= $2::bigint AND bucket < $2::bigint + 86400000 GROUP BY 1, 2, 3, 4, 5, 6) c
		LEFT JOIN (SELECT event_type, outcome, lat, lon, country, city, array_agg(DISTINCT u ORDER BY u) AS actors
			FROM geo_hours, unnest(actors) u WHERE org = $1 AND bucket >= $2::bigint AND bucket < $2::bigint + 86400000 GROUP BY 1, 2, 3, 4, 5, 6) a
		USING (event_type, outcome, lat, lon, country, city)`,
		"INSERT INTO geo_sealed_days (org, bucket) VALUES ($1, $2) ON CONFLICT DO NOTHING",
	} {
		if _, err := tx.Exec(ctx, q, s.org, d); err != nil {
			return fmt.Errorf("store: seal geo day: %w", err)
		}
	}
	return nil
}

// hours is the number of hours the org's sets are still to be built
// for (at most one per hour of [lo, hi)).
func (u unbuilt) hours() int64 {
	if u.lo >= u.hi {
		return 0
	}
	return (u.hi - u.lo + store.HourMS - 1) / store.HourMS
}

// buildGeoStep builds the newest geoBuildHours hours without sets in one
// transaction, and seals the days it completed; it returns the hours left
// (0: done). fence is the lease token of the handle that runs the build
// (0: a handle that never led, tests), checked first as a commit does.
func (s *Store) buildGeoStep(ctx context.Context, fence int64) (int64, error) {
	if h := s.cfg.buildHook; h != nil {
		if err := h(ctx); err != nil {
			return 0, fmt.Errorf("store: build geo sets: %w", err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: build geo sets: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if err := s.checkFenceAt(ctx, tx, fence); err != nil {
		return 0, fmt.Errorf("store: build geo sets: %w", err)
	}
	var ub unbuilt
	var horizon int64
	if err := tx.QueryRow(ctx, "SELECT geo_unbuilt_lo, geo_unbuilt_hi, retained_from FROM orgs WHERE id = $1 FOR UPDATE",
		s.org).Scan(&ub.lo, &ub.hi, &horizon); err != nil {
		return 0, fmt.Errorf("store: build geo sets: %w", err)
	}
	if ub.lo >= ub.hi {
		return 0, nil
	}
	a := max(ub.lo, ub.hi-geoBuildHours*store.HourMS)
	pending := map[string]int32{}
	if ub.hi > horizon { // pruned hours have no rows left
		if err := s.buildGeoHours(ctx, tx, a, ub.hi, pending); err != nil {
			return 0, err
		}
		// the days whose every hour is built now
		for d := store.FloorTo(ub.hi-1, store.DayMS); d >= a; d -= store.DayMS {
			if err := s.sealIfClosed(ctx, tx, d); err != nil {
				return 0, err
			}
		}
	}
	next := unbuilt{ub.lo, a}
	if a <= ub.lo || ub.hi <= horizon {
		next = unbuilt{}
	}
	if _, err := tx.Exec(ctx, "UPDATE orgs SET geo_unbuilt_lo = $2, geo_unbuilt_hi = $3 WHERE id = $1", s.org, next.lo, next.hi); err != nil {
		return 0, fmt.Errorf("store: build geo sets: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("store: build geo sets: %w", err)
	}
	s.installIDs(pending)
	return next.hours(), nil
}

// buildGeoHours sets the actor sets of the geo_hours rows of [a, b) from
// the raw events.
func (s *Store) buildGeoHours(ctx context.Context, tx pgx.Tx, a, b int64, pending map[string]int32) error {
	rows, err := tx.Query(ctx, `SELECT published, event_type, outcome, lat, lon, country, city, actor FROM events
		WHERE org = $1 AND published >= $2 AND published < $3 AND lat IS NOT NULL AND lon IS NOT NULL`, s.org, a, b)
	if err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	page := newGeoPage()
	actors := map[string]struct{}{}
	for rows.Next() {
		var k store.GeoKey
		var a string
		if err := rows.Scan(&k.Bucket, &k.EventType, &k.Outcome, &k.Lat, &k.Lon, &k.Country, &k.City, &a); err != nil {
			rows.Close()
			return fmt.Errorf("store: build geo sets: %w", err)
		}
		k.Bucket, k.Lat, k.Lon = store.FloorTo(k.Bucket, store.HourMS), round2(k.Lat), round2(k.Lon)
		page.keys[k] = append(page.keys[k], a)
		actors[a] = struct{}{}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	ids, err := s.geoIDs(ctx, tx, actors, pending)
	if err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	var bk []int64
	var et, oc, co, ci, sets []string
	var la, lo []float64
	var buf []int32
	for k, as := range page.keys {
		buf = buf[:0]
		for _, a := range as {
			buf = append(buf, ids[a])
		}
		bk, et, oc, la, lo = append(bk, k.Bucket), append(et, k.EventType), append(oc, k.Outcome), append(la, k.Lat), append(lo, k.Lon)
		co, ci, sets = append(co, k.Country), append(ci, k.City), append(sets, setText(buf))
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE geo_hours t SET actors = x.actors::int4[]
			FROM unnest($2::bigint[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[], $8::text[], $9::text[])
				AS x(bucket, event_type, outcome, lat, lon, country, city, actors)
			WHERE t.org = $1 AND t.bucket = x.bucket AND t.event_type = x.event_type AND t.outcome = x.outcome
				AND t.lat = x.lat AND t.lon = x.lon AND t.country = x.country AND t.city = x.city`,
			[]any{s.org, bk, et, oc, la, lo, co, ci, sets}},
		// a row without raw events left (none normally) has no actors
		{"UPDATE geo_hours SET actors = '{}' WHERE org = $1 AND bucket >= $2 AND bucket < $3 AND actors IS NULL",
			[]any{s.org, a, b}},
	} {
		if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
			return fmt.Errorf("store: build geo sets: %w", err)
		}
	}
	return nil
}

// sealIfClosed seals day d when a later hour has rows.
func (s *Store) sealIfClosed(ctx context.Context, tx pgx.Tx, d int64) error {
	var closed bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM geo_hours WHERE org = $1 AND bucket >= $2)", s.org, d+store.DayMS).Scan(&closed); err != nil {
		return fmt.Errorf("store: build geo sets: %w", err)
	}
	if closed {
		return s.sealGeoDay(ctx, tx, d)
	}
	return nil
}

type geoPointKey struct {
	lat, lon float64
	outcome  string
}

// geoActorAgg folds rows with actor sets into points and counts each
// point's distinct actors.
type geoActorAgg struct {
	pts   map[geoPointKey]*store.GeoPoint
	sets  map[geoPointKey]*store.IDBits
	local map[geoPointKey]map[string]struct{} // raw actors without a number (none normally)
}

func (g *geoActorAgg) point(p *store.GeoPoint) geoPointKey {
	k := geoPointKey{p.Lat, p.Lon, p.Outcome}
	if a := g.pts[k]; a == nil {
		g.pts[k] = p
		g.sets[k] = &store.IDBits{}
	} else {
		a.Merge(p)
	}
	return k
}

// scan folds rows of (lat, lon, outcome, count, failures, country, city,
// last_seen ms, actor numbers, actors without a number).
func (g *geoActorAgg) scan(rows pgx.Rows) error {
	defer rows.Close()
	var ids []int32
	var logins []string
	for rows.Next() {
		p := &store.GeoPoint{}
		var last int64
		ids, logins = ids[:0], logins[:0]
		if err := rows.Scan(&p.Lat, &p.Lon, &p.Outcome, &p.Count, &p.Failures, &p.Country, &p.City, &last, &ids, &logins); err != nil {
			return err
		}
		p.LastSeen = store.FromMS(last)
		k := g.point(p)
		set := g.sets[k]
		for _, id := range ids {
			set.Add(uint32(id)) // #nosec G115 -- actor numbers are the store's own, counted up from 0 per org (geo_actor_next), never negative
		}
		for _, a := range logins {
			if g.local[k] == nil {
				g.local[k] = map[string]struct{}{}
			}
			g.local[k][a] = struct{}{}
		}
	}
	return rows.Err()
}

// geoPointsFromSets answers a Geomap query with distinct users (and no
// actor filter) from the sets; ok is false when the range has days
// without sets yet (the caller reads raw rows).
func (s *Store) geoPointsFromSets(ctx context.Context, q store.GeoQuery, prec int, lo, end int64) ([]store.GeoPoint, bool, error) {
	// one snapshot: a seal or a build step between two statements would
	// count a day twice or not at all
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, false, fmt.Errorf("store: geo points: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	var ub unbuilt
	if err := tx.QueryRow(ctx, "SELECT geo_unbuilt_lo, geo_unbuilt_hi FROM orgs WHERE id = $1", s.org).Scan(&ub.lo, &ub.hi); err != nil {
		return nil, false, fmt.Errorf("store: geo points: %w", err)
	}
	if ub.overlaps(lo, end) {
		return nil, false, nil
	}
	sp, err := s.geoSetSpans(ctx, tx, lo, end)
	if err != nil {
		return nil, false, err
	}
	agg := &geoActorAgg{pts: map[geoPointKey]*store.GeoPoint{}, sets: map[geoPointKey]*store.IDBits{}, local: map[geoPointKey]map[string]struct{}{}}
	outcomeCol := "''"
	if q.ByOutcome {
		outcomeCol = "outcome"
	}
	for _, x := range sp {
		var query string
		var args []any
		if x.Level == 0 {
			w := s.where()
			eventWhere(w, store.EventQuery{EventTypePrefix: q.EventTypePrefix, Outcome: q.Outcome}, x.A, x.B-1)
			if q.EventTypePrefix == "" {
				w.add("event_type = ANY(?)", store.SignInEventTypes)
			}
			w.add("lat IS NOT NULL AND lon IS NOT NULL")
			// the actors' numbers looked up once per distinct (point,
			// actor), not per row (a look-up per row was ~140 server
			// cpu-ms for the two partial hours at 10 M events)
			query = fmt.Sprintf(`WITH e AS MATERIALIZED (SELECT round(round(lat::numeric, 2), %[1]d)::float8 AS rlat,
					round(round(lon::numeric, 2), %[1]d)::float8 AS rlon, %[2]s AS o, %[3]s AS f, country, city, published, actor
					FROM events%[4]s),
				a AS (SELECT d.rlat, d.rlon, d.o, array_agg(g.gid) FILTER (WHERE g.gid IS NOT NULL) AS ids,
					array_agg(d.actor) FILTER (WHERE g.gid IS NULL) AS logins
					FROM (SELECT DISTINCT rlat, rlon, o, actor FROM e) d LEFT JOIN geo_actor_ids g ON g.org = $1 AND g.login = d.actor
					GROUP BY 1, 2, 3)
				SELECT c.rlat, c.rlon, c.o, c.n, c.nf, c.country, c.city, c.ls, COALESCE(a.ids, '{}'), COALESCE(a.logins, '{}')
				FROM (SELECT rlat, rlon, o, COUNT(*) AS n, COUNT(*) FILTER (WHERE f) AS nf, MAX(country) AS country, MAX(city) AS city,
					MAX(published) AS ls FROM e GROUP BY 1, 2, 3) c JOIN a USING (rlat, rlon, o)`, prec, outcomeCol, failed, w.sql())
			args = w.args
		} else {
			table := "geo_hours"
			if x.Level == store.DayMS {
				table = "geo_days"
			}
			w := s.where()
			w.add("bucket >= ? AND bucket < ?", x.A, x.B)
			if q.EventTypePrefix != "" {
				w.add("event_type >= ? AND event_type < ?", q.EventTypePrefix, prefixUpper(q.EventTypePrefix))
			} else {
				w.add("event_type = ANY(?)", store.SignInEventTypes)
			}
			if q.Outcome != "" {
				w.add("outcome = ?", strings.ToUpper(q.Outcome))
			}
			query = fmt.Sprintf(`SELECT round(lat::numeric, %[1]d)::float8, round(lon::numeric, %[1]d)::float8, %[2]s, n,
				CASE WHEN %[3]s THEN n ELSE 0 END, country, city, last_seen, actors, '{}'::text[] FROM %[4]s%[5]s`,
				prec, outcomeCol, failed, table, w.sql())
			args = w.args
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return nil, false, fmt.Errorf("store: geo points: %w", err)
		}
		if err := agg.scan(rows); err != nil {
			return nil, false, fmt.Errorf("store: geo points: %w", err)
		}
	}
	out := make([]store.GeoPoint, 0, len(agg.pts))
	for k, p := range agg.pts {
		p.Actors = agg.sets[k].Count() + int64(len(agg.local[k]))
		out = append(out, *p)
	}
	return store.RankGeoPoints(out, q.Limit), true, nil
}

// geoSetSpans splits [lo, end) into runs of sealed days (level DayMS),
// hours and raw pieces.
func (s *Store) geoSetSpans(ctx context.Context, tx pgx.Tx, lo, end int64) ([]store.Span, error) {
	var out []store.Span
	for _, x := range store.Spans(lo, end, []int64{store.DayMS, store.HourMS}) {
		if x.Level != store.DayMS {
			out = append(out, x)
			continue
		}
		rows, err := tx.Query(ctx, "SELECT bucket FROM geo_sealed_days WHERE org = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket",
			s.org, x.A, x.B)
		if err != nil {
			return nil, fmt.Errorf("store: geo points: %w", err)
		}
		sealed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("store: geo points: %w", err)
		}
		// runs of sealed days, and between them days read from their hours
		cur := x.A
		for _, d := range sealed {
			if n := len(out); d == cur && n > 0 && out[n-1].Level == store.DayMS && out[n-1].B == d {
				out[n-1].B = d + store.DayMS
			} else {
				if d > cur {
					out = append(out, store.Span{Level: store.HourMS, A: cur, B: d})
				}
				out = append(out, store.Span{Level: store.DayMS, A: d, B: d + store.DayMS})
			}
			cur = d + store.DayMS
		}
		if cur < x.B {
			out = append(out, store.Span{Level: store.HourMS, A: cur, B: x.B})
		}
	}
	return out, nil
}
