package plugin

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// Log lines: the activity query's logs format and the events live tail
// build their frames here, so both have exactly one schema: Grafana's
// logs data-frame contract (frame type "log-lines", dataplane Logs v0):
//
//	timestamp  time     when Okta published the event
//	body       string   the event's displayMessage (its eventType when empty)
//	severity   string   Okta's severity, lower case (debug, info, warn, error)
//	id         string   the event uuid (Grafana de-duplicates on it)
//	labels     json     eventType, actor, outcome, ip, country, sessionId (non-empty ones)
//
// Explore shows the level, filters by it and builds the logs volume from
// it; the labels are what "filter for value" / "filter out value" and ad
// hoc filters act on: "filter for" sets the activity filter of the same
// name, "filter out" adds it to the query's exclude list (query_exclude.go).

// logLabelKeys are the labels a log line may carry, in display order; each
// is also a query-model filter of the activity query.
var logLabelKeys = []string{"eventType", "actor", "outcome", "ip", "country", "sessionId"}

type logLine struct {
	time     time.Time
	body     string
	severity string
	id       string
	labels   [6]string   // logLabelKeys order
	extra    [][2]string // further labels, key and value (the alerts tail's detector, count, ...)
}

func logLineFromRow(r *store.EventRow) logLine {
	return newLogLine(r.Published, r.DisplayMessage, r.Severity, r.UUID,
		[6]string{r.EventType, r.Actor, r.Outcome, r.IP, r.Country, r.SessionID})
}

func logLineFromEvent(e *event.Event) logLine {
	return newLogLine(e.Published, e.DisplayMessage, e.Severity, e.UUID,
		[6]string{e.EventType, e.Actor.AlternateID, e.Outcome.Result, e.Client.IPAddress, e.Country(), e.SessionID()})
}

func newLogLine(t time.Time, msg, severity, id string, labels [6]string) logLine {
	if msg == "" {
		msg = labels[0]
	}
	return logLine{time: t, body: msg, severity: strings.ToLower(severity), id: id, labels: labels}
}

func (l *logLine) labelsJSON() json.RawMessage {
	m := make(map[string]string, len(logLabelKeys)+len(l.extra))
	for i, k := range logLabelKeys {
		if l.labels[i] != "" {
			m[k] = l.labels[i]
		}
	}
	for _, kv := range l.extra {
		if kv[1] != "" {
			m[kv[0]] = kv[1]
		}
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return b
}

// logLinesFrame is the one logs frame schema (see above).
func logLinesFrame(name string, lines []logLine) *data.Frame {
	n := len(lines)
	ts := make([]time.Time, n)
	body, sev, id := make([]string, n), make([]string, n), make([]string, n)
	labels := make([]json.RawMessage, n)
	for i := range lines {
		l := &lines[i]
		ts[i], body[i], sev[i], id[i], labels[i] = l.time, l.body, l.severity, l.id, l.labelsJSON()
	}
	f := data.NewFrame(name,
		data.NewField("timestamp", nil, ts),
		data.NewField("body", nil, body),
		data.NewField("severity", nil, sev),
		data.NewField("id", nil, id),
		data.NewField("labels", nil, labels),
	)
	f.Meta = &data.FrameMeta{
		Type:                   data.FrameTypeLogLines,
		TypeVersion:            data.FrameTypeVersion{0, 0},
		PreferredVisualization: data.VisTypeLogs,
	}
	return f
}
