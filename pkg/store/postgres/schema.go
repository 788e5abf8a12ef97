package postgres

// migrations are applied in order under an advisory lock (several
// instances may start at once); migration i has schema version i+1.
// Never edit a released migration: append a new one.
//
// Every table is keyed by org (orgs.id). Times are unix milliseconds
// (bigint), as in the SQLite store, so both backends share the query
// logic. Events are partitioned by day on published (partitions are
// created ahead by the writer, see partitions.go) and retention drops
// whole partitions.
var migrations = []string{
	// 1: the whole schema.
	`
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE orgs (
	id            serial PRIMARY KEY,
	url           text   NOT NULL UNIQUE,
	created_at    timestamptz NOT NULL DEFAULT now(),
	retained_from bigint NOT NULL DEFAULT 0 -- events before this (unix ms) were pruned
);

CREATE TABLE events (
	org             int     NOT NULL,
	published       bigint  NOT NULL,
	uuid            text    NOT NULL,
	event_type      text    COLLATE "C" NOT NULL,
	actor           text    NOT NULL DEFAULT '',
	actor_id        text    NOT NULL DEFAULT '',
	actor_type      text    NOT NULL DEFAULT '',
	actor_name      text    NOT NULL DEFAULT '',
	outcome         text    NOT NULL DEFAULT '',
	reason          text    NOT NULL DEFAULT '',
	ip              text    NOT NULL DEFAULT '',
	country         text    NOT NULL DEFAULT '',
	city            text    NOT NULL DEFAULT '',
	lat             double precision,
	lon             double precision,
	session_id      text    NOT NULL DEFAULT '',
	severity        text    NOT NULL DEFAULT '',
	display_message text    NOT NULL DEFAULT '',
	target          text    NOT NULL DEFAULT '',
	risk_level      text    NOT NULL DEFAULT '',
	ip_categories   smallint NOT NULL DEFAULT 0,
	raw             bytea   NOT NULL, -- zstd-compressed Okta JSON (schema 7: with the org's raw_dicts dictionary)
	PRIMARY KEY (org, uuid, published)
) PARTITION BY RANGE (published);
-- one index per panel query (TestGeoRollupNotParallel holds the geo roll-up plan; the others are measured by BenchmarkQuery)
CREATE INDEX events_time    ON events (org, published);
CREATE INDEX events_actor   ON events (org, actor, published);
CREATE INDEX events_type    ON events (org, event_type, published);
CREATE INDEX events_ip      ON events (org, ip, published);
CREATE INDEX events_session ON events (org, session_id, published) WHERE session_id <> '';
CREATE INDEX events_text    ON events USING gin ((display_message || chr(10) || actor || chr(10) || event_type || chr(10) || target || chr(10) || ip) gin_trgm_ops);

CREATE TABLE alerts (
	org       int    NOT NULL,
	id        text   NOT NULL,
	detector  text   NOT NULL,
	severity  text   NOT NULL,
	time      bigint NOT NULL,
	actor     text   NOT NULL DEFAULT '',
	actor_id  text   NOT NULL DEFAULT '',
	ip        text   NOT NULL DEFAULT '',
	country   text   NOT NULL DEFAULT '',
	title     text   NOT NULL DEFAULT '',
	summary   text   NOT NULL DEFAULT '',
	json      bytea  NOT NULL,
	stored_at bigint NOT NULL,
	PRIMARY KEY (org, id)
);
CREATE INDEX alerts_time     ON alerts (org, time);
CREATE INDEX alerts_detector ON alerts (org, detector, time);
CREATE INDEX alerts_actor    ON alerts (org, actor, time);

CREATE TABLE alert_events (
	org        int  NOT NULL,
	alert_id   text NOT NULL,
	event_uuid text NOT NULL,
	PRIMARY KEY (org, alert_id, event_uuid),
	FOREIGN KEY (org, alert_id) REFERENCES alerts (org, id) ON DELETE CASCADE
);
CREATE INDEX alert_events_event ON alert_events (org, event_uuid);

CREATE TABLE checkpoint (
	org            int    PRIMARY KEY,
	next_url       text   NOT NULL,
	max_published  bigint NOT NULL,
	backfill_since bigint NOT NULL,
	backfill_done  boolean NOT NULL,
	updated_at     bigint NOT NULL
);

CREATE TABLE state (
	org        int    NOT NULL,
	key        text   NOT NULL,
	value      bytea  NOT NULL,
	updated_at bigint NOT NULL,
	PRIMARY KEY (org, key)
);

CREATE TABLE leases (
	org     int         PRIMARY KEY,
	holder  text        NOT NULL,
	token   bigint      NOT NULL,
	expires timestamptz NOT NULL
);

CREATE TABLE posture_reports (
	org     int    NOT NULL,
	id      bigserial PRIMARY KEY,
	time    bigint NOT NULL,
	profile text   NOT NULL,
	score   double precision NOT NULL,
	json    bytea
);
CREATE INDEX posture_reports_profile ON posture_reports (org, profile, time);
CREATE INDEX posture_reports_time    ON posture_reports (org, time);

CREATE TABLE posture_checks (
	report_id bigint NOT NULL REFERENCES posture_reports (id) ON DELETE CASCADE,
	check_id  text   NOT NULL,
	title     text   NOT NULL DEFAULT '',
	category  text   NOT NULL DEFAULT '',
	severity  text   NOT NULL DEFAULT '',
	status    text   NOT NULL,
	findings  int    NOT NULL DEFAULT 0,
	failing   int    NOT NULL DEFAULT 0,
	PRIMARY KEY (report_id, check_id)
);

CREATE TABLE regressions (
	org         int    NOT NULL,
	id          bigserial PRIMARY KEY,
	time        bigint NOT NULL,
	check_id    text   NOT NULL,
	title       text   NOT NULL DEFAULT '',
	resource    text   NOT NULL DEFAULT '',
	from_status text   NOT NULL DEFAULT '',
	to_status   text   NOT NULL DEFAULT '',
	event_id    text   NOT NULL DEFAULT '',
	actor       text   NOT NULL DEFAULT '',
	detail      text   NOT NULL DEFAULT ''
);
CREATE INDEX regressions_time ON regressions (org, time);

-- roll-ups maintained by Commit (as in SQLite)
CREATE TABLE event_counts (
	org int NOT NULL, bucket bigint NOT NULL, event_type text COLLATE "C" NOT NULL, outcome text NOT NULL, country text NOT NULL, n bigint NOT NULL,
	PRIMARY KEY (org, bucket, event_type, outcome, country));
CREATE TABLE event_counts_5m (
	org int NOT NULL, bucket bigint NOT NULL, event_type text COLLATE "C" NOT NULL, outcome text NOT NULL, country text NOT NULL, n bigint NOT NULL,
	PRIMARY KEY (org, bucket, event_type, outcome, country));
CREATE TABLE event_counts_hour (
	org int NOT NULL, bucket bigint NOT NULL, event_type text COLLATE "C" NOT NULL, outcome text NOT NULL, country text NOT NULL, n bigint NOT NULL,
	PRIMARY KEY (org, bucket, event_type, outcome, country));
CREATE TABLE user_days (
	org int NOT NULL, bucket bigint NOT NULL, actor text NOT NULL, country text NOT NULL, actor_id text NOT NULL,
	events bigint NOT NULL, failures bigint NOT NULL, last_seen bigint NOT NULL, last_ip text NOT NULL,
	PRIMARY KEY (org, bucket, actor, country));
CREATE TABLE user_hours (
	org int NOT NULL, bucket bigint NOT NULL, actor text NOT NULL, country text NOT NULL, actor_id text NOT NULL,
	events bigint NOT NULL, failures bigint NOT NULL, last_seen bigint NOT NULL, last_ip text NOT NULL,
	PRIMARY KEY (org, bucket, actor, country));
CREATE TABLE geo_hours (
	org int NOT NULL, bucket bigint NOT NULL, event_type text COLLATE "C" NOT NULL, outcome text NOT NULL,
	lat double precision NOT NULL, lon double precision NOT NULL, country text NOT NULL, city text NOT NULL,
	n bigint NOT NULL, last_seen bigint NOT NULL,
	PRIMARY KEY (org, bucket, event_type, outcome, lat, lon, country, city));
CREATE TABLE actors (
	org int NOT NULL, actor text NOT NULL, actor_id text NOT NULL DEFAULT '', last_seen bigint NOT NULL, events bigint NOT NULL,
	PRIMARY KEY (org, actor));
CREATE INDEX actors_recent ON actors (org, last_seen DESC);
CREATE INDEX actors_text ON actors USING gin (actor gin_trgm_ops);
CREATE TABLE event_types (
	org int NOT NULL, event_type text COLLATE "C" NOT NULL, last_seen bigint NOT NULL, events bigint NOT NULL,
	PRIMARY KEY (org, event_type));
`,
	// 2: alert triage (status with history, exceptions), keyed by org like
	// everything else and kept apart from the alert rows, so the leader's
	// upsert of an alert never overwrites it and alert retention keeps it.
	`
CREATE TABLE alert_triage (
	org        int    NOT NULL,
	alert_id   text   NOT NULL,
	status     text   NOT NULL,
	assignee   text   NOT NULL DEFAULT '',
	note       text   NOT NULL DEFAULT '',
	updated_at bigint NOT NULL,
	updated_by text   NOT NULL DEFAULT '',
	PRIMARY KEY (org, alert_id)
);
CREATE INDEX alert_triage_status ON alert_triage (org, status);

CREATE TABLE alert_history (
	org          int    NOT NULL,
	id           bigserial PRIMARY KEY,
	alert_id     text   NOT NULL,
	time         bigint NOT NULL,
	usr          text   NOT NULL,
	role         text   NOT NULL DEFAULT '',
	from_status  text   NOT NULL,
	to_status    text   NOT NULL,
	note         text   NOT NULL DEFAULT '',
	assignee     text   NOT NULL DEFAULT '',
	exception_id bigint NOT NULL DEFAULT 0
);
CREATE INDEX alert_history_alert ON alert_history (org, alert_id, time);
CREATE INDEX alert_history_time  ON alert_history (org, time);

CREATE TABLE alert_exceptions (
	org        int    NOT NULL,
	id         bigserial PRIMARY KEY,
	detector   text   NOT NULL,
	scope      text   NOT NULL,
	value      text   NOT NULL,
	reason     text   NOT NULL,
	alert_id   text   NOT NULL DEFAULT '',
	created_by text   NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint NOT NULL,
	removed_at bigint NOT NULL DEFAULT 0,
	removed_by text   NOT NULL DEFAULT '',
	hits       bigint NOT NULL DEFAULT 0,
	last_hit   bigint NOT NULL DEFAULT 0
);
CREATE INDEX alert_exceptions_org  ON alert_exceptions (org, id);
CREATE INDEX alert_exceptions_live ON alert_exceptions (org, removed_at, expires_at);
`,
	// 3: write path and panel plans (see docs/performance.md, "Store
	// backends side by side").
	//   - actors_recent is dropped: actor search sorts the org's actors (a
	//     few thousand rows) by last_seen itself, and without an index on
	//     the columns an upsert changes, the per-page upsert of every seen
	//     actor is a HOT update that touches neither the primary key nor
	//     the trigram index (it was ~15 % of a page's commit).
	//   - free space per page (fillfactor) on the tables every page
	//     upserts, so those updates stay HOT (in-page, no index entries).
	//   - events_outcome serves "activity with an outcome" (the failures
	//     panel): walk the org's failures newest first instead of every
	//     event of the 7 days.
	`
DROP INDEX actors_recent;
ALTER TABLE actors SET (fillfactor = 70);
ALTER TABLE event_types SET (fillfactor = 70);
ALTER TABLE user_hours SET (fillfactor = 80);
ALTER TABLE user_days SET (fillfactor = 80);
ALTER TABLE geo_hours SET (fillfactor = 80);
ALTER TABLE event_counts SET (fillfactor = 80);
ALTER TABLE event_counts_5m SET (fillfactor = 80);
ALTER TABLE event_counts_hour SET (fillfactor = 80);
CREATE INDEX events_outcome ON events (org, outcome, published);
`,
	// 4: the alerts table served from columns (as SQLite's migration 10):
	// the evidence as its JSON text, the event uuids and MITRE ids joined
	// by commas, so the panel decodes no alert JSON. Alerts stored before
	// are filled from their JSON in this transaction (the json type keeps
	// the stored text, so the evidence is byte-equal to what Commit writes).
	`
ALTER TABLE alerts ADD COLUMN evidence  text NOT NULL DEFAULT 'null',
	ADD COLUMN event_ids text NOT NULL DEFAULT '',
	ADD COLUMN mitre     text NOT NULL DEFAULT '';
UPDATE alerts SET
	evidence  = COALESCE((convert_from(json, 'UTF8')::json -> 'evidence')::text, 'null'),
	event_ids = COALESCE((SELECT string_agg(e.v, ',' ORDER BY e.i) FROM json_array_elements_text(
		CASE WHEN json_typeof(convert_from(json, 'UTF8')::json -> 'eventIds') = 'array' THEN convert_from(json, 'UTF8')::json -> 'eventIds' END)
		WITH ORDINALITY AS e(v, i)), ''),
	mitre     = COALESCE((SELECT string_agg(e.v, ',' ORDER BY e.i) FROM json_array_elements_text(
		CASE WHEN json_typeof(convert_from(json, 'UTF8')::json -> 'mitre') = 'array' THEN convert_from(json, 'UTF8')::json -> 'mitre' END)
		WITH ORDINALITY AS e(v, i)), '');
`,
	// 5: the geo panel's roll-up is read without parallel workers. For a
	// 7-day range PostgreSQL picked a parallel sequential scan of the whole
	// geo_hours table (3 558 buffers on the 1 M benchmark schema) over a
	// bitmap scan of the 7 days (2 597): on a busy 2-core machine the
	// workers fight for the cores, BenchmarkQuery geo_7d 216-237 ms p50
	// against 50-104 ms without them (docs/performance.md). The series
	// roll-ups keep their parallel plans (measured faster with them).
	`
ALTER TABLE geo_hours SET (parallel_workers = 0);
`,
	// 6: sealed user segments (user_segs.go; the encoding is SQLite's
	// schema 12's, pkg/store/user_segs.go): the rows of each closed
	// user_days / user_hours bucket of an org packed into one row, so the
	// users summary decodes a bucket instead of receiving its rows. The
	// rows of existing stores are sealed at open after this migration, a
	// budget of entries per transaction (resumable).
	`
CREATE TABLE user_segs (
	org    int    NOT NULL,
	span   bigint NOT NULL, -- bucket width in ms: 86400000 (user_days) or 3600000 (user_hours)
	bucket bigint NOT NULL, -- unix ms, start of the bucket
	data   bytea  NOT NULL, -- zstd of the bucket's entries
	PRIMARY KEY (org, span, bucket)
);
`,
	// 7: raw JSON dictionaries (raw.go; the format is SQLite's,
	// pkg/store/raw_dict.go), keyed by org like every row: a frame of
	// events.raw names its dictionary by id, unique within the org. Rows
	// stored before keep their frames without a dictionary (readable as
	// they are); the org's dictionary is built at open from its newest
	// events.
	`
CREATE TABLE raw_dicts (
	org        int    NOT NULL,
	id         int    NOT NULL, -- the zstd dictionary id in the frames' headers (32768..65535)
	dict       bytea  NOT NULL, -- raw content: some of the org's own events, concatenated
	created_at bigint NOT NULL,
	PRIMARY KEY (org, id)
);
`,
	// 8: distinct users per Geomap point from actor sets (geo_sets.go):
	// geo_hours rows carry the sorted numbers (geo_actor_ids) of their
	// events' actors, closed days are folded into geo_days. Constant time:
	// existing rows get their sets in the background (orgs.geo_unbuilt_*,
	// the days still to build); the range's MIN/MAX come from the primary
	// key of geo_hours.
	`
ALTER TABLE orgs ADD COLUMN geo_unbuilt_lo bigint NOT NULL DEFAULT 0, -- days in [lo, hi) (unix ms) have no actor sets yet
	ADD COLUMN geo_unbuilt_hi bigint NOT NULL DEFAULT 0;
ALTER TABLE geo_hours ADD COLUMN actors int4[]; -- NULL until built
CREATE TABLE geo_actor_ids (
	org   int  NOT NULL,
	login text NOT NULL, -- events.actor
	gid   int  NOT NULL, -- its number in the org's sets, never reused
	PRIMARY KEY (org, login));
CREATE TABLE geo_actor_next (org int PRIMARY KEY, next int NOT NULL);
CREATE TABLE geo_days (
	org int NOT NULL, bucket bigint NOT NULL, event_type text COLLATE "C" NOT NULL, outcome text NOT NULL,
	lat double precision NOT NULL, lon double precision NOT NULL, country text NOT NULL, city text NOT NULL,
	n bigint NOT NULL, last_seen bigint NOT NULL, actors int4[] NOT NULL,
	PRIMARY KEY (org, bucket, event_type, outcome, lat, lon, country, city)) WITH (parallel_workers = 0);
CREATE TABLE geo_sealed_days (org int NOT NULL, bucket bigint NOT NULL, PRIMARY KEY (org, bucket));
UPDATE orgs o SET geo_unbuilt_lo = b.lo - b.lo % 86400000, geo_unbuilt_hi = b.hi - b.hi % 86400000 + 86400000
	FROM (SELECT id, (SELECT MIN(bucket) FROM geo_hours h WHERE h.org = orgs.id) AS lo,
		(SELECT MAX(bucket) FROM geo_hours h WHERE h.org = orgs.id) AS hi FROM orgs) b
	WHERE b.id = o.id AND b.lo IS NOT NULL;
`,
	// 9: outcome count tables (series_outcome.go; SQLite's schema 13):
	// beside each event-count roll-up the same counts per bucket and
	// outcome only, filled from the full tables here.
	`
CREATE TABLE event_counts_outcome (
	org int NOT NULL, bucket bigint NOT NULL, outcome text NOT NULL, n bigint NOT NULL,
	PRIMARY KEY (org, bucket, outcome)) WITH (fillfactor = 80);
CREATE TABLE event_counts_5m_outcome (LIKE event_counts_outcome INCLUDING ALL) WITH (fillfactor = 80);
CREATE TABLE event_counts_hour_outcome (LIKE event_counts_outcome INCLUDING ALL) WITH (fillfactor = 80);
INSERT INTO event_counts_outcome SELECT org, bucket, outcome, SUM(n) FROM event_counts GROUP BY 1, 2, 3;
INSERT INTO event_counts_5m_outcome SELECT org, bucket, outcome, SUM(n) FROM event_counts_5m GROUP BY 1, 2, 3;
INSERT INTO event_counts_hour_outcome SELECT org, bucket, outcome, SUM(n) FROM event_counts_hour GROUP BY 1, 2, 3;
`,
	// 10: the user seal bounded per commit (user_parts.go): each commit
	// moves a bounded number of a closed bucket's rows into a part.
	// Constant time: a new table; the segments written before stay in
	// user_segs and are read as before.
	`
CREATE TABLE user_seg_parts (
	org    int    NOT NULL,
	span   bigint NOT NULL, -- as user_segs
	bucket bigint NOT NULL,
	part   int    NOT NULL, -- 1, 2, ... in the order written
	n      int    NOT NULL, -- entries (at most)
	data   bytea  NOT NULL, -- zstd of some of the bucket's entries (a segment encoding)
	PRIMARY KEY (org, span, bucket, part)
);
`,
	// 11: event counts per minute and severity (volume.go), as SQLite's
	// schema 21: Explore's logs volume without a filter reads a row per
	// minute and level. Existing events are counted in.
	`
CREATE TABLE event_levels (
	org int NOT NULL, bucket bigint NOT NULL, severity text NOT NULL, n bigint NOT NULL,
	PRIMARY KEY (org, bucket, severity)) WITH (fillfactor = 80);
INSERT INTO event_levels SELECT org, published - mod(published, 60000), severity, COUNT(*) FROM events GROUP BY 1, 2, 3;
`,
	// 12: the checkpoint's commit sequence (checkpoint_seq.go): every
	// commit that writes the checkpoint moves it on by one, and a leader
	// commits only onto the sequence it last wrote or read. Constant time
	// (a column with a default).
	`
ALTER TABLE checkpoint ADD COLUMN seq bigint NOT NULL DEFAULT 0;
`,
}

// searchExpr is the free-text expression; it must match the events_text
// index expression exactly for the planner to use the trigram index.
const searchExpr = `(display_message || chr(10) || actor || chr(10) || event_type || chr(10) || target || chr(10) || ip)`
