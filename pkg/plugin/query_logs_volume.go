package plugin

import (
	"context"
	"sort"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// logsVolume answers query type logs_volume, Explore's logs volume
// (supplementary query of an activity logs query, same filters): event
// counts per time bucket, one frame per log level, labelled
// level=<debug|info|warn|error|unknown> as Grafana's logs volume expects.
// Every event of the range is counted, in the store (CountVolume), however
// many the range holds. Buckets start at multiples of the interval since
// the Unix epoch, as the time series'.
func (d *Datasource) logsVolume(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	interval := VolumeInterval(bucket(q, dq.Interval, from, to, dq.MaxDataPoints))
	pts, err := st.CountVolume(ctx, store.VolumeQuery{Interval: interval, EventQuery: store.EventQuery{From: from, To: to,
		Actor: q.Actor, EventTypePrefix: q.EventType, Outcome: q.Outcome, IP: q.IP, Country: q.Country, Text: q.Text,
		SessionID: q.SessionID, Exclude: q.exclusions()}})
	if err != nil {
		return nil, err
	}
	iv := interval.Milliseconds()
	start := store.FloorTo(from.UnixMilli(), iv)
	n := int((to.UnixMilli()-start)/iv) + 1
	counts := map[string][]float64{}
	for _, p := range pts {
		lvl := p.Level
		if lvl == "" {
			lvl = "unknown"
		}
		c := counts[lvl]
		if c == nil {
			c = make([]float64, n)
			counts[lvl] = c
		}
		if b := int((p.Time.UnixMilli() - start) / iv); b >= 0 && b < n {
			c[b] += float64(p.Count)
		}
	}
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = time.UnixMilli(start + int64(i)*iv).UTC()
	}
	levels := make([]string, 0, len(counts))
	for l := range counts {
		levels = append(levels, l)
	}
	sort.Strings(levels)
	out := make(data.Frames, 0, len(levels))
	for _, l := range levels {
		vf := data.NewField("count", data.Labels{"level": l}, counts[l])
		vf.Config = &data.FieldConfig{DisplayNameFromDS: l, Unit: "short"}
		f := data.NewFrame(l, data.NewField("time", nil, ts), vf)
		f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
		out = append(out, f)
	}
	return out, nil
}

// VolumeInterval is the logs volume's bucket for the interval the time
// series would use: rounded up to whole minutes from a minute on, so that
// a volume without a filter is read from the store's per-minute counts by
// severity (a bucket of 10 min 5 s would split minutes and read every
// event).
func VolumeInterval(d time.Duration) time.Duration {
	if d < time.Minute {
		return d
	}
	return (d + time.Minute - 1).Truncate(time.Minute)
}
