package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxRows is the largest number of rows one multi-row statement carries
// (events: 20 parameters a row, well under SQLite's 32766).
const maxRows = 128

// template is a multi-row INSERT: head VALUES row,row,... tail.
type template struct {
	head, row, tail string
	ncols           int
}

// The events and raw inserts say OR FAIL rather than the default ABORT:
// a multi-row statement that may abort halfway makes SQLite keep a statement
// journal (a copy of every page the statement touches, ~10% of Commit's
// CPU), only to undo that one statement. OR FAIL keeps the statement's
// earlier rows instead, which changes nothing here because any error makes
// Commit roll back the whole transaction. Duplicate uuids are still skipped
// by ON CONFLICT(uuid) DO NOTHING.
var templates = map[string]template{
	"events": {`INSERT OR FAIL INTO events (uuid, published, event_type, actor, actor_id, actor_type, actor_name,
	outcome, reason, ip, country, city, lat, lon, session_id, severity, display_message, target, risk_level, ip_categories)`,
		"(?" + strings.Repeat(",?", eventCols-1) + ")", "ON CONFLICT(uuid) DO NOTHING RETURNING id, uuid", eventCols},
	"raw":        {"INSERT OR FAIL INTO events_raw (id, raw)", "(?,?)", "", 2},
	"raw_blocks": {"INSERT OR FAIL INTO events_raw_blocks (last_id, first_id, raw)", "(?,?,?)", "", 3},
	"user_days":  userTemplate("user_days"),
	"user_hours": userTemplate("user_hours"),
	"geo_hours": {"INSERT INTO geo_hours (bucket, event_type, outcome, lat, lon, country, city, n, last_seen)",
		"(?,?,?,ROUND(?,2),ROUND(?,2),?,?,?,?)", `ON CONFLICT(bucket, event_type, outcome, lat, lon, country, city) DO UPDATE SET
		n = n + excluded.n, last_seen = MAX(last_seen, excluded.last_seen)`, 9},
	"geo_hours_sets": geoSetsTemplate("geo_hours"),
	"geo_days":       geoSetsTemplate("geo_days"),
	"geo_hours_mins": {"INSERT INTO geo_hours (bucket, event_type, outcome, lat, lon, country, city, n, last_seen, actors, mins)",
		"(?,?,?,ROUND(?,2),ROUND(?,2),?,?,?,?,?,?)", `ON CONFLICT(bucket, event_type, outcome, lat, lon, country, city) DO UPDATE SET
		n = n + excluded.n, last_seen = MAX(last_seen, excluded.last_seen), actors = oktaguard_geoset_union(actors, excluded.actors),
		mins = oktaguard_geomins_union(mins, excluded.mins)`, 11},
	"actors": {"INSERT INTO actors (actor, actor_id, last_seen, events)", "(?,?,?,?)", `ON CONFLICT(actor) DO UPDATE SET
		actor_id = CASE WHEN excluded.last_seen >= last_seen AND excluded.actor_id <> '' THEN excluded.actor_id ELSE actor_id END,
		last_seen = MAX(last_seen, excluded.last_seen), events = events + excluded.events`, 4},
	"actors_log": {"INSERT INTO actors_log (actor, actor_id, last_seen, events)", "(?,?,?,?)", "", 4},
	"event_types": {"INSERT INTO event_types (event_type, last_seen, events)", "(?,?,?)",
		"ON CONFLICT(event_type) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen), events = events + excluded.events", 3},
}

// The event-count roll-ups (countRollups) share one template shape.
func init() {
	for _, r := range countRollups {
		templates[r.table] = template{"INSERT INTO " + r.table + " (bucket, event_type, outcome, country, n)", "(?,?,?,?,?)",
			"ON CONFLICT(bucket, event_type, outcome, country) DO UPDATE SET n = n + excluded.n", 5}
	}
}

// geoSetsTemplate upserts geo rows with their actor sets (geo_sets.go).
func geoSetsTemplate(table string) template {
	return template{"INSERT INTO " + table + " (bucket, event_type, outcome, lat, lon, country, city, n, last_seen, actors)",
		"(?,?,?,ROUND(?,2),ROUND(?,2),?,?,?,?,?)", `ON CONFLICT(bucket, event_type, outcome, lat, lon, country, city) DO UPDATE SET
		n = n + excluded.n, last_seen = MAX(last_seen, excluded.last_seen), actors = oktaguard_geoset_union(actors, excluded.actors)`, 10}
}

func userTemplate(table string) template {
	return template{"INSERT INTO " + table + " (bucket, actor, country, actor_id, events, failures, last_seen, last_ip)",
		"(?,?,?,?,?,?,?,?)", `ON CONFLICT(bucket, actor, country) DO UPDATE SET
		events = events + excluded.events, failures = failures + excluded.failures,
		actor_id = CASE WHEN excluded.last_seen >= last_seen THEN excluded.actor_id ELSE actor_id END,
		last_ip = CASE WHEN excluded.last_seen >= last_seen THEN excluded.last_ip ELSE last_ip END,
		last_seen = MAX(last_seen, excluded.last_seen)`, 8}
}

// pieces splits n rows into statement sizes: full maxRows chunks, then
// powers of two, so that a few prepared statements serve every size.
func pieces(n int) []int {
	var out []int
	for ; n >= maxRows; n -= maxRows {
		out = append(out, maxRows)
	}
	for p := maxRows / 2; p >= 1; p /= 2 {
		if n >= p {
			out = append(out, p)
			n -= p
		}
	}
	return out
}

func sizes() []int {
	var out []int
	for p := 1; p <= maxRows; p *= 2 {
		out = append(out, p)
	}
	return out
}

// prepare readies every write statement on the writer connection, once
// (parsing a 128-row statement costs more than running it). Called with
// s.mu held and no transaction open.
func (s *Store) prepare(ctx context.Context) error {
	if s.prepared != nil {
		return nil
	}
	m := make(map[string]map[int]*sql.Stmt, len(templates))
	for key, t := range templates {
		if key == "actors_log" && !s.actorsLog { // a store opened below schema 15
			continue
		}
		if (key == "geo_hours_sets" || key == "geo_days") && !s.geoSets { // below schema 18
			continue
		}
		if key == "geo_hours_mins" && !s.geoMins { // below schema 19
			continue
		}
		if key == "raw_blocks" && !s.rawBlocks { // below schema 22
			continue
		}
		m[key] = map[int]*sql.Stmt{}
		for _, n := range sizes() {
			q := t.head + " VALUES " + t.row + strings.Repeat(","+t.row, n-1) + " " + t.tail // #nosec G202 -- head, row and tail are constant statement parts; n only repeats ? placeholders
			st, err := s.w.PrepareContext(ctx, q)
			if err != nil {
				closeStmts(m)
				return fmt.Errorf("store: prepare %s: %w", key, err)
			}
			m[key][n] = st
		}
	}
	s.prepared = m
	return nil
}

func closeStmts(m map[string]map[int]*sql.Stmt) {
	for _, bySize := range m {
		for _, st := range bySize {
			st.Close()
		}
	}
}

// stmt is the prepared statement for key and size, bound to tx.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, key string, size int) (*sql.Stmt, error) {
	st := s.prepared[key][size]
	if st == nil {
		return nil, fmt.Errorf("store: no prepared statement %s/%d", key, size)
	}
	return tx.StmtContext(ctx, st), nil
}

// multiExec inserts/upserts args (templates[key].ncols values a row).
func (s *Store) multiExec(ctx context.Context, tx *sql.Tx, key string, args []any) error {
	nc := templates[key].ncols
	at := 0
	for _, size := range pieces(len(args) / nc) {
		st, err := s.stmt(ctx, tx, key, size)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args[at*nc:(at+size)*nc]...); err != nil {
			return err
		}
		at += size
	}
	return nil
}
