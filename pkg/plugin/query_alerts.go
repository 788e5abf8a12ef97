package plugin

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// alerts answers query type alerts: detections as a table (also the alerts live-tail frame).
func (d *Datasource) alerts(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	from, to := dq.TimeRange.From, dq.TimeRange.To
	var all []alert.Alert
	sevs := splitList(q.Severity)
	if len(sevs) == 0 {
		sevs = []string{""}
	}
	for _, s := range sevs {
		as, err := st.QueryAlerts(ctx, store.AlertQuery{From: from, To: to, Detector: q.Detector, Severity: s, Actor: q.Actor, Limit: q.limit})
		if err != nil {
			return nil, err
		}
		all = append(all, as...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.After(all[j].Time) })
	if len(all) > q.limit {
		all = all[:q.limit]
	}
	return data.Frames{alertsFrameWithLinks(d, all)}, nil
}

// alertsFrame builds the alerts table (also the live-tail frame).
func alertsFrame(as []alert.Alert) *data.Frame {
	n := len(as)
	ts := make([]time.Time, n)
	str := func() []string { return make([]string, n) }
	id, det, sev, actor, ip, country, title, summary, evidence, eventIDs, mitre := str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str()
	for i, a := range as {
		ts[i], id[i], det[i], sev[i], actor[i], ip[i], country[i], title[i], summary[i] = a.Time, a.ID, a.Detector, a.Severity, a.Actor, a.IP, a.Country, a.Title, a.Summary
		if b, err := json.Marshal(a.Evidence); err == nil {
			evidence[i] = string(b)
		}
		eventIDs[i] = strings.Join(a.EventIDs, ",")
		mitre[i] = strings.Join(a.MITRE, ",")
	}
	f := data.NewFrame("alerts",
		named(data.NewField("time", nil, ts), "Time"),
		named(data.NewField("severity", nil, sev), "Severity"),
		named(data.NewField("detector", nil, det), "Detector"),
		named(data.NewField("title", nil, title), "Title"),
		named(data.NewField("actor", nil, actor), "Actor"),
		named(data.NewField("ip", nil, ip), "IP"),
		named(data.NewField("country", nil, country), "Country"),
		named(data.NewField("summary", nil, summary), "Summary"),
		named(data.NewField("evidence", nil, evidence), "Evidence"),
		named(data.NewField("eventIds", nil, eventIDs), "Event UUIDs"),
		named(data.NewField("mitre", nil, mitre), "MITRE ATT&CK"),
		named(data.NewField("id", nil, id), "Alert id"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

func alertsFrameWithLinks(d *Datasource, as []alert.Alert) *data.Frame {
	f := alertsFrame(as)
	if i, _ := f.FieldByName("actor"); i != nil {
		d.withLinks(i, d.activityLink("Activity of this actor", "actor"))
	}
	if i, _ := f.FieldByName("ip"); i != nil {
		d.withLinks(i, d.activityLink("Activity from this IP", "ip"))
	}
	if i, _ := f.FieldByName("mitre"); i != nil {
		d.withLinks(i, data.DataLink{Title: "MITRE ATT&CK technique", URL: "https://attack.mitre.org/techniques/${__value.raw}/"})
	}
	return f
}
