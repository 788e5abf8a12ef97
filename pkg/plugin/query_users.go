package plugin

import (
	"context"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// users answers query type users: one row per user with activity and alert summary.
func (d *Datasource) users(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	us, err := st.UserSummaries(ctx, store.UserQuery{From: from, To: to, Search: q.Actor, Limit: q.limit})
	if err != nil {
		return nil, err
	}
	n := len(us)
	actor, maxSev, countries, lastIP := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	events, fails, alerts, ncountries := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	last := make([]time.Time, n)
	for i, u := range us {
		actor[i], maxSev[i], countries[i], lastIP[i] = u.Actor, u.MaxAlertSeverity, strings.Join(u.Countries, ", "), u.LastIP
		events[i], fails[i], alerts[i], ncountries[i], last[i] = u.Events, u.Failures, u.Alerts, int64(len(u.Countries)), u.LastSeen
	}
	actorF := named(data.NewField("actor", nil, actor), "User")
	d.withLinks(actorF, d.activityLink("Activity of this user", "actor"), d.userInvestigationLink())
	f := data.NewFrame("users", actorF,
		named(data.NewField("alerts", nil, alerts), "Alerts"),
		named(data.NewField("maxSeverity", nil, maxSev), "Highest severity"),
		named(data.NewField("failures", nil, fails), "Failures"),
		named(data.NewField("events", nil, events), "Events"),
		named(data.NewField("countryCount", nil, ncountries), "Countries (n)"),
		named(data.NewField("countries", nil, countries), "Countries"),
		named(data.NewField("lastSeen", nil, last), "Last seen"),
		named(data.NewField("lastIp", nil, lastIP), "Last IP"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{f}, nil
}
