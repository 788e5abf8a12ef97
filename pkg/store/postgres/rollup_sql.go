package postgres

import (
	"fmt"
	"slices"
	"strings"
)

// rollup describes one roll-up table Commit folds a page into: its key
// columns (after org), its value columns, and how a stored row takes a
// page's row. A SET expression names the stored row {t} and the page's
// row {x}.
type rollup struct {
	table string
	cols  []string // keys first, then values
	types []string // the unnest array type of each column
	nkeys int
	set   [][2]string // column, expression
	// casts: the SQL type a column's page value (of its unnest type) is
	// cast to when inserted (the actor sets travel as text, '{1,2}')
	casts map[string]string
}

// Roll-up statements of a page, one per table: UPDATE the stored rows of
// the page's keys, then INSERT the keys that had none (upsertSQL).
var (
	countRollupSQL = func(table string) rollup {
		return rollup{table: table, cols: []string{"bucket", "event_type", "outcome", "country", "n"},
			types: []string{"bigint", "text", "text", "text", "bigint"}, nkeys: 4,
			set: [][2]string{{"n", "{t}.n + {x}.n"}}}
	}
	userRollupSQL = func(table string) rollup {
		return rollup{table: table,
			cols:  []string{"bucket", "actor", "country", "actor_id", "events", "failures", "last_seen", "last_ip"},
			types: []string{"bigint", "text", "text", "text", "bigint", "bigint", "bigint", "text"}, nkeys: 3,
			set: [][2]string{{"events", "{t}.events + {x}.events"}, {"failures", "{t}.failures + {x}.failures"},
				{"actor_id", "CASE WHEN {x}.last_seen >= {t}.last_seen THEN {x}.actor_id ELSE {t}.actor_id END"},
				{"last_ip", "CASE WHEN {x}.last_seen >= {t}.last_seen THEN {x}.last_ip ELSE {t}.last_ip END"},
				{"last_seen", "GREATEST({t}.last_seen, {x}.last_seen)"}}}
	}
	geoRollup = rollup{table: "geo_hours",
		cols:  []string{"bucket", "event_type", "outcome", "lat", "lon", "country", "city", "n", "last_seen"},
		types: []string{"bigint", "text", "text", "float8", "float8", "text", "text", "bigint", "bigint"}, nkeys: 7,
		set: [][2]string{{"n", "{t}.n + {x}.n"}, {"last_seen", "GREATEST({t}.last_seen, {x}.last_seen)"}}}
	// geoSetRollup is geoRollup with the actor sets (schema 8, geo_sets.go):
	// a stored set takes the page's numbers (a set not built yet stays NULL
	// until the build computes it from the raw events)
	geoSetRollup = rollup{table: "geo_hours",
		cols:  append(slices.Clone(geoRollup.cols), "actors"),
		types: append(slices.Clone(geoRollup.types), "text"), nkeys: 7,
		set: append(slices.Clone(geoRollup.set), [2]string{"actors",
			"CASE WHEN {t}.actors IS NOT NULL THEN " + unionSQL("{t}.actors", "{x}.actors::int4[]") + " END"}),
		casts: map[string]string{"actors": "int4[]"}}
	actorRollup = rollup{table: "actors", cols: []string{"actor", "actor_id", "last_seen", "events"},
		types: []string{"text", "text", "bigint", "bigint"}, nkeys: 1,
		set: [][2]string{
			{"actor_id", "CASE WHEN {x}.last_seen >= {t}.last_seen AND {x}.actor_id <> '' THEN {x}.actor_id ELSE {t}.actor_id END"},
			{"last_seen", "GREATEST({t}.last_seen, {x}.last_seen)"}, {"events", "{t}.events + {x}.events"}}}
	typeRollup = rollup{table: "event_types", cols: []string{"event_type", "last_seen", "events"},
		types: []string{"text", "bigint", "bigint"}, nkeys: 1,
		set: [][2]string{{"last_seen", "GREATEST({t}.last_seen, {x}.last_seen)"}, {"events", "{t}.events + {x}.events"}}}
)

// upsertSQL folds a page's rows ($1 the org, $2.. one array per column,
// distinct keys) into the table. Plain (onConflictOnly) it is one INSERT
// ... ON CONFLICT DO UPDATE, which for every stored key first locks the
// row (a WAL record of its own) and then updates it. Otherwise the keys
// the table has are updated in place by an UPDATE ... FROM unnest (no
// lock record, a HOT update thanks to the tables' fillfactor), and only
// the others are inserted; the INSERT keeps its ON CONFLICT clause for a
// key another transaction inserted after this statement's snapshot (two
// writers of one org), so the result is the same either way.
func (r rollup) upsertSQL(onConflictOnly bool) string {
	args := make([]string, len(r.cols))
	for i, t := range r.types {
		args[i] = fmt.Sprintf("$%d::%s[]", i+2, t)
	}
	from := "unnest(" + strings.Join(args, ", ") + ") AS x(" + strings.Join(r.cols, ", ") + ")"
	keys := r.cols[:r.nkeys]
	sets := func(t, x string) string {
		out := make([]string, len(r.set))
		for i, s := range r.set {
			out[i] = s[0] + " = " + strings.NewReplacer("{t}", t, "{x}", x).Replace(s[1])
		}
		return strings.Join(out, ", ")
	}
	vals := make([]string, len(r.cols))
	for i, c := range r.cols {
		vals[i] = "x." + c
		if t, ok := r.casts[c]; ok {
			vals[i] += "::" + t
		}
	}
	insert := "INSERT INTO " + r.table + " AS t (org, " + strings.Join(r.cols, ", ") + ") SELECT $1, " + strings.Join(vals, ", ") + " FROM " + from
	conflict := " ON CONFLICT (org, " + strings.Join(keys, ", ") + ") DO UPDATE SET " + sets("t", "excluded")
	if onConflictOnly {
		return insert + conflict
	}
	match := make([]string, len(keys))
	found := make([]string, len(keys))
	for i, k := range keys {
		match[i] = "t." + k + " = x." + k
		found[i] = "u." + k + " = x." + k
	}
	return "WITH u AS (UPDATE " + r.table + " AS t SET " + sets("t", "x") + " FROM " + from +
		" WHERE t.org = $1 AND " + strings.Join(match, " AND ") + " RETURNING " + prefixed("t.", keys) + ") " +
		insert + " WHERE NOT EXISTS (SELECT 1 FROM u WHERE " + strings.Join(found, " AND ") + ")" + conflict
}

func prefixed(p string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = p + c
	}
	return strings.Join(out, ", ")
}

// unionSQL is the sorted union of two int4[] sets.
func unionSQL(a, b string) string {
	return "ARRAY(SELECT DISTINCT u FROM unnest(" + a + " || " + b + ") u ORDER BY u)"
}
