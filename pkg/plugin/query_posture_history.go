package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// postureHistory answers query type posture_history: the posture score (or one check) over time,
// or the recorded regressions (drift).
func (d *Datasource) postureHistory(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	if q.Drift {
		return d.postureDrift(ctx, st, q, from, to)
	}
	recs, err := st.PostureHistory(ctx, from, to, d.profile(q))
	if err != nil {
		return nil, err
	}
	ts := make([]time.Time, 0, len(recs))
	score := make([]float64, 0, len(recs))
	status := make([]float64, 0, len(recs))
	for _, r := range recs {
		ts = append(ts, r.Time)
		if q.Check == "" {
			score = append(score, r.Score)
			continue
		}
		v := -1.0 // not evaluated in this report
		for _, c := range r.Checks {
			if c.ID == q.Check {
				v = checkValue(c.Status)
			}
		}
		status = append(status, v)
	}
	if q.Check == "" {
		vf := data.NewField("score", data.Labels{"profile": d.profile(q)}, score)
		vf.Config = &data.FieldConfig{Unit: "none", DisplayNameFromDS: "Posture score", Min: ptr(0), Max: ptr(100)}
		f := data.NewFrame("posture_score", data.NewField("time", nil, ts), vf)
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti}
		return data.Frames{f}, nil
	}
	vf := data.NewField("passing", data.Labels{"check": q.Check}, status)
	vf.Config = &data.FieldConfig{DisplayNameFromDS: q.Check, Min: ptr(-1), Max: ptr(1),
		Description: "1 pass, 0.5 partial, 0 fail, -0.5 error, -1 not evaluated / not applicable / manual"}
	f := data.NewFrame("posture_check", data.NewField("time", nil, ts), vf)
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti}
	return data.Frames{f}, nil
}

func checkValue(status string) float64 {
	switch status {
	case "pass":
		return 1
	case "partial":
		return 0.5
	case "fail":
		return 0
	case "error":
		return -0.5
	default:
		return -1
	}
}

// postureDrift is the regressions frame: one row per check or resource
// that got worse, with the System Log event and actor behind it.
func (d *Datasource) postureDrift(ctx context.Context, st store.Backend, q queryModel, from, to time.Time) (data.Frames, error) {
	regs, err := st.Regressions(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var ts []time.Time
	var title, summary, check, resource, fromS, toS, actor, eventID []string
	for _, r := range regs {
		if q.Check != "" && r.CheckID != q.Check {
			continue
		}
		what := r.Title
		if r.Resource != "" {
			what += " — " + r.Resource
		}
		ts = append(ts, r.Time)
		title = append(title, "Posture regression: "+what)
		summary = append(summary, fmt.Sprintf("%s: %s → %s. %s", r.CheckID, r.From, r.To, r.Detail))
		check, resource, fromS, toS = append(check, r.CheckID), append(resource, r.Resource), append(fromS, r.From), append(toS, r.To)
		actor, eventID = append(actor, r.Actor), append(eventID, r.EventID)
	}
	f := data.NewFrame("posture_drift",
		named(data.NewField("time", nil, ts), "Time"),
		named(data.NewField("title", nil, title), "Regression"),
		named(data.NewField("summary", nil, summary), "Summary"),
		named(data.NewField("check", nil, check), "Check"),
		named(data.NewField("resource", nil, resource), "Resource"),
		named(data.NewField("from", nil, fromS), "From"),
		named(data.NewField("to", nil, toS), "To"),
		named(data.NewField("actor", nil, actor), "Actor"),
		named(data.NewField("eventId", nil, eventID), "Event UUID"),
	)
	if fl, _ := f.FieldByName("actor"); fl != nil {
		d.withLinks(fl, d.activityLink("Activity of this actor", "actor"))
	}
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{f}, nil
}
