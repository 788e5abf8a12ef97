package store

// The per-entity indexes of the events (an actor's, an IP's, a session's
// events in time order: the drill-down filters of QueryEvents, the series
// and the geo points) lead with the hour of the event since schema 16:
// (published/3600000, actor, published) instead of (actor, published).
//
// Keyed by entity first, each new event lands at the end of its entity's
// range, somewhere in the whole index: a 1 000-event commit dirtied about
// one leaf per distinct actor (IP, session) of the page, ~800 leaves per
// index at 10 000 users and more, and the three indexes were ~2 200-2 500
// of a commit's ~2 800 WAL pages at any number of users (docs/performance.md).
// Keyed by hour first, a commit's entries fall into the current hour's part
// of each index: its few leaves are dirtied by every commit of the hour.
//
// A filter then reads its entity's entries hour by hour: the statement
// lists the hours of its range (hoursIn) and the index is sought once per
// hour (168 seeks for 7 days), newest hour first when the order is newest
// first: the rows come out in index order (hour, published, id), which is
// the order by published and id since the hour grows with published, so
// no sort and a LIMIT stops the walk early. The hours are generated inside
// the statement, clamped to the store's oldest and newest event, so an
// open range (From or To zero) reads the hours the store has, in the same
// snapshot as the rows.
const entityHoursVersion = 16

// hourMSExpr is the hour of an event as the new indexes hold it. The
// statements must spell it the same way (with the table prefix) for the
// planner to match the expression index.
const hourMSExpr = "published/3600000"

// entityHoursMigration rebuilds the three indexes hour first. It runs in
// one transaction, as every migration does (migrate.go): a crash or an
// error part way rolls back to schema 15 with its indexes intact, and the
// next open runs it again.
const entityHoursMigration = `
DROP INDEX events_actor;
DROP INDEX events_ip;
DROP INDEX events_session;
CREATE INDEX events_actor_hour   ON events(` + hourMSExpr + `, actor, published);
CREATE INDEX events_ip_hour      ON events(` + hourMSExpr + `, ip, published);
CREATE INDEX events_session_hour ON events(` + hourMSExpr + `, session_id, published) WHERE session_id <> '';
`

// hoursIn is an IN list (a subquery with two placeholders: the range's
// first and last unix ms) of the hours from the later of the range's start
// and the oldest event to the earlier of its end and the newest event.
// Integer division truncates toward zero in SQLite as in the index, and is
// monotonic, so every event of the range has its hour in the list.
const hoursIn = `(WITH RECURSIVE h(x) AS (
	SELECT max(?, coalesce((SELECT MIN(published) FROM events), 0))/3600000
	UNION ALL SELECT x+1 FROM h WHERE x < min(?, coalesce((SELECT MAX(published) FROM events), 0))/3600000)
	SELECT x FROM h)`

// entityFiltered reports whether q filters on an entity whose index leads
// with the hour (when the store has schema 16: q.hours).
func (q EventQuery) entityFiltered() bool {
	return q.hours && (q.Actor != "" || q.IP != "" || q.SessionID != "")
}
