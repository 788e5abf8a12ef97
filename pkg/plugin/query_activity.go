package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// activity answers query type activity: System Log events as a table, or as log lines
// (format "logs") for the Logs panel and Explore.
func (d *Datasource) activity(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	rows, err := st.QueryEvents(ctx, store.EventQuery{From: from, To: to, Actor: q.Actor, EventTypePrefix: q.EventType,
		Outcome: q.Outcome, IP: q.IP, Country: q.Country, Text: q.Text, SessionID: q.SessionID, Limit: q.limit,
		Exclude: q.exclusions(), Oldest: q.Direction == "forward"})
	if err != nil {
		return nil, err
	}
	n := len(rows)
	ts := make([]time.Time, n)
	str := func() []string { return make([]string, n) }
	et, actor, outcome, reason, ip, country, city, msg, sev, sess, target, uuid, raw := str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str()
	for i, r := range rows {
		ts[i], et[i], actor[i], outcome[i], reason[i] = r.Published, r.EventType, r.Actor, r.Outcome, r.Reason
		ip[i], country[i], city[i], msg[i], sev[i] = r.IP, r.Country, r.City, r.DisplayMessage, strings.ToLower(r.Severity)
		sess[i], target[i], uuid[i], raw[i] = r.SessionID, r.Target, r.UUID, string(r.Raw)
	}
	actorF := named(data.NewField("actor", nil, actor), "Actor")
	d.withLinks(actorF, d.activityLink("Activity of this actor", "actor"), d.userInvestigationLink())
	sessF := named(data.NewField("sessionId", nil, sess), "Session")
	d.withLinks(sessF, d.activityLink("Activity of this session", "sessionId"))
	ipF := named(data.NewField("ip", nil, ip), "IP")
	d.withLinks(ipF, d.activityLink("Activity from this IP", "ip"))
	var f *data.Frame
	if q.Format == "logs" {
		lines := make([]logLine, len(rows))
		for i := range rows {
			lines[i] = logLineFromRow(&rows[i])
		}
		f = logLinesFrame("activity", lines)
		// The Logs panel subscribes to the live tail through this channel;
		// the tail sends frames of the same schema (logs.go).
		f.Meta.Channel = "ds/" + d.settings.UID + "/" + StreamEvents
	} else {
		f = data.NewFrame("activity",
			named(data.NewField("time", nil, ts), "Time"),
			named(data.NewField("eventType", nil, et), "Event type"),
			actorF,
			named(data.NewField("outcome", nil, outcome), "Outcome"),
			named(data.NewField("reason", nil, reason), "Reason"),
			ipF,
			named(data.NewField("country", nil, country), "Country"),
			named(data.NewField("city", nil, city), "City"),
			named(data.NewField("target", nil, target), "Target"),
			named(data.NewField("displayMessage", nil, msg), "Message"),
			sessF,
			named(data.NewField("uuid", nil, uuid), "UUID"),
			named(data.NewField("raw", nil, raw), "Raw event"),
		)
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	}
	if n == q.limit && q.Direction != "forward" {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf("Showing the newest %d events; narrow the time range or raise the limit.", q.limit)})
	}
	return data.Frames{f}, nil
}
