package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// alertHistory answers query type alert_history: the triage changes in the
// time range (who moved which alert from what to what, with the note),
// newest first; time, title and text make it an annotation source.
// status keeps the changes to those statuses.
func (d *Datasource) alertHistory(ctx context.Context, b store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	st, err := store.AsTriager(b)
	if err != nil {
		return nil, err
	}
	hs, err := st.AlertHistory(ctx, store.HistoryQuery{From: dq.TimeRange.From, To: dq.TimeRange.To, Limit: q.limit})
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, s := range q.alertStatuses() {
		keep[s] = true
	}
	var ts []time.Time
	var alertID, from, to, user, role, note, assignee, title, text []string
	var exc []int64
	for _, h := range hs {
		if len(keep) > 0 && !keep[h.To] {
			continue
		}
		ts = append(ts, h.Time)
		alertID, from, to, user, role = append(alertID, h.AlertID), append(from, h.From), append(to, h.To), append(user, h.User), append(role, h.Role)
		note, assignee, exc = append(note, h.Note), append(assignee, h.Assignee), append(exc, h.ExceptionID)
		title = append(title, fmt.Sprintf("Alert %s by %s", h.To, h.User))
		t := fmt.Sprintf("%s → %s", h.From, h.To)
		if h.Note != "" {
			t += ": " + h.Note
		}
		if h.ExceptionID != 0 {
			t += fmt.Sprintf(" (exception #%d)", h.ExceptionID)
		}
		text = append(text, t)
	}
	if ts == nil {
		ts, exc = []time.Time{}, []int64{}
		alertID, from, to, user, role, note, assignee, title, text = []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}
	}
	f := data.NewFrame("alert_history",
		named(data.NewField("time", nil, ts), "Time"),
		named(data.NewField("title", nil, title), "Title"),
		named(data.NewField("text", nil, text), "Text"),
		named(data.NewField("from", nil, from), "From"),
		named(data.NewField("to", nil, to), "To"),
		named(data.NewField("user", nil, user), "User"),
		named(data.NewField("role", nil, role), "Role"),
		named(data.NewField("note", nil, note), "Note"),
		named(data.NewField("assignee", nil, assignee), "Assignee"),
		named(data.NewField("exceptionId", nil, exc), "Exception"),
		named(data.NewField("alertId", nil, alertID), "Alert id"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{f}, nil
}
