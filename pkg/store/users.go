package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// UserQuery selects per-actor summaries.
type UserQuery struct {
	From, To time.Time
	Search   string // substring of the actor login ("" = all)
	Limit    int
}

// UserSummary is one actor's activity in the range.
type UserSummary struct {
	Actor            string
	ActorID          string
	Events           int64
	Failures         int64
	Alerts           int64
	MaxAlertSeverity string   // highest alert severity in the range, "" without alerts
	Countries        []string // distinct countries, sorted
	LastSeen         time.Time
	LastIP           string
}

// countrySep separates the countries of a user summary row (group_concat):
// the unit separator, never in a country name.
const countrySep = "\x1f"

// severities is alert.SeverityRank's order, lowest first.
var severities = []string{alert.SeverityInfo, alert.SeverityLow, alert.SeverityMedium, alert.SeverityHigh, alert.SeverityCritical}

// severityRankSQL is alert.SeverityRank of the column col as SQL.
func severityRankSQL(col string) string {
	var b strings.Builder
	b.WriteString("CASE " + col)
	for _, s := range severities {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", s, alert.SeverityRank(s))
	}
	b.WriteString(" ELSE 0 END")
	return b.String()
}

// UserSummaries summarises each actor's events and alerts in the range,
// ordered by alerts, then failures, then events (descending), then actor.
//
// One statement does the work: whole days come from user_days, whole
// hours from user_hours and the sub-hour edges from the events; SQLite
// merges them per actor and country, then per actor, joins the alerts,
// ranks and keeps Limit rows. Only those rows reach Go.
func (s *Store) UserSummaries(ctx context.Context, q UserQuery) ([]UserSummary, error) {
	if err := s.checkLimit(q.Limit); err != nil {
		return nil, err
	}
	lo, hi, err := bounds(q.From, q.To)
	if err != nil {
		return nil, err
	}
	query, args := userSummarySQL(lo, hi, q)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	defer rows.Close()
	out := make([]UserSummary, 0, min(q.Limit, 1024))
	for rows.Next() {
		var u UserSummary
		var sev int
		var countries sql.NullString
		var last sql.NullInt64
		if err := rows.Scan(&u.Actor, &u.ActorID, &u.Events, &u.Failures, &u.Alerts, &sev, &countries, &last, &u.LastIP); err != nil {
			return nil, fmt.Errorf("store: user summaries: %w", err)
		}
		if sev > 0 && sev <= len(severities) {
			u.MaxAlertSeverity = severities[sev-1]
		}
		if countries.String != "" {
			u.Countries = strings.Split(countries.String, countrySep)
			sort.Strings(u.Countries)
		}
		if last.Valid {
			u.LastSeen = fromMS(last.Int64)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: user summaries: %w", err)
	}
	return out, nil
}

// userSummarySQL is UserSummaries' statement for the bounds lo..hi.
func userSummarySQL(lo, hi int64, q UserQuery) (string, []any) {
	var parts []string
	var args []any
	search := func(w *where) {
		if q.Search != "" {
			w.add("actor LIKE ? ESCAPE '\\'", likeEscape(q.Search))
		}
	}
	for _, sp := range spans(lo, endExclusive(hi), []int64{dayMS, hourMS}) {
		var w where
		if sp.level == 0 {
			w.add("published >= ? AND published < ?", sp.a, sp.b)
			w.add("actor <> ''")
			search(&w)
			parts = append(parts, `SELECT actor, country, published, ip, actor_id, 1, outcome IN ('FAILURE', 'DENY') FROM events`+w.sql())
		} else {
			table := "user_hours"
			if sp.level == dayMS {
				table = "user_days"
			}
			w.add("bucket >= ? AND bucket < ?", sp.a, sp.b)
			search(&w)
			parts = append(parts, `SELECT actor, country, last_seen, last_ip, actor_id, events, failures FROM `+table+w.sql())
		}
		args = append(args, w.args...)
	}
	if len(parts) == 0 {
		parts = []string{"SELECT '', '', 0, '', '', 0, 0 WHERE 0"}
	}
	var aw where
	aw.add("time BETWEEN ? AND ?", lo, hi)
	aw.add("actor <> ''")
	search(&aw)
	args = append(args, aw.args...)
	// MAX(last) is each level's only min/max aggregate, so the bare ip and
	// actor_id come from the newest row (documented SQLite behaviour).
	query := `WITH act(actor, country, last, ip, actor_id, n, f) AS (` + strings.Join(parts, " UNION ALL ") + `),
by_country AS (SELECT actor, country, MAX(last) AS last, ip, actor_id, SUM(n) AS n, SUM(f) AS f FROM act GROUP BY actor, country),
users AS (SELECT actor, MAX(last) AS last, ip, actor_id, SUM(n) AS n, SUM(f) AS f,
	group_concat(NULLIF(country, ''), char(31)) AS countries FROM by_country GROUP BY actor),
al AS (SELECT actor, MAX(actor_id) AS actor_id, COUNT(*) AS n, MAX(` + severityRankSQL("severity") + `) AS sev
	FROM alerts` + aw.sql() + ` GROUP BY actor)
SELECT u.actor, u.actor_id, u.n, u.f, COALESCE(a.n, 0) AS alerts, COALESCE(a.sev, 0), u.countries, u.last, u.ip
	FROM users u LEFT JOIN al a ON a.actor = u.actor
UNION ALL
SELECT a.actor, a.actor_id, 0, 0, a.n, a.sev, NULL, NULL, '' FROM al a WHERE a.actor NOT IN (SELECT actor FROM users)
ORDER BY 5 DESC, 4 DESC, 3 DESC, 1 LIMIT ?`
	return query, append(args, q.Limit)
}
