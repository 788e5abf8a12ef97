package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// EventRow is one stored event: the normalized columns and the raw JSON.
type EventRow struct {
	UUID           string
	Published      time.Time
	EventType      string
	Actor          string // actor.alternateId (login)
	ActorID        string
	ActorType      string
	ActorName      string
	Outcome        string
	Reason         string
	IP             string
	Country        string
	City           string
	Lat, Lon       float64
	HasGeo         bool // Lat/Lon are known
	SessionID      string
	Severity       string
	DisplayMessage string
	Target         string // first target's alternateId (or display name)
	RiskLevel      string
	IPCategories   uint8 // event.IPCategory bits from enrichment
	Raw            json.RawMessage
}

// EventQuery selects events, newest first. Zero From/To leave that side
// open; empty filters match everything.
type EventQuery struct {
	From, To        time.Time
	Actor           string // exact actor.alternateId
	EventTypePrefix string // e.g. "user.session." or a full event type
	Outcome         string // SUCCESS, FAILURE, ... (case-insensitive)
	IP              string
	Country         string
	Text            string // substring of display message, actor, event type, target or IP (case-insensitive for ASCII)
	SessionID       string
	Limit           int // required, 1..MaxLimit
	NoRaw           bool
	// Exclude drops the events matching any exclusion (exclude.go).
	Exclude []Exclusion
	// Oldest returns the oldest events of the range first (and keeps the
	// oldest Limit): the events just after a time, e.g. a log line's
	// context after it. Default: newest first.
	Oldest bool

	ftsMatch string // set by QueryEvents when the text index narrows Text (fts.go)
	hours    bool   // set by the store at schema 16: the entity indexes lead with the hour (entity_hours.go)
}

// AlertQuery selects alerts, newest first.
type AlertQuery struct {
	From, To time.Time
	Detector string
	Severity string
	Actor    string
	Limit    int
}

func (s *Store) checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("store: %w: limit must be positive, got %d", ErrInvalidQuery, limit)
	}
	if limit > s.opts.MaxLimit {
		return fmt.Errorf("store: %w: limit %d exceeds the maximum %d", ErrInvalidQuery, limit, s.opts.MaxLimit)
	}
	return nil
}

// bounds converts From/To to inclusive unix-ms bounds; zero means open.
func bounds(from, to time.Time) (lo, hi int64, err error) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !from.IsZero() {
		lo = from.UnixMilli()
	}
	if !to.IsZero() {
		hi = to.UnixMilli()
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("store: %w: from %s is after to %s", ErrInvalidQuery,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	return lo, hi, nil
}

// prefixUpper is an exclusive upper bound for strings starting with p.
func prefixUpper(p string) string { return p + "\xff" }

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (q EventQuery) where(lo, hi int64, prefix string) where {
	var w where
	w.add(prefix+"published BETWEEN ? AND ?", lo, hi)
	if q.entityFiltered() {
		w.add(prefix+hourMSExpr+" IN "+hoursIn, lo, hi)
	}
	if q.Actor != "" {
		w.add(prefix+"actor = ?", q.Actor)
	}
	if q.EventTypePrefix != "" {
		w.add(prefix+"event_type >= ? AND "+prefix+"event_type < ?", q.EventTypePrefix, prefixUpper(q.EventTypePrefix))
	}
	if q.Outcome != "" {
		w.add(prefix+"outcome = ?", strings.ToUpper(q.Outcome))
	}
	if q.IP != "" {
		w.add(prefix+"ip = ?", q.IP)
	}
	if q.Country != "" {
		w.add(prefix+"country = ?", q.Country)
	}
	if q.SessionID != "" {
		// The redundant "<> ''" lets the planner use the partial index
		// events_session: a bound "= ?" alone does not imply its condition.
		w.add(prefix+"session_id = ? AND "+prefix+"session_id <> ''", q.SessionID)
	}
	for _, e := range q.Exclude {
		c, a := ExclusionCond(prefix, e)
		w.add(c, a)
	}
	if q.Text != "" {
		if q.ftsMatch != "" {
			// the trigram index narrows the candidates; the LIKE below decides
			w.add(prefix+"id IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)", q.ftsMatch)
		}
		l := likeEscape(q.Text)
		w.add("("+prefix+"display_message LIKE ? ESCAPE '\\' OR "+prefix+"actor LIKE ? ESCAPE '\\' OR "+
			prefix+"event_type LIKE ? ESCAPE '\\' OR "+prefix+"target LIKE ? ESCAPE '\\' OR "+prefix+"ip LIKE ? ESCAPE '\\')",
			l, l, l, l, l)
	}
	return w
}

const eventRowCols = `e.uuid, e.published, e.event_type, e.actor, e.actor_id, e.actor_type, e.actor_name, e.outcome, e.reason,
	e.ip, e.country, e.city, e.lat, e.lon, e.session_id, e.severity, e.display_message, e.target, e.risk_level, e.ip_categories`

// scanEventRow scans one row of eventRowCols followed by the raw JSON
// (events_raw.raw, decompressed here) and then extra, for queryEventRows.
func scanEventRow(rows *sql.Rows, codec *rawCodec, extra ...any) (r EventRow, err error) {
	var cats, publishedMS int64
	var lat, lon sql.NullFloat64
	var raw []byte
	dest := append([]any{&r.UUID, &publishedMS, &r.EventType, &r.Actor, &r.ActorID, &r.ActorType, &r.ActorName, &r.Outcome,
		&r.Reason, &r.IP, &r.Country, &r.City, &lat, &lon, &r.SessionID, &r.Severity, &r.DisplayMessage,
		&r.Target, &r.RiskLevel, &cats, &raw}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return r, err
	}
	r.Published = fromMS(publishedMS)
	if lat.Valid && lon.Valid {
		r.Lat, r.Lon, r.HasGeo = lat.Float64, lon.Float64, true
	}
	r.IPCategories = uint8(cats) // #nosec G115 -- ip_categories is written by Commit from an event.IPCategory (uint8)
	if raw != nil {
		if r.Raw, err = codec.decompress(raw); err != nil {
			return r, fmt.Errorf("event %s: %w", r.UUID, err)
		}
	}
	return r, nil
}

// outcomeIndexed reports whether q reads the partial index
// events_outcome_type (migration 9): an event-type prefix with an outcome
// that index holds (any but SUCCESS and ALLOW). Walking the range's events
// newest first and testing each would read about Limit / (share of
// matches) rows, the whole range when fewer match.
func (q EventQuery) outcomeIndexed() bool {
	o := strings.ToUpper(q.Outcome)
	return q.EventTypePrefix != "" && o != "" && o != "SUCCESS" && o != "ALLOW"
}

// sql is QueryEvents' statement and arguments for the time bounds lo..hi.
func (q EventQuery) sql(lo, hi int64) (string, []any) {
	cols := eventRowCols + ", r.raw, e.id"
	join := " LEFT JOIN events_raw r ON r.id = e.id"
	if q.NoRaw {
		cols, join = eventRowCols+", NULL, e.id", ""
	}
	order := " ORDER BY e.published DESC, e.id DESC"
	if q.Oldest {
		order = " ORDER BY e.published, e.id"
	}
	if q.entityFiltered() {
		// the same order, spelled as the hour-first indexes hold it
		// (entity_hours.go), so the planner reads them without a sort
		order = " ORDER BY e." + hourMSExpr + " DESC, e.published DESC, e.id DESC"
		if q.Oldest {
			order = " ORDER BY e." + hourMSExpr + ", e.published, e.id"
		}
	}
	if q.outcomeIndexed() {
		// The redundant conditions let the planner use the partial index
		// (an "outcome = ?" does not imply its WHERE). The ids are chosen
		// from the index alone (it covers the filter) and only the Limit
		// rows kept are read, with their raw JSON, afterwards.
		w := q.where(lo, hi, "x.")
		w.add("x.outcome <> 'SUCCESS' AND x.outcome <> 'ALLOW'")
		inner := "SELECT x.id FROM events x" + w.sql() + strings.ReplaceAll(order, "e.", "x.") + " LIMIT ?"
		return "SELECT " + cols + " FROM events e" + join + " WHERE e.id IN (" + inner + ")" + order, append(w.args, q.Limit)
	}
	w := q.where(lo, hi, "e.")
	query := "SELECT " + cols + " FROM events e" + join + w.sql() + order + " LIMIT ?"
	return query, append(w.args, q.Limit)
}

// QueryEvents returns the events matching q, newest first (q.Oldest:
// oldest first), at most q.Limit.
func (s *Store) QueryEvents(ctx context.Context, q EventQuery) ([]EventRow, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	if err := CheckExclusions(q.Exclude); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	if q.ftsMatch, err = s.ftsPlan(ctx, q.Text); err != nil {
		return nil, err
	}
	q.hours = s.entityHours
	query, args := q.sql(lo, hi)
	out, _, err := s.queryEventRows(ctx, !q.NoRaw, min(q.Limit, 1024), query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query events: %w", err)
	}
	return out, nil
}

// queryEventRows runs a query of eventRowCols, the raw JSON of
// events_raw and the event's id, and reads the raw JSON of the rows
// events_raw does not hold from its blocks (withRaw), in one read
// transaction. It returns the rows and their ids.
func (s *Store) queryEventRows(ctx context.Context, withRaw bool, capacity int, query string, args ...any) ([]EventRow, []int64, error) {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	codec := s.codec()
	out := make([]EventRow, 0, capacity)
	var ids []int64
	for rows.Next() {
		var id int64
		r, err := scanEventRow(rows, codec, &id)
		if err != nil {
			return nil, nil, err
		}
		out, ids = append(out, r), append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close()
	if withRaw && s.rawBlocks {
		if err := rawFromBlocks(ctx, tx, s.blocksRead, codec, out, ids); err != nil {
			return nil, nil, err
		}
	}
	return out, ids, nil
}

// GetEvent returns one event by uuid; ok is false when it is not stored.
func (s *Store) GetEvent(ctx context.Context, uuid string) (EventRow, bool, error) {
	rows, err := s.QueryEventsByUUID(ctx, []string{uuid})
	if err != nil || len(rows) == 0 {
		return EventRow{}, false, err
	}
	return rows[0], true, nil
}

// QueryEventsByUUID returns the stored events among uuids (at most MaxLimit), oldest first.
func (s *Store) QueryEventsByUUID(ctx context.Context, uuids []string) ([]EventRow, error) {
	if len(uuids) > s.opts.MaxLimit {
		return nil, fmt.Errorf("store: %w: %d uuids exceed the maximum %d", ErrInvalidQuery, len(uuids), s.opts.MaxLimit)
	}
	js, _ := json.Marshal(uuids)
	out, _, err := s.queryEventRows(ctx, true, len(uuids), "SELECT "+eventRowCols+`, r.raw, e.id FROM events e LEFT JOIN events_raw r ON r.id = e.id
		WHERE e.uuid IN (SELECT value FROM json_each(?)) ORDER BY e.published, e.id`, string(js))
	if err != nil {
		return nil, fmt.Errorf("store: events by uuid: %w", err)
	}
	return out, nil
}

// alertWhere is the alerts table's filter on alert time (lo..hi, unix ms)
// and, when set, detector, severity (any case) and actor: QueryAlerts and
// the alert series.
func alertWhere(lo, hi int64, detector, severity, actor string) where {
	var w where
	w.add("time BETWEEN ? AND ?", lo, hi)
	if detector != "" {
		w.add("detector = ?", detector)
	}
	if severity != "" {
		w.add("severity = ?", strings.ToLower(severity))
	}
	if actor != "" {
		w.add("actor = ?", actor)
	}
	return w
}

// QueryAlerts returns the alerts matching q (on alert time), newest first.
func (s *Store) QueryAlerts(ctx context.Context, q AlertQuery) ([]alert.Alert, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	w := alertWhere(lo, hi, q.Detector, q.Severity, q.Actor)
	// #nosec G202 -- only code-built conditions (where.add with constant text) are joined; every value is a bound ? argument
	rows, err := s.r.QueryContext(ctx, "SELECT id, json FROM alerts"+w.sql()+" ORDER BY time DESC, id LIMIT ?",
		append(w.args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: query alerts: %w", err)
	}
	defer rows.Close()
	return ScanAlerts(rows, "query alerts")
}

// AlertEvents returns the uuids of the events linked to an alert that are
// still stored (events older than the retention are pruned).
func (s *Store) AlertEvents(ctx context.Context, alertID string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT l.event_uuid FROM alert_events l JOIN events e ON e.uuid = l.event_uuid
		WHERE l.alert_id = ? ORDER BY e.published`, alertID)
	if err != nil {
		return nil, fmt.Errorf("store: alert events: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("store: alert events: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: alert events: %w", err)
	}
	return out, nil
}
