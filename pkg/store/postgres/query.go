package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// where builds a condition list; each "?" of a condition becomes the next
// $n placeholder. The org condition always comes first.
type where struct {
	conds []string
	args  []any
}

func (s *Store) where() *where { w := &where{}; w.add("org = ?", s.org); return w }

func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	n := 0
	for _, r := range cond {
		if r == '?' {
			b.WriteString("$" + strconv.Itoa(len(w.args)+n+1))
			n++
			continue
		}
		b.WriteRune(r)
	}
	w.conds = append(w.conds, b.String())
	w.args = append(w.args, args...)
}

func (w *where) sql() string { return " WHERE " + strings.Join(w.conds, " AND ") }

// next is the placeholder of the argument appended after the conditions'.
func (w *where) next(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// prefixUpper bounds the event types starting with p (columns are
// COLLATE "C", so byte order; U+10FFFF sorts after every other character).
func prefixUpper(p string) string { return p + "\U0010FFFF" }

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// eventWhere adds q's conditions but its free text (Store.textConds).
func eventWhere(w *where, q store.EventQuery, lo, hi int64) {
	w.add("published BETWEEN ? AND ?", lo, hi)
	if q.Actor != "" {
		w.add("actor = ?", q.Actor)
	}
	if q.EventTypePrefix != "" {
		w.add("event_type >= ? AND event_type < ?", q.EventTypePrefix, prefixUpper(q.EventTypePrefix))
	}
	if q.Outcome != "" {
		w.add("outcome = ?", strings.ToUpper(q.Outcome))
	}
	if q.IP != "" {
		w.add("ip = ?", q.IP)
	}
	if q.Country != "" {
		w.add("country = ?", q.Country)
	}
	if q.SessionID != "" {
		w.add("session_id = ? AND session_id <> ''", q.SessionID)
	}
	for _, e := range q.Exclude {
		c, a := store.ExclusionCond("", e)
		w.add(c, a)
	}
}

const eventRowCols = `uuid, published, event_type, actor, actor_id, actor_type, actor_name, outcome, reason,
	ip, country, city, lat, lon, session_id, severity, display_message, target, risk_level, ip_categories`

// QueryEvents returns the org's events matching q, newest first (q.Oldest:
// oldest first).
func (s *Store) QueryEvents(ctx context.Context, q store.EventQuery) ([]store.EventRow, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	if err := store.CheckExclusions(q.Exclude); err != nil {
		return nil, err
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	w := s.where()
	eventWhere(w, q, lo, hi)
	if q.Text != "" {
		if err := s.textConds(ctx, w, q.Text); err != nil {
			return nil, err
		}
	}
	cols := eventRowCols + ", raw"
	if q.NoRaw {
		cols = eventRowCols + ", NULL::bytea"
	}
	order := " ORDER BY published DESC, uuid DESC LIMIT "
	if q.Oldest {
		order = " ORDER BY published, uuid LIMIT "
	}
	query := "SELECT " + cols + " FROM events" + w.sql() + order + w.next(q.Limit)
	return s.scanEvents(ctx, "query events", query, w.args)
}

func (s *Store) scanEvents(ctx context.Context, what, query string, args []any) ([]store.EventRow, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []store.EventRow
	for rows.Next() {
		var r store.EventRow
		var pub int64
		var lat, lon *float64
		var cats int16
		var raw []byte
		if err := rows.Scan(&r.UUID, &pub, &r.EventType, &r.Actor, &r.ActorID, &r.ActorType, &r.ActorName, &r.Outcome,
			&r.Reason, &r.IP, &r.Country, &r.City, &lat, &lon, &r.SessionID, &r.Severity, &r.DisplayMessage,
			&r.Target, &r.RiskLevel, &cats, &raw); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		r.Published = store.FromMS(pub)
		if lat != nil && lon != nil {
			r.Lat, r.Lon, r.HasGeo = *lat, *lon, true
		}
		r.IPCategories = uint8(cats) // #nosec G115 -- the smallint column is written by this store from a uint8 (ip_categories)
		if raw != nil {
			js, err := s.decompress(ctx, raw)
			if err != nil {
				return nil, fmt.Errorf("store: %s: event %s: raw JSON: %w", what, r.UUID, err)
			}
			if js == nil {
				js = []byte{}
			}
			r.Raw = json.RawMessage(js)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// GetEvent returns one of the org's events by uuid.
func (s *Store) GetEvent(ctx context.Context, uuid string) (store.EventRow, bool, error) {
	rows, err := s.QueryEventsByUUID(ctx, []string{uuid})
	if err != nil || len(rows) == 0 {
		return store.EventRow{}, false, err
	}
	return rows[0], true, nil
}

// QueryEventsByUUID returns the org's stored events among uuids, oldest first.
func (s *Store) QueryEventsByUUID(ctx context.Context, uuids []string) ([]store.EventRow, error) {
	if len(uuids) > s.cfg.MaxLimit {
		return nil, fmt.Errorf("store: %w: %d uuids exceed the maximum %d", store.ErrInvalidQuery, len(uuids), s.cfg.MaxLimit)
	}
	return s.scanEvents(ctx, "events by uuid", "SELECT "+eventRowCols+", raw FROM events WHERE org = $1 AND uuid = ANY($2) ORDER BY published, uuid",
		[]any{s.org, uuids})
}

// QueryAlerts returns the org's alerts matching q, newest first.
func (s *Store) QueryAlerts(ctx context.Context, q store.AlertQuery) ([]alert.Alert, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := store.Bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	w := s.where()
	w.add("time BETWEEN ? AND ?", lo, hi)
	if q.Detector != "" {
		w.add("detector = ?", q.Detector)
	}
	if q.Severity != "" {
		w.add("severity = ?", strings.ToLower(q.Severity))
	}
	if q.Actor != "" {
		w.add("actor = ?", q.Actor)
	}
	rows, err := s.pool.Query(ctx, "SELECT id, json FROM alerts"+w.sql()+" ORDER BY time DESC, id LIMIT "+w.next(q.Limit), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: query alerts: %w", err)
	}
	defer rows.Close()
	return store.ScanAlerts(rows, "query alerts")
}

// AlertEvents returns the uuids of the still-stored events of an alert.
func (s *Store) AlertEvents(ctx context.Context, alertID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.event_uuid FROM alert_events l JOIN events e ON e.org = l.org AND e.uuid = l.event_uuid
		WHERE l.org = $1 AND l.alert_id = $2 ORDER BY e.published`, s.org, alertID)
	if err != nil {
		return nil, fmt.Errorf("store: alert events: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: alert events: %w", err)
	}
	return out, nil
}

// Stats counts the org's events (from the event_types dictionary) and alerts.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	var minP, maxP *int64
	if err := s.pool.QueryRow(ctx, `SELECT (SELECT COALESCE(SUM(events), 0)::bigint FROM event_types WHERE org = $1),
		(SELECT MIN(published) FROM events WHERE org = $1), (SELECT MAX(published) FROM events WHERE org = $1),
		(SELECT COUNT(*) FROM alerts WHERE org = $1)`, s.org).Scan(&st.Events, &minP, &maxP, &st.Alerts); err != nil {
		return store.Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	if minP != nil {
		st.MinPublished = store.FromMS(*minP)
	}
	if maxP != nil {
		st.MaxPublished = store.FromMS(*maxP)
	}
	return st, nil
}
