package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are applied in order; migration i has schema version i+1.
// Never edit a released migration: append a new one.
var migrations = []string{
	// 1: events, raw JSON, alerts, checkpoint, state.
	`
CREATE TABLE events (
	id              INTEGER PRIMARY KEY,
	uuid            TEXT    NOT NULL UNIQUE,
	published       INTEGER NOT NULL,          -- unix ms
	event_type      TEXT    NOT NULL,
	actor           TEXT    NOT NULL DEFAULT '', -- actor.alternateId
	actor_id        TEXT    NOT NULL DEFAULT '',
	actor_type      TEXT    NOT NULL DEFAULT '',
	actor_name      TEXT    NOT NULL DEFAULT '',
	outcome         TEXT    NOT NULL DEFAULT '',
	reason          TEXT    NOT NULL DEFAULT '',
	ip              TEXT    NOT NULL DEFAULT '',
	country         TEXT    NOT NULL DEFAULT '',
	city            TEXT    NOT NULL DEFAULT '',
	lat             REAL,                      -- NULL when unknown
	lon             REAL,
	session_id      TEXT    NOT NULL DEFAULT '',
	severity        TEXT    NOT NULL DEFAULT '',
	display_message TEXT    NOT NULL DEFAULT '',
	target          TEXT    NOT NULL DEFAULT '',
	risk_level      TEXT    NOT NULL DEFAULT '',
	ip_categories   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_published  ON events(published);
CREATE INDEX events_actor      ON events(actor, published);
CREATE INDEX events_type       ON events(event_type, published);
CREATE INDEX events_ip         ON events(ip, published);
CREATE INDEX events_session    ON events(session_id, published) WHERE session_id <> '';

-- raw JSON lives apart so that scans of events stay compact.
CREATE TABLE events_raw (
	id  INTEGER PRIMARY KEY,   -- = events.id
	raw BLOB NOT NULL
);

CREATE TABLE alerts (
	id        TEXT PRIMARY KEY,
	detector  TEXT    NOT NULL,
	severity  TEXT    NOT NULL,
	time      INTEGER NOT NULL,   -- unix ms, event time
	actor     TEXT    NOT NULL DEFAULT '',
	actor_id  TEXT    NOT NULL DEFAULT '',
	ip        TEXT    NOT NULL DEFAULT '',
	country   TEXT    NOT NULL DEFAULT '',
	title     TEXT    NOT NULL DEFAULT '',
	summary   TEXT    NOT NULL DEFAULT '',
	json      BLOB    NOT NULL,
	stored_at INTEGER NOT NULL
);
CREATE INDEX alerts_time     ON alerts(time);
CREATE INDEX alerts_detector ON alerts(detector, time);
CREATE INDEX alerts_actor    ON alerts(actor, time);

CREATE TABLE alert_events (
	alert_id   TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
	event_uuid TEXT NOT NULL,
	PRIMARY KEY (alert_id, event_uuid)
) WITHOUT ROWID;
CREATE INDEX alert_events_event ON alert_events(event_uuid);

CREATE TABLE checkpoint (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	next_url       TEXT    NOT NULL,
	max_published  INTEGER NOT NULL,
	backfill_since INTEGER NOT NULL,
	backfill_done  INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);

CREATE TABLE state (
	key        TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// 2: posture reports, per-check status, regressions.
	`
CREATE TABLE posture_reports (
	id      INTEGER PRIMARY KEY,
	time    INTEGER NOT NULL,
	profile TEXT    NOT NULL,
	score   REAL    NOT NULL,
	json    BLOB
);
CREATE INDEX posture_reports_profile ON posture_reports(profile, time);
CREATE INDEX posture_reports_time ON posture_reports(time);

CREATE TABLE posture_checks (
	report_id INTEGER NOT NULL REFERENCES posture_reports(id) ON DELETE CASCADE,
	check_id  TEXT    NOT NULL,
	title     TEXT    NOT NULL DEFAULT '',
	category  TEXT    NOT NULL DEFAULT '',
	severity  TEXT    NOT NULL DEFAULT '',
	status    TEXT    NOT NULL,
	findings  INTEGER NOT NULL DEFAULT 0,
	failing   INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (report_id, check_id)
) WITHOUT ROWID;

CREATE TABLE regressions (
	id        INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	check_id  TEXT    NOT NULL,
	title     TEXT    NOT NULL DEFAULT '',
	resource  TEXT    NOT NULL DEFAULT '',
	from_status TEXT  NOT NULL DEFAULT '',
	to_status TEXT    NOT NULL DEFAULT '',
	event_id  TEXT    NOT NULL DEFAULT '',
	actor     TEXT    NOT NULL DEFAULT '',
	detail    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX regressions_time ON regressions(time);
`,
	// 3: roll-ups and dictionaries maintained by Commit, for fast
	// time-series, actor and event-type look-ups on large stores.
	// Existing events are folded in.
	`
CREATE TABLE event_counts (
	bucket     INTEGER NOT NULL,   -- unix ms, start of the minute
	event_type TEXT    NOT NULL,
	outcome    TEXT    NOT NULL,
	country    TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	PRIMARY KEY (bucket, event_type, outcome, country)
) WITHOUT ROWID;
CREATE TABLE event_counts_hour (
	bucket     INTEGER NOT NULL,   -- unix ms, start of the hour
	event_type TEXT    NOT NULL,
	outcome    TEXT    NOT NULL,
	country    TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	PRIMARY KEY (bucket, event_type, outcome, country)
) WITHOUT ROWID;
CREATE TABLE actors (
	actor     TEXT PRIMARY KEY,
	actor_id  TEXT    NOT NULL DEFAULT '',
	last_seen INTEGER NOT NULL,
	events    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE event_types (
	event_type TEXT PRIMARY KEY,
	last_seen  INTEGER NOT NULL,
	events     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO event_counts
	SELECT published - (published % 60000), event_type, outcome, country, COUNT(*)
	FROM events GROUP BY 1, 2, 3, 4;
INSERT INTO event_counts_hour
	SELECT published - (published % 3600000), event_type, outcome, country, COUNT(*)
	FROM events GROUP BY 1, 2, 3, 4;
INSERT INTO actors
	SELECT actor, MAX(actor_id), MAX(published), COUNT(*) FROM events WHERE actor <> '' GROUP BY actor;
INSERT INTO event_types
	SELECT event_type, MAX(published), COUNT(*) FROM events GROUP BY event_type;
`,
	// 4: per-user (day and hour) and geo (hour) roll-ups for the users and
	// geo queries on large stores. Existing events are folded in.
	`
CREATE TABLE user_days (
	bucket    INTEGER NOT NULL,   -- unix ms, start of the UTC day
	actor     TEXT    NOT NULL,
	country   TEXT    NOT NULL,
	actor_id  TEXT    NOT NULL,
	events    INTEGER NOT NULL,
	failures  INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	last_ip   TEXT    NOT NULL,
	PRIMARY KEY (bucket, actor, country)
) WITHOUT ROWID;
CREATE TABLE user_hours (
	bucket    INTEGER NOT NULL,   -- unix ms, start of the hour
	actor     TEXT    NOT NULL,
	country   TEXT    NOT NULL,
	actor_id  TEXT    NOT NULL,
	events    INTEGER NOT NULL,
	failures  INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	last_ip   TEXT    NOT NULL,
	PRIMARY KEY (bucket, actor, country)
) WITHOUT ROWID;
CREATE TABLE geo_hours (
	bucket     INTEGER NOT NULL,  -- unix ms, start of the hour
	event_type TEXT    NOT NULL,
	outcome    TEXT    NOT NULL,
	lat        REAL    NOT NULL,  -- rounded to 2 decimals
	lon        REAL    NOT NULL,
	country    TEXT    NOT NULL,
	city       TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (bucket, event_type, outcome, lat, lon, country, city)
) WITHOUT ROWID;
INSERT INTO user_days
	SELECT published - (published % 86400000), actor, country, actor_id, COUNT(*),
		SUM(outcome IN ('FAILURE', 'DENY')), MAX(published), ip
	FROM events WHERE actor <> '' GROUP BY 1, 2, 3;
INSERT INTO user_hours
	SELECT published - (published % 3600000), actor, country, actor_id, COUNT(*),
		SUM(outcome IN ('FAILURE', 'DENY')), MAX(published), ip
	FROM events WHERE actor <> '' GROUP BY 1, 2, 3;
INSERT INTO geo_hours
	SELECT published - (published % 3600000), event_type, outcome, ROUND(lat, 2), ROUND(lon, 2), country, city, COUNT(*), MAX(published)
	FROM events WHERE lat IS NOT NULL AND lon IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7;
`,
	// 5: a 5-minute roll-up between the minute and the hour ones: a week in
	// Grafana's usual 5/10/15/30-minute buckets reads 2 016 buckets instead
	// of 10 080 minutes.
	`
CREATE TABLE event_counts_5m (
	bucket     INTEGER NOT NULL,   -- unix ms, start of the 5 minutes
	event_type TEXT    NOT NULL,
	outcome    TEXT    NOT NULL,
	country    TEXT    NOT NULL,
	n          INTEGER NOT NULL,
	PRIMARY KEY (bucket, event_type, outcome, country)
) WITHOUT ROWID;
INSERT INTO event_counts_5m
	SELECT published - (published % 300000), event_type, outcome, country, COUNT(*)
	FROM events GROUP BY 1, 2, 3, 4;
`,
	// 6: raw JSON compressed at rest (zstd, see raw.go): the dictionaries,
	// and the progress of the background pass that compresses the rows
	// written before this version (ids up to end_id), resumable.
	`
CREATE TABLE raw_dicts (
	id         INTEGER PRIMARY KEY,   -- the zstd dictionary id
	dict       BLOB    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE raw_recompress (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	next_id INTEGER NOT NULL,         -- rows with id <= next_id are done
	end_id  INTEGER NOT NULL          -- rows above were written compressed
);
INSERT INTO raw_recompress SELECT 1, 0, COALESCE(MAX(id), 0) FROM events_raw;
`,
	// 7: free-text search through an FTS5 trigram index of the five
	// searched columns (see fts.go). Contentless (the text is in events)
	// and without positions (detail=none): it only narrows the candidates,
	// which the LIKE of the query then checks. Existing events are indexed.
	`
CREATE VIRTUAL TABLE events_fts USING fts5(t, content='', contentless_delete=1, tokenize='trigram', detail='none');
INSERT INTO events_fts(rowid, t) SELECT id, ` + ftsText("") + ` FROM events;
`,
	// 8: alert triage (current status, full history) and exceptions. Kept
	// apart from the alerts table, so the detection engine's upsert of an
	// alert never overwrites its triage state, and kept when alerts are
	// pruned (the history is the audit record).
	triageMigration,
	// 9: an event-type prefix with a rare outcome (FAILURE, DENY, ...) reads
	// its own partial index instead of walking every event of the range
	// (query.go, outcomeIndexed). SUCCESS and ALLOW, most of the events, are
	// left out: the index stays small and costs little at write time.
	`
CREATE INDEX events_outcome_type ON events(outcome, event_type, published)
	WHERE outcome <> 'SUCCESS' AND outcome <> 'ALLOW';
`,
	// 10: what the alerts table shows, as columns (alert_table.go): the
	// evidence as its JSON text, the event uuids and MITRE ids joined by
	// commas. Existing alerts are filled from their JSON.
	`
ALTER TABLE alerts ADD COLUMN evidence  TEXT NOT NULL DEFAULT 'null';
ALTER TABLE alerts ADD COLUMN event_ids TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN mitre     TEXT NOT NULL DEFAULT '';
UPDATE alerts SET
	evidence  = COALESCE(json_extract(CAST(json AS TEXT), '$.evidence'), 'null'),
	event_ids = COALESCE((SELECT group_concat(value, ',') FROM json_each(CAST(alerts.json AS TEXT), '$.eventIds')), ''),
	mitre     = COALESCE((SELECT group_concat(value, ',') FROM json_each(CAST(alerts.json AS TEXT), '$.mitre')), '');
`,
	// 11: the text index without its per-row size table (columnsize=0,
	// ~13 bytes per event): contentless_delete=1 needed that table, so
	// pruned rows now leave the index through FTS5's 'delete' command with
	// their indexed text, recomputed from the events row (prune.go). The
	// index is rebuilt from the events.
	`
DROP TABLE events_fts;
CREATE VIRTUAL TABLE events_fts USING fts5(t, content='', columnsize=0, tokenize='trigram', detail='none');
INSERT INTO events_fts(rowid, t) SELECT id, ` + ftsText("") + ` FROM events;
`,
	// 12: sealed user segments (user_segs.go): the rows of each closed
	// user_days / user_hours bucket packed into one compressed blob, so the
	// users summary decodes a bucket instead of grouping its rows. The rows
	// of existing stores are sealed after this migration, one bucket per
	// transaction (sealUserBuckets at open: resumable).
	`
CREATE TABLE user_segs (
	span   INTEGER NOT NULL,   -- bucket width in ms: 86400000 (user_days) or 3600000 (user_hours)
	bucket INTEGER NOT NULL,   -- unix ms, start of the bucket
	data   BLOB    NOT NULL,   -- zstd of the bucket's entries
	PRIMARY KEY (span, bucket)
);
`,
	// 13: event counts per bucket and outcome only, beside each count
	// roll-up (series_outcome.go): a series grouped by outcome (or not
	// grouped) without event-type or country filters reads a few rows a
	// bucket instead of every (event type, outcome, country) row of it.
	// Existing counts are folded in. And a covering index of the alerts
	// per actor and severity for the users summary.
	outcomeCountsMigration(),
	// 14: the detector state as an append-only log (state_log.go): a commit
	// appends its delta instead of updating the state table's B-tree in
	// place (one page per subject touched). The existing keys become the
	// log's first rows, in key order; the state table stays, empty (the
	// in-place path of Options.StateInPlace, kept for benchmarks).
	`
CREATE TABLE state_log (
	seq   INTEGER PRIMARY KEY, -- commit order; the newest row of a key wins
	kind  INTEGER NOT NULL,    -- 0 put key=value, 1 delete key, 2 delete every key starting with key
	key   TEXT    NOT NULL,
	value BLOB                 -- NULL for kinds 1 and 2
);
INSERT INTO state_log (kind, key, value) SELECT 0, key, value FROM state ORDER BY key;
DELETE FROM state;
`,
	// 15: the actors' per-commit changes as an append-only log folded into
	// the actors table in bulk (actors_log.go): a commit appends one row per
	// actor instead of updating one leaf of the table per actor. The table
	// stays as it is (the folded part): nothing to copy, O(1) on any store.
	actorsLogMigration,
	// 16: the actor, IP and session indexes lead with the hour
	// (entity_hours.go): a commit's entries fall into the current hour's
	// leaves instead of one leaf per distinct entity. Rebuilt in place, in
	// this migration's one transaction.
	entityHoursMigration,
	// 17: a day's user entries come from its hours until the day is sealed
	// (user_days.go): commits write no user_days row for a day without a
	// segment, and the rows such days have are dropped (user_hours holds
	// them too).
	daysFromHoursMigration,
	// 18: the actors of each geo_hours row as a set, closed days folded
	// into geo_days (geo_sets.go): the Geomap panel's distinct users per
	// point from roll-ups. Existing rows get their sets at open, a few
	// hours per transaction (geo_build: resumable).
	geoSetsMigration,
	// 19: each geo_hours row's events per minute and its actors' first and
	// last minutes (geo_mins.go): a Geomap query's partial hours at its
	// ends from the rows, not raw rows. Existing rows get their minutes at
	// open, with the sets (geo_mins_build: resumable).
	geoMinsMigration,
	// 20: segments in parts (user_parts.go): a segment of more than
	// segPartEntries entries is written as parts, and one that merges
	// others (a day, a 2- or 4-day segment) is built a bounded step per
	// commit. A new table only: the segments written before stay blobs.
	segPartsMigration,
	// 21: event counts per minute and severity (volume.go): Explore's logs
	// volume without a filter reads a row per minute and level instead of
	// every event of the range. Existing events are counted in.
	levelCountsMigration,
	// 22: the raw JSON of new events in blocks of consecutive ids, one zstd
	// frame each (raw_blocks.go): a quarter of the compression's CPU and
	// fewer bytes. A new table only: the rows written before stay in
	// events_raw, where readers look first.
	rawBlocksMigration,
}

// migrate applies the migrations above the database's version, up to upTo,
// each in its own transaction. Opening an up-to-date database is a no-op.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	var cur sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if int(cur.Int64) > len(migrations) {
		return fmt.Errorf("store: %s has schema version %d, newer than this build supports (%d); upgrade oktaguard",
			s.path, cur.Int64, len(migrations))
	}
	for v := int(cur.Int64) + 1; v <= upTo && v <= len(migrations); v++ {
		if err := s.applyMigration(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, v int) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Re-check inside the write transaction: another process may have
	// migrated between our read and this lock.
	var done int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", v).Scan(&done); err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	if done > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)",
		v, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("store: migration %d: %w", v, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %d: commit: %w", v, err)
	}
	return nil
}
