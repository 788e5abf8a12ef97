package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// geo answers query type geo: sign-in locations with counts, for the Geomap panel.
func (d *Datasource) geo(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	pts, err := st.GeoPoints(ctx, store.GeoQuery{From: from, To: to, Actor: q.Actor, EventTypePrefix: q.EventType, Outcome: q.Outcome, Limit: q.limit, CountActors: true})
	if err != nil {
		return nil, err
	}
	n := len(pts)
	lat, lon := make([]float64, n), make([]float64, n)
	count, fails, actors := make([]int64, n), make([]int64, n), make([]int64, n)
	country, city := make([]string, n), make([]string, n)
	last := make([]time.Time, n)
	for i, p := range pts {
		lat[i], lon[i], count[i], fails[i], actors[i], country[i], city[i], last[i] = p.Lat, p.Lon, p.Count, p.Failures, p.Actors, p.Country, p.City, p.LastSeen
	}
	f := data.NewFrame("geo",
		named(data.NewField("latitude", nil, lat), "Latitude"),
		named(data.NewField("longitude", nil, lon), "Longitude"),
		named(data.NewField("country", nil, country), "Country"),
		named(data.NewField("city", nil, city), "City"),
		named(data.NewField("count", nil, count), "Sign-ins"),
		named(data.NewField("failures", nil, fails), "Failures"),
		named(data.NewField("actors", nil, actors), "Users"),
		named(data.NewField("lastSeen", nil, last), "Last seen"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{f}, nil
}
