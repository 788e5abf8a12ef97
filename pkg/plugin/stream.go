package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

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

// RunStream sends every newly committed event or alert as a frame until
// Grafana closes the stream (ctx) or the pipeline stops.
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	if d.settingsErr != nil {
		return d.settingsErr
	}
	if req.Path != StreamEvents && req.Path != StreamAlerts {
		return fmt.Errorf("unknown stream path %q (%s or %s)", req.Path, StreamEvents, StreamAlerts)
	}
	updates, cancel := d.run.p.Subscribe(64)
	defer cancel()
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
			case req.Path == StreamAlerts && len(u.Alerts) > 0:
				f = alertsFrame(u.Alerts)
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
