package plugin

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/exception"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// alerts answers query type alerts: detections with their triage state as
// a table (also the alerts live-tail frame). status filters on the triage
// status (comma-separated, or all); the default is open + acknowledged.
func (d *Datasource) alerts(ctx context.Context, b store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	st, err := store.AsTriager(b)
	if err != nil {
		return d.alertsWithoutTriage(ctx, b, q, dq, err)
	}
	tq := store.TriageQuery{From: dq.TimeRange.From, To: dq.TimeRange.To, Detector: q.Detector,
		Severities: splitList(q.Severity), Actor: q.Actor, Statuses: q.alertStatuses(), Limit: q.limit}
	as, err := alertTable(ctx, st, tq)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	xs, err := st.Exceptions(ctx, store.ExceptionQuery{ActiveAt: now, Limit: store.DefaultMaxLimit})
	if err != nil {
		return nil, err
	}
	f := triagedAlertsFrame(as, exception.New(xs), now)
	d.alertLinks(f)
	return data.Frames{f}, nil
}

// alertTable reads the alerts table's rows: from the backend's columns
// when it serves them (SQLite: no alert JSON decoded), else from the
// decoded alerts.
func alertTable(ctx context.Context, st store.Triager, q store.TriageQuery) ([]store.AlertTableRow, error) {
	if r, ok := st.(store.AlertTableReader); ok {
		return r.QueryAlertTable(ctx, q)
	}
	as, err := st.QueryTriagedAlerts(ctx, q)
	if err != nil {
		return nil, err
	}
	rows := make([]store.AlertTableRow, len(as))
	for i, ta := range as {
		rows[i] = store.TableRowOf(ta)
	}
	return rows, nil
}

// alertsWithoutTriage answers the alerts query on a backend without
// triage: every alert, shown open, with a notice saying why.
func (d *Datasource) alertsWithoutTriage(ctx context.Context, b store.Backend, q queryModel, dq backend.DataQuery, why error) (data.Frames, error) {
	var all []alert.Alert
	sevs := splitList(q.Severity)
	if len(sevs) == 0 {
		sevs = []string{""}
	}
	for _, s := range sevs {
		as, err := b.QueryAlerts(ctx, store.AlertQuery{From: dq.TimeRange.From, To: dq.TimeRange.To, Detector: q.Detector, Severity: s, Actor: q.Actor, Limit: q.limit})
		if err != nil {
			return nil, err
		}
		all = append(all, as...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.After(all[j].Time) })
	if len(all) > q.limit {
		all = all[:q.limit]
	}
	f := alertsFrame(all)
	d.alertLinks(f)
	f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: why.Error() + ": every alert is shown, as open"})
	return data.Frames{f}, nil
}

// alertsFrame builds the alerts table of new (open) alerts: the live-tail frame.
func alertsFrame(as []alert.Alert) *data.Frame {
	ts := make([]store.AlertTableRow, len(as))
	for i, a := range as {
		a.Status = alert.StatusOpen
		ts[i] = store.TableRowOf(store.TriagedAlert{Alert: a, Triage: alert.Triage{AlertID: a.ID, Status: alert.StatusOpen}})
	}
	return triagedAlertsFrame(ts, nil, time.Now())
}

// triagedAlertsFrame builds the alerts table: the alert, its triage state
// (status, assignee, note, who changed it when) and the exception that
// now covers it, if any (suppression).
func triagedAlertsFrame(as []store.AlertTableRow, xs *exception.Set, now time.Time) *data.Frame {
	n := len(as)
	ts, upd := make([]time.Time, n), make([]*time.Time, n)
	str := func() []string { return make([]string, n) }
	id, det, sev, actor, ip, country, title, summary, evidence, eventIDs, mitre := str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str()
	status, assignee, note, updBy, suppression := str(), str(), str(), str(), str()
	for i, a := range as {
		ts[i], id[i], det[i], sev[i], actor[i], ip[i], country[i], title[i], summary[i] = a.Time, a.ID, a.Detector, a.Severity, a.Actor, a.IP, a.Country, a.Title, a.Summary
		evidence[i], eventIDs[i], mitre[i] = a.Evidence, a.EventIDs, a.MITRE
		tr := a.Triage
		status[i], assignee[i], note[i], updBy[i] = tr.Status, tr.Assignee, tr.Note, tr.UpdatedBy
		if !tr.UpdatedAt.IsZero() {
			t := tr.UpdatedAt
			upd[i] = &t
		}
		sub := exception.Subject{Detector: a.Detector, Actor: a.Actor, IP: a.IP, ASN: a.ASN}
		if x, ok := xs.Match(sub, now); ok {
			suppression[i] = fmt.Sprintf("exception #%d: %s %s until %s (%s)", x.ID, x.Scope, x.Value, x.ExpiresAt.Format("2006-01-02 15:04 MST"), x.Reason)
		}
	}
	f := data.NewFrame("alerts",
		named(data.NewField("time", nil, ts), "Time"),
		named(data.NewField("severity", nil, sev), "Severity"),
		named(data.NewField("status", nil, status), "Status"),
		named(data.NewField("detector", nil, det), "Detector"),
		named(data.NewField("title", nil, title), "Title"),
		named(data.NewField("actor", nil, actor), "Actor"),
		named(data.NewField("ip", nil, ip), "IP"),
		named(data.NewField("country", nil, country), "Country"),
		named(data.NewField("assignee", nil, assignee), "Assignee"),
		named(data.NewField("note", nil, note), "Note"),
		named(data.NewField("suppression", nil, suppression), "Suppression"),
		named(data.NewField("updatedAt", nil, upd), "Status changed"),
		named(data.NewField("updatedBy", nil, updBy), "Changed by"),
		named(data.NewField("summary", nil, summary), "Summary"),
		named(data.NewField("evidence", nil, evidence), "Evidence"),
		named(data.NewField("eventIds", nil, eventIDs), "Event UUIDs"),
		named(data.NewField("mitre", nil, mitre), "MITRE ATT&CK"),
		named(data.NewField("id", nil, id), "Alert id"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return f
}

// alertLinks adds the alerts table's data links: the actor's activity and
// investigation, the IP's activity, the MITRE technique.
func (d *Datasource) alertLinks(f *data.Frame) {
	if i, _ := f.FieldByName("actor"); i != nil {
		d.withLinks(i, d.activityLink("Activity of this actor", "actor"), d.userInvestigationLink())
	}
	if i, _ := f.FieldByName("ip"); i != nil {
		d.withLinks(i, d.activityLink("Activity from this IP", "ip"))
	}
	if i, _ := f.FieldByName("mitre"); i != nil {
		d.withLinks(i, data.DataLink{Title: "MITRE ATT&CK technique", URL: "https://attack.mitre.org/techniques/${__value.raw}/"})
	}
}

// UserDashboardUID is the uid of the bundled Okta — User investigation dashboard.
const UserDashboardUID = "oktaguard-user"

// userInvestigationLink opens the user investigation dashboard for the
// field's user, over the same time range.
func (d *Datasource) userInvestigationLink() data.DataLink {
	return data.DataLink{Title: "Investigate this user",
		URL: "/d/" + UserDashboardUID + "/okta-user-investigation?var-datasource=" + url.QueryEscape(d.settings.UID) +
			"&var-user=${__value.raw}&${__url_time_range}"}
}
