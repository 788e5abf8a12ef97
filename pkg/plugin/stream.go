package plugin

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// Stream paths (Grafana Live channel ds/<uid>/<path>).
const (
	StreamEvents = "tail/events"
	StreamAlerts = "tail/alerts"
)

// SubscribeStream accepts the live-tail paths.
func (d *Datasource) SubscribeStream(_ context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	if d.settingsErr != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusPermissionDenied}, nil
	}
	switch req.Path {
	case StreamEvents, StreamAlerts:
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
	default:
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
}

// PublishStream is refused: the tail is read-only.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream sends the stream's schema (a frame without rows) once
// subscribed, then every newly committed event, or every new alert and
// every update of a grouped alert, as a frame until Grafana closes the
// stream (ctx) or the pipeline stops.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	if d.settingsErr != nil {
		return d.settingsErr
	}
	if req.Path != StreamEvents && req.Path != StreamAlerts {
		return fmt.Errorf("unknown stream path %q (%s or %s)", req.Path, StreamEvents, StreamAlerts)
	}
	updates, cancel := d.run.p.Subscribe(64)
	defer cancel()
	// The schema goes first, before any update: Grafana Live knows the
	// frame's fields, and the client knows the tail is subscribed (every
	// event committed from now on reaches it).
	first := liveEventsFrame(nil)
	if req.Path == StreamAlerts {
		first = liveAlertsFrame(nil, nil)
	}
	if err := sender.SendFrame(first, data.IncludeSchemaOnly); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.run.done:
			return nil
		case u, ok := <-updates:
			if !ok {
				return nil
			}
			var f *data.Frame
			switch {
			case req.Path == StreamEvents && len(u.Events) > 0:
				f = liveEventsFrame(u.Events)
			case req.Path == StreamAlerts && len(u.Alerts)+len(u.Updated) > 0:
				f = liveAlertsFrame(u.Alerts, u.Updated)
			default:
				continue
			}
			if err := sender.SendFrame(f, data.IncludeAll); err != nil {
				return err
			}
		}
	}
}

// liveEventsFrame is the events tail: the activity logs frame's schema.
func liveEventsFrame(evs []event.Event) *data.Frame {
	lines := make([]logLine, len(evs))
	for i := range evs {
		lines[i] = logLineFromEvent(&evs[i])
	}
	return logLinesFrame("events", lines)
}

// alertLevels maps alert severities to Grafana's log levels (the level
// colours the line and feeds the logs volume; the alert's own severity is
// also a label).
var alertLevels = map[string]string{"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "debug"}

// liveAlertsFrame is the alerts tail, in the activity logs frame's schema:
// one line per new alert and per update of a grouped alert. An update has
// the same id as the alert it replaces (label change=update, its count and
// last time grown): a consumer keeps the latest line per id.
//
//	timestamp  the latest match (LastTime)
//	body       title: summary
//	severity   the Grafana level of the alert's severity
//	id         the alert id
//	labels     actor, ip, country, detector, alertSeverity, count, firstTime, change (new | update)
func liveAlertsFrame(added, updated []alert.Alert) *data.Frame {
	lines := make([]logLine, 0, len(added)+len(updated))
	for i := range added {
		lines = append(lines, alertLogLine(&added[i], "new"))
	}
	for i := range updated {
		lines = append(lines, alertLogLine(&updated[i], "update"))
	}
	return logLinesFrame("alerts", lines)
}

func alertLogLine(a *alert.Alert, change string) logLine {
	last := a.LastTime
	if last.Before(a.Time) {
		last = a.Time
	}
	body := a.Title
	if a.Summary != "" {
		body += ": " + a.Summary
	}
	sev := strings.ToLower(a.Severity)
	l := newLogLine(last, body, alertLevels[sev], a.ID, [6]string{"", a.Actor, "", a.IP, a.Country, ""})
	l.extra = [][2]string{{"detector", a.Detector}, {"alertSeverity", sev}, {"count", strconv.Itoa(max(a.Count, 1))},
		{"firstTime", a.Time.UTC().Format(time.RFC3339)}, {"change", change}}
	return l
}
