package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// logsVolume answers query type logs_volume, Explore's logs volume
// (supplementary query of an activity logs query, same filters): event
// counts per time bucket, one frame per log level, labelled
// level=<debug|info|warn|error|unknown> as Grafana's logs volume expects.
// It counts the newest MaxLimit events of the range and says so in a
// notice when the range holds more.
func (d *Datasource) logsVolume(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	interval := bucket(q, dq.Interval, from, to, dq.MaxDataPoints)
	rows, err := st.QueryEvents(ctx, store.EventQuery{From: from, To: to, Actor: q.Actor, EventTypePrefix: q.EventType,
		Outcome: q.Outcome, IP: q.IP, Country: q.Country, Text: q.Text, SessionID: q.SessionID, Limit: MaxLimit, NoRaw: true,
		Exclude: q.exclusions()})
	if err != nil {
		return nil, err
	}
	start := from.Truncate(interval)
	n := int(to.Sub(start)/interval) + 1
	counts := map[string][]float64{}
	for i := range rows {
		lvl := strings.ToLower(rows[i].Severity)
		if lvl == "" {
			lvl = "unknown"
		}
		c := counts[lvl]
		if c == nil {
			c = make([]float64, n)
			counts[lvl] = c
		}
		if b := int(rows[i].Published.Sub(start) / interval); b >= 0 && b < n {
			c[b]++
		}
	}
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = start.Add(time.Duration(i) * interval)
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
	if len(rows) == MaxLimit && len(out) > 0 {
		out[0].AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("Logs volume counts the newest %d events of the range; narrow it for the full volume.", MaxLimit)})
	}
	return out, nil
}
