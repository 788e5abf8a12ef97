package store

// triageMigration creates the triage tables (migration 8).
const triageMigration = `
CREATE TABLE alert_triage (
	alert_id   TEXT PRIMARY KEY,
	status     TEXT    NOT NULL,
	assignee   TEXT    NOT NULL DEFAULT '',
	note       TEXT    NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL,   -- unix ms
	updated_by TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX alert_triage_status ON alert_triage(status);

CREATE TABLE alert_history (
	id           INTEGER PRIMARY KEY,
	alert_id     TEXT    NOT NULL,
	time         INTEGER NOT NULL, -- unix ms
	user         TEXT    NOT NULL,
	role         TEXT    NOT NULL DEFAULT '',
	from_status  TEXT    NOT NULL,
	to_status    TEXT    NOT NULL,
	note         TEXT    NOT NULL DEFAULT '',
	assignee     TEXT    NOT NULL DEFAULT '',
	exception_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_history_alert ON alert_history(alert_id, time);
CREATE INDEX alert_history_time  ON alert_history(time);

CREATE TABLE alert_exceptions (
	id         INTEGER PRIMARY KEY,
	detector   TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	value      TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	alert_id   TEXT    NOT NULL DEFAULT '',
	created_by TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	removed_at INTEGER NOT NULL DEFAULT 0,
	removed_by TEXT    NOT NULL DEFAULT '',
	hits       INTEGER NOT NULL DEFAULT 0,
	last_hit   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_exceptions_live ON alert_exceptions(removed_at, expires_at);
`
