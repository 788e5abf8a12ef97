package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// timeseries answers query type timeseries: event or alert counts per time bucket, one frame
// per group; the only numeric type besides posture_history (alert rules).
func (d *Datasource) timeseries(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	interval := bucket(q, dq.Interval, from, to, dq.MaxDataPoints)
	limit := q.limit
	if q.Limit == nil {
		limit = 20 // series, not rows: keep panels readable by default
	}
	pts, err := st.CountSeries(ctx, store.SeriesQuery{From: from, To: to, Interval: interval, Source: q.Source, GroupBy: q.GroupBy,
		Actor: q.Actor, EventTypePrefix: q.EventType, Outcome: q.Outcome, Country: q.Country, IP: q.IP,
		Detector: q.Detector, Severity: q.Severity, Statuses: q.alertStatuses(), Limit: limit, Fill: true})
	if err != nil {
		return nil, err
	}
	groups := map[string]*data.Frame{}
	var order []string
	for _, p := range pts {
		f, ok := groups[p.Group]
		if !ok {
			var labels data.Labels
			if q.GroupBy != "" {
				labels = data.Labels{q.GroupBy: p.Group}
			}
			vf := data.NewField("count", labels, []float64{})
			vf.Config = &data.FieldConfig{Unit: "short", DisplayNameFromDS: seriesName(q, p.Group)}
			f = data.NewFrame(seriesName(q, p.Group), data.NewField("time", nil, []time.Time{}), vf)
			f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
			groups[p.Group] = f
			order = append(order, p.Group)
		}
		f.AppendRow(p.Time, float64(p.Count))
	}
	out := make(data.Frames, 0, len(order))
	for _, g := range order {
		out = append(out, groups[g])
	}
	if len(out) == 0 {
		// Never "no data" for alert rules: an explicit zero.
		vf := data.NewField("count", nil, []float64{0})
		vf.Config = &data.FieldConfig{Unit: "short", DisplayNameFromDS: seriesName(q, "")}
		out = data.Frames{data.NewFrame(seriesName(q, ""), data.NewField("time", nil, []time.Time{to}), vf)}
	}
	return out, nil
}

func seriesName(q queryModel, group string) string {
	if group != "" {
		return group
	}
	if q.Source == "alerts" {
		return "alerts"
	}
	return "events"
}
