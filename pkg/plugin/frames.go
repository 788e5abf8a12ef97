package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// QueryData answers every query of the request; one query's error never
// fails the others.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	fromAlert := req.GetHTTPHeader(backend.FromAlertHeaderName) != "" || req.Headers[backend.FromAlertHeaderName] != ""
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q, fromAlert)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, fromAlert bool) (res backend.DataResponse) {
	defer func() {
		if r := recover(); r != nil {
			d.logger.Error("query panicked", "refId", dq.RefID, "panic", fmt.Sprint(r))
			res = backend.ErrDataResponse(backend.StatusInternal, "internal error while answering the query")
		}
	}()
	q, err := parseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	st, err := d.ready()
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	if fromAlert {
		switch q.QueryType {
		case QueryTimeseries, QueryPostureHistory:
		default:
			return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream,
				fmt.Sprintf("query type %s %s", q.QueryType, errNotNumeric))
		}
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	var frames data.Frames
	switch q.QueryType {
	case QueryActivity:
		frames, err = d.activity(ctx, st, q, from, to)
	case QueryAlerts:
		frames, err = d.alerts(ctx, st, q, from, to)
	case QueryTimeseries:
		frames, err = d.timeseries(ctx, st, q, from, to, bucket(q, dq.Interval, from, to, dq.MaxDataPoints))
	case QueryGeo:
		frames, err = d.geo(ctx, st, q, from, to)
	case QueryPosture:
		frames, err = d.posture(ctx, st, q)
	case QueryPostureHistory:
		frames, err = d.postureHistory(ctx, st, q, from, to)
	case QueryUsers:
		frames, err = d.users(ctx, st, q, from, to)
	}
	if err != nil {
		return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, err.Error())
	}
	for _, f := range frames {
		f.RefID = dq.RefID
	}
	return backend.DataResponse{Frames: frames}
}

// activityLink is a data link to the activity of the same actor (or
// session), opened with the same data source.
func (d *Datasource) activityLink(title, field string) data.DataLink {
	return data.DataLink{
		Title: title,
		Internal: &data.InternalDataLink{
			DatasourceUID:  d.settings.UID,
			DatasourceName: d.settings.Name,
			Query:          map[string]any{"queryType": QueryActivity, field: "${__value.raw}"},
		},
	}
}

func (d *Datasource) withLinks(f *data.Field, links ...data.DataLink) {
	cfg := f.Config
	if cfg == nil {
		cfg = &data.FieldConfig{}
	}
	cfg.Links = append(cfg.Links, links...)
	f.Config = cfg
}

func named(f *data.Field, display string) *data.Field {
	if f.Config == nil {
		f.Config = &data.FieldConfig{}
	}
	f.Config.DisplayNameFromDS = display
	return f
}

func (d *Datasource) activity(ctx context.Context, st store.Backend, q queryModel, from, to time.Time) (data.Frames, error) {
	rows, err := st.QueryEvents(ctx, store.EventQuery{From: from, To: to, Actor: q.Actor, EventTypePrefix: q.EventType,
		Outcome: q.Outcome, IP: q.IP, Country: q.Country, Text: q.Text, SessionID: q.SessionID, Limit: q.limit})
	if err != nil {
		return nil, err
	}
	n := len(rows)
	ts := make([]time.Time, n)
	str := func() []string { return make([]string, n) }
	et, actor, outcome, reason, ip, country, city, msg, sev, sess, target, uuid, raw := str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str()
	for i, r := range rows {
		ts[i], et[i], actor[i], outcome[i], reason[i] = r.Published, r.EventType, r.Actor, r.Outcome, r.Reason
		ip[i], country[i], city[i], msg[i], sev[i] = r.IP, r.Country, r.City, r.DisplayMessage, strings.ToLower(r.Severity)
		sess[i], target[i], uuid[i], raw[i] = r.SessionID, r.Target, r.UUID, string(r.Raw)
	}
	actorF := named(data.NewField("actor", nil, actor), "Actor")
	d.withLinks(actorF, d.activityLink("Activity of this actor", "actor"))
	sessF := named(data.NewField("sessionId", nil, sess), "Session")
	d.withLinks(sessF, d.activityLink("Activity of this session", "sessionId"))
	ipF := named(data.NewField("ip", nil, ip), "IP")
	d.withLinks(ipF, d.activityLink("Activity from this IP", "ip"))
	var f *data.Frame
	if q.Format == "logs" {
		// Logs panel: time, body, severity; the rest become labels/fields.
		f = data.NewFrame("activity",
			named(data.NewField("time", nil, ts), "Time"),
			named(data.NewField("body", nil, msg), "Message"),
			named(data.NewField("severity", nil, sev), "Level"),
			named(data.NewField("eventType", nil, et), "Event type"),
			actorF, named(data.NewField("outcome", nil, outcome), "Outcome"), ipF,
			named(data.NewField("country", nil, country), "Country"), sessF,
			named(data.NewField("id", nil, uuid), "UUID"),
		)
		// The Logs panel subscribes to the live tail through this channel.
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeLogs, Channel: "ds/" + d.settings.UID + "/" + StreamEvents}
	} else {
		f = data.NewFrame("activity",
			named(data.NewField("time", nil, ts), "Time"),
			named(data.NewField("eventType", nil, et), "Event type"),
			actorF,
			named(data.NewField("outcome", nil, outcome), "Outcome"),
			named(data.NewField("reason", nil, reason), "Reason"),
			ipF,
			named(data.NewField("country", nil, country), "Country"),
			named(data.NewField("city", nil, city), "City"),
			named(data.NewField("target", nil, target), "Target"),
			named(data.NewField("displayMessage", nil, msg), "Message"),
			sessF,
			named(data.NewField("uuid", nil, uuid), "UUID"),
			named(data.NewField("raw", nil, raw), "Raw event"),
		)
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	}
	if n == q.limit {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf("Showing the newest %d events; narrow the time range or raise the limit.", q.limit)})
	}
	return data.Frames{f}, nil
}

func (d *Datasource) alerts(ctx context.Context, st store.Backend, q queryModel, from, to time.Time) (data.Frames, error) {
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

func (d *Datasource) timeseries(ctx context.Context, st store.Backend, q queryModel, from, to time.Time, interval time.Duration) (data.Frames, error) {
	limit := q.limit
	if q.Limit == nil {
		limit = 20 // series, not rows: keep panels readable by default
	}
	pts, err := st.CountSeries(ctx, store.SeriesQuery{From: from, To: to, Interval: interval, Source: q.Source, GroupBy: q.GroupBy,
		Actor: q.Actor, EventTypePrefix: q.EventType, Outcome: q.Outcome, Country: q.Country, IP: q.IP,
		Detector: q.Detector, Severity: q.Severity, Limit: limit, Fill: true})
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

func (d *Datasource) geo(ctx context.Context, st store.Backend, q queryModel, from, to time.Time) (data.Frames, error) {
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

func (d *Datasource) users(ctx context.Context, st store.Backend, q queryModel, from, to time.Time) (data.Frames, error) {
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
	d.withLinks(actorF, d.activityLink("Activity of this user", "actor"))
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

// postureReport is the part of the stored report JSON the frames need.
type postureReport struct {
	Score       float64   `json:"score"`
	Profile     string    `json:"profile"`
	EvaluatedAt time.Time `json:"evaluatedAt"`
	Checks      []struct {
		ID          string            `json:"id"`
		Title       string            `json:"title"`
		Status      string            `json:"status"`
		Severity    string            `json:"severity"`
		Category    string            `json:"category"`
		Remediation string            `json:"remediation"`
		References  map[string]string `json:"references"`
		Findings    []struct {
			Resource string `json:"resource"`
			Status   string `json:"status"`
			Observed any    `json:"observed"`
			Expected string `json:"expected"`
		} `json:"findings"`
	} `json:"checks"`
}

func (d *Datasource) profile(q queryModel) string {
	if q.Profile != "" {
		return q.Profile
	}
	return d.settings.PostureProfile
}

func (d *Datasource) posture(ctx context.Context, st store.Backend, q queryModel) (data.Frames, error) {
	rec, ok, err := st.LatestPostureReport(ctx, d.profile(q))
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("posture")
	if !ok {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "No posture evaluation yet: it runs at start and every hour (or POST posture/refresh)."})
		return data.Frames{f}, nil
	}
	var rep postureReport
	if err := json.Unmarshal(rec.JSON, &rep); err != nil {
		return nil, fmt.Errorf("stored posture report is unreadable: %w", err)
	}
	var id, title, category, severity, status, remediation, failing, stig, refs []string
	var nFind, nFail []int64
	for _, c := range rep.Checks {
		if q.Status != "" && c.Status != q.Status {
			continue
		}
		if q.Category != "" && !strings.EqualFold(c.Category, q.Category) {
			continue
		}
		if q.Check != "" && c.ID != q.Check {
			continue
		}
		var bad []string
		var nf int64
		for _, fd := range c.Findings {
			if fd.Status == "fail" || fd.Status == "error" {
				nf++
				bad = append(bad, fmt.Sprintf("%s: %v (expected %s)", fd.Resource, fd.Observed, fd.Expected))
			}
		}
		var rs []string
		for k, v := range c.References {
			if v != "" {
				rs = append(rs, k+": "+v)
			}
		}
		sort.Strings(rs)
		id, title, category, severity, status = append(id, c.ID), append(title, c.Title), append(category, c.Category), append(severity, c.Severity), append(status, c.Status)
		remediation, failing, stig, refs = append(remediation, c.Remediation), append(failing, strings.Join(bad, "; ")), append(stig, c.References["stig"]), append(refs, strings.Join(rs, ", "))
		nFind, nFail = append(nFind, int64(len(c.Findings))), append(nFail, nf)
	}
	f.Fields = append(f.Fields,
		named(data.NewField("id", nil, id), "Check"),
		named(data.NewField("title", nil, title), "Title"),
		named(data.NewField("category", nil, category), "Category"),
		named(data.NewField("severity", nil, severity), "Severity"),
		named(data.NewField("status", nil, status), "Status"),
		named(data.NewField("findings", nil, nFind), "Findings"),
		named(data.NewField("failing", nil, nFail), "Failing"),
		named(data.NewField("failingResources", nil, failing), "Failing resources"),
		named(data.NewField("remediation", nil, remediation), "Remediation"),
		named(data.NewField("stig", nil, stig), "STIG"),
		named(data.NewField("references", nil, refs), "References"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, Custom: map[string]any{"score": rep.Score, "profile": rep.Profile, "evaluatedAt": rep.EvaluatedAt}}
	return data.Frames{f}, nil
}

// postureMissingScopes lists OAuth scopes named by errors in the latest
// posture report.
func (d *Datasource) postureMissingScopes(ctx context.Context) []string {
	st, err := d.ready()
	if err != nil {
		return nil
	}
	rec, ok, err := st.LatestPostureReport(ctx, d.settings.PostureProfile)
	if err != nil || !ok {
		return nil
	}
	var rep postureReport
	if json.Unmarshal(rec.JSON, &rep) != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range rep.Checks {
		if c.Status != "error" {
			continue
		}
		for _, fd := range c.Findings {
			s := fmt.Sprint(fd.Observed) + " " + fd.Expected
			for _, w := range strings.Fields(s) {
				w = strings.Trim(w, `"'.,;:()`)
				if strings.HasPrefix(w, "okta.") && strings.Count(w, ".") == 2 && !seen[w] {
					seen[w] = true
					out = append(out, w)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func (d *Datasource) postureHistory(ctx context.Context, st store.Backend, q queryModel, from, to time.Time) (data.Frames, error) {
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

func ptr(v float64) *data.ConfFloat64 { c := data.ConfFloat64(v); return &c }

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
