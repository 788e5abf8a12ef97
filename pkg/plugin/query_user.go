package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// User views (query type user, field view): one part of one user's story
// for the Okta — User investigation dashboard. actor names the user.
const (
	UserSignIns  = "signins"  // sign-ins with outcome, place and client
	UserClients  = "clients"  // devices and clients, with counts and last use
	UserSessions = "sessions" // sessions: first and last event, IPs, countries
	UserAdminBy  = "admin_by" // admin actions the user performed
	UserAdminTo  = "admin_to" // actions others performed on the user
	UserFactors  = "factors"  // factor and password changes, by or to the user
)

var userViews = []string{UserSignIns, UserClients, UserSessions, UserAdminBy, UserAdminTo, UserFactors}

// user answers query type user.
func (d *Datasource) user(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	view := q.View
	if view == "" {
		view = UserSignIns
	}
	known := false
	for _, v := range userViews {
		known = known || v == view
	}
	if !known {
		return nil, fmt.Errorf("view %q is unknown (%s)", view, strings.Join(userViews, ", "))
	}
	login := strings.TrimSpace(q.Actor)
	if login == "" {
		f := data.NewFrame("user_" + view)
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "Choose a user (actor) to investigate."})
		return data.Frames{f}, nil
	}
	from, to := dq.TimeRange.From, dq.TimeRange.To
	var evs []event.Event
	var err error
	switch view {
	case UserAdminTo:
		evs, err = eventsToUser(ctx, st, login, from, to, q.limit)
	case UserFactors:
		var by, on []event.Event
		if by, err = eventsOf(ctx, st, store.EventQuery{From: from, To: to, Actor: login, Limit: q.limit}); err == nil {
			on, err = eventsToUser(ctx, st, login, from, to, q.limit)
		}
		for _, ev := range append(by, on...) {
			if isFactorChange(&ev) {
				evs = append(evs, ev)
			}
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Published.After(evs[j].Published) })
	default:
		evs, err = eventsOf(ctx, st, store.EventQuery{From: from, To: to, Actor: login, Limit: q.limit})
	}
	if err != nil {
		return nil, err
	}
	var f *data.Frame
	switch view {
	case UserSignIns:
		f = d.userEventsFrame("user_signins", keep(evs, func(e *event.Event) bool {
			return e.EventType == "user.session.start" || strings.HasPrefix(e.EventType, "user.authentication.")
		}))
	case UserClients:
		f = clientsFrame(evs)
	case UserSessions:
		f = d.sessionsFrame(evs)
	case UserAdminBy:
		f = d.userEventsFrame("user_admin_by", keep(evs, (*event.Event).IsAdminAction))
	case UserAdminTo:
		f = d.userEventsFrame("user_admin_to", evs)
	case UserFactors:
		f = d.userEventsFrame("user_factors", evs)
	}
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return data.Frames{f}, nil
}

// eventsOf reads and decodes stored events.
func eventsOf(ctx context.Context, st store.Backend, q store.EventQuery) ([]event.Event, error) {
	rows, err := st.QueryEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]event.Event, 0, len(rows))
	for _, r := range rows {
		ev, err := event.Decode(r.Raw)
		if err != nil {
			continue // stored events decoded once already; a raw that no longer does is skipped
		}
		ev.Client.Geo.City, ev.Client.Geo.Country = r.City, r.Country
		if ev.Client.IPAddress == "" {
			ev.Client.IPAddress = r.IP
		}
		out = append(out, ev)
	}
	return out, nil
}

// eventsToUser are the events another actor performed on the user (a User
// target with the user's login).
func eventsToUser(ctx context.Context, st store.Backend, login string, from, to time.Time, limit int) ([]event.Event, error) {
	evs, err := eventsOf(ctx, st, store.EventQuery{From: from, To: to, Text: login, Limit: limit})
	if err != nil {
		return nil, err
	}
	return keep(evs, func(e *event.Event) bool {
		if strings.EqualFold(e.Actor.AlternateID, login) {
			return false
		}
		for _, t := range e.TargetsOfType("User") {
			if strings.EqualFold(t.AlternateID, login) {
				return true
			}
		}
		return false
	}), nil
}

func isFactorChange(e *event.Event) bool {
	t := e.EventType
	return strings.HasPrefix(t, "user.mfa.factor.") || strings.HasPrefix(t, "system.mfa.factor.") ||
		strings.HasPrefix(t, "user.credential.") || t == "user.account.reset_password" || t == "user.account.update_password" ||
		t == "user.account.reset_factor" || t == "user.authentication.authenticator.enroll"
}

func keep(evs []event.Event, ok func(*event.Event) bool) []event.Event {
	out := evs[:0:0]
	for i := range evs {
		if ok(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

// userEventsFrame is a table of events: who did what to whom, with
// outcome, place and client.
func (d *Datasource) userEventsFrame(name string, evs []event.Event) *data.Frame {
	n := len(evs)
	ts := make([]time.Time, n)
	str := func() []string { return make([]string, n) }
	typ, actor, target, outcome, reason, ip, city, country, browser, os, session, msg, uuid := str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str(), str()
	for i := range evs {
		e := &evs[i]
		ts[i], typ[i], actor[i], outcome[i], reason[i] = e.Published, e.EventType, e.Actor.AlternateID, e.Outcome.Result, e.Outcome.Reason
		ip[i], city[i], country[i], browser[i], os[i] = e.Client.IPAddress, e.Client.Geo.City, e.Client.Geo.Country, e.Client.UserAgent.Browser, e.Client.UserAgent.OS
		session[i], msg[i], uuid[i] = e.SessionID(), e.DisplayMessage, e.UUID
		var ts []string
		for _, t := range e.Targets {
			if s := firstNonEmpty(t.AlternateID, t.DisplayName, t.ID); s != "" {
				ts = append(ts, s)
			}
		}
		target[i] = strings.Join(ts, ", ")
	}
	actorF := named(data.NewField("actor", nil, actor), "Actor")
	d.withLinks(actorF, d.userInvestigationLink())
	ipF := named(data.NewField("ip", nil, ip), "IP")
	d.withLinks(ipF, d.activityLink("Activity from this IP", "ip"))
	return data.NewFrame(name,
		named(data.NewField("time", nil, ts), "Time"),
		named(data.NewField("eventType", nil, typ), "Event type"),
		actorF,
		named(data.NewField("target", nil, target), "Target"),
		named(data.NewField("outcome", nil, outcome), "Outcome"),
		named(data.NewField("reason", nil, reason), "Reason"),
		ipF,
		named(data.NewField("city", nil, city), "City"),
		named(data.NewField("country", nil, country), "Country"),
		named(data.NewField("browser", nil, browser), "Browser"),
		named(data.NewField("os", nil, os), "OS"),
		named(data.NewField("sessionId", nil, session), "Session"),
		named(data.NewField("displayMessage", nil, msg), "Message"),
		named(data.NewField("uuid", nil, uuid), "UUID"),
	)
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// clientsFrame groups the user's events by client: browser, OS, device
// type and (Okta Verify) device name.
func clientsFrame(evs []event.Event) *data.Frame {
	type key struct{ browser, os, device, deviceName string }
	type agg struct {
		n, fails    int64
		first, last time.Time
		lastIP      string
		raw         string
	}
	m := map[key]*agg{}
	var order []key
	for i := range evs {
		e := &evs[i]
		k := key{e.Client.UserAgent.Browser, e.Client.UserAgent.OS, e.Client.Device, ""}
		if e.Device != nil {
			k.deviceName = firstNonEmpty(e.Device.Name, e.Device.ID)
		}
		a := m[k]
		if a == nil {
			a = &agg{first: e.Published, last: e.Published, lastIP: e.Client.IPAddress, raw: e.Client.UserAgent.Raw}
			m[k] = a
			order = append(order, k)
		}
		a.n++
		if e.IsFailure() {
			a.fails++
		}
		if e.Published.Before(a.first) {
			a.first = e.Published
		}
		if e.Published.After(a.last) {
			a.last, a.lastIP, a.raw = e.Published, e.Client.IPAddress, e.Client.UserAgent.Raw
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return m[order[i]].last.After(m[order[j]].last) })
	n := len(order)
	str := func() []string { return make([]string, n) }
	browser, os, device, name, ip, raw := str(), str(), str(), str(), str(), str()
	count, fails := make([]int64, n), make([]int64, n)
	first, last := make([]time.Time, n), make([]time.Time, n)
	for i, k := range order {
		a := m[k]
		browser[i], os[i], device[i], name[i], ip[i], raw[i] = k.browser, k.os, k.device, k.deviceName, a.lastIP, a.raw
		count[i], fails[i], first[i], last[i] = a.n, a.fails, a.first, a.last
	}
	return data.NewFrame("user_clients",
		named(data.NewField("browser", nil, browser), "Browser"),
		named(data.NewField("os", nil, os), "OS"),
		named(data.NewField("device", nil, device), "Device type"),
		named(data.NewField("deviceName", nil, name), "Device"),
		named(data.NewField("events", nil, count), "Events"),
		named(data.NewField("failures", nil, fails), "Failures"),
		named(data.NewField("firstSeen", nil, first), "First seen"),
		named(data.NewField("lastSeen", nil, last), "Last seen"),
		named(data.NewField("lastIp", nil, ip), "Last IP"),
		named(data.NewField("userAgent", nil, raw), "User agent"),
	)
}

// sessionsFrame groups the user's events by Okta session.
func (d *Datasource) sessionsFrame(evs []event.Event) *data.Frame {
	type agg struct {
		n, fails    int64
		first, last time.Time
		ips, cc     []string
	}
	m := map[string]*agg{}
	var order []string
	add := func(list []string, v string) []string {
		if v == "" {
			return list
		}
		for _, x := range list {
			if x == v {
				return list
			}
		}
		return append(list, v)
	}
	for i := range evs {
		e := &evs[i]
		sid := e.SessionID()
		if sid == "" {
			continue
		}
		a := m[sid]
		if a == nil {
			a = &agg{first: e.Published, last: e.Published}
			m[sid] = a
			order = append(order, sid)
		}
		a.n++
		if e.IsFailure() {
			a.fails++
		}
		a.first, a.last = minTime(a.first, e.Published), maxTime(a.last, e.Published)
		a.ips, a.cc = add(a.ips, e.Client.IPAddress), add(a.cc, e.Client.Geo.Country)
	}
	sort.SliceStable(order, func(i, j int) bool { return m[order[i]].last.After(m[order[j]].last) })
	n := len(order)
	ids, ips, cc := make([]string, n), make([]string, n), make([]string, n)
	count, fails, nips := make([]int64, n), make([]int64, n), make([]int64, n)
	first, last := make([]time.Time, n), make([]time.Time, n)
	for i, sid := range order {
		a := m[sid]
		ids[i], ips[i], cc[i] = sid, strings.Join(a.ips, ", "), strings.Join(a.cc, ", ")
		count[i], fails[i], nips[i], first[i], last[i] = a.n, a.fails, int64(len(a.ips)), a.first, a.last
	}
	sessF := named(data.NewField("sessionId", nil, ids), "Session")
	d.withLinks(sessF, d.activityLink("Activity of this session", "sessionId"))
	return data.NewFrame("user_sessions", sessF,
		named(data.NewField("firstSeen", nil, first), "Started"),
		named(data.NewField("lastSeen", nil, last), "Last event"),
		named(data.NewField("events", nil, count), "Events"),
		named(data.NewField("failures", nil, fails), "Failures"),
		named(data.NewField("ipCount", nil, nips), "IPs"),
		named(data.NewField("ips", nil, ips), "IP addresses"),
		named(data.NewField("countries", nil, cc), "Countries"),
	)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
