package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// exceptions answers query type exceptions: the analysts' exceptions in
// force (all: expired and removed ones too), with how often each
// suppressed an alert. The time range does not apply.
func (d *Datasource) exceptions(ctx context.Context, b store.Backend, q queryModel, _ backend.DataQuery) (data.Frames, error) {
	st, err := store.AsTriager(b)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	sq := store.ExceptionQuery{ActiveAt: now, Limit: q.limit}
	if q.All {
		sq.ActiveAt = time.Time{}
	}
	xs, err := st.Exceptions(ctx, sq)
	if err != nil {
		return nil, err
	}
	n := len(xs)
	id, hits := make([]int64, n), make([]int64, n)
	created, expires := make([]time.Time, n), make([]time.Time, n)
	lastHit, removed := make([]*time.Time, n), make([]*time.Time, n)
	str := func() []string { return make([]string, n) }
	det, scope, value, reason, state, by, removedBy, alertID := str(), str(), str(), str(), str(), str(), str(), str()
	for i, x := range xs {
		id[i], hits[i], created[i], expires[i] = x.ID, x.Hits, x.CreatedAt, x.ExpiresAt
		det[i], scope[i], value[i], reason[i], state[i], by[i], removedBy[i], alertID[i] = x.Detector, x.Scope, x.Value, x.Reason, x.State(now), x.CreatedBy, x.RemovedBy, x.AlertID
		if !x.LastHit.IsZero() {
			t := x.LastHit
			lastHit[i] = &t
		}
		if !x.RemovedAt.IsZero() {
			t := x.RemovedAt
			removed[i] = &t
		}
	}
	f := data.NewFrame("exceptions",
		named(data.NewField("id", nil, id), "Exception"),
		named(data.NewField("detector", nil, det), "Detector"),
		named(data.NewField("scope", nil, scope), "Scope"),
		named(data.NewField("value", nil, value), "Value"),
		named(data.NewField("state", nil, state), "State"),
		named(data.NewField("reason", nil, reason), "Reason"),
		named(data.NewField("createdBy", nil, by), "Created by"),
		named(data.NewField("createdAt", nil, created), "Created"),
		named(data.NewField("expiresAt", nil, expires), "Expires"),
		named(data.NewField("hits", nil, hits), "Suppressed alerts"),
		named(data.NewField("lastHit", nil, lastHit), "Last suppressed"),
		named(data.NewField("removedAt", nil, removed), "Removed"),
		named(data.NewField("removedBy", nil, removedBy), "Removed by"),
		named(data.NewField("alertId", nil, alertID), "From alert"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{f}, nil
}
