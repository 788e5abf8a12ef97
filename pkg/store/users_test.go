package store

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

// bruteUserSummaries computes UserSummaries straight from the events and
// alerts, the obvious way.
func bruteUserSummaries(evs []event.Event, alerts []alert.Alert, q UserQuery) []UserSummary {
	in := func(t time.Time) bool {
		t = t.Truncate(time.Millisecond)
		return (q.From.IsZero() || !t.Before(q.From.Truncate(time.Millisecond))) && (q.To.IsZero() || !t.After(q.To.Truncate(time.Millisecond)))
	}
	match := func(actor string) bool {
		return actor != "" && strings.Contains(strings.ToLower(actor), strings.ToLower(q.Search))
	}
	users := map[string]*UserSummary{}
	countries := map[string]map[string]bool{}
	get := func(actor string) *UserSummary {
		if users[actor] == nil {
			users[actor] = &UserSummary{Actor: actor}
			countries[actor] = map[string]bool{}
		}
		return users[actor]
	}
	for i := range evs {
		e := &evs[i]
		if !in(e.Published) || !match(e.Actor.AlternateID) {
			continue
		}
		u, c := get(e.Actor.AlternateID), columnsOf(e)
		u.Events++
		if e.IsFailure() {
			u.Failures++
		}
		if t := e.Published.Truncate(time.Millisecond); !t.Before(u.LastSeen) {
			u.LastSeen, u.LastIP, u.ActorID = t, c.ip, e.Actor.ID
		}
		if c.country != "" {
			countries[e.Actor.AlternateID][c.country] = true
		}
	}
	for _, a := range alerts {
		if !in(a.Time) || !match(a.Actor) {
			continue
		}
		u := get(a.Actor)
		if u.Events == 0 && u.Alerts == 0 {
			u.ActorID = a.ActorID
		}
		u.Alerts++
		if alert.SeverityRank(a.Severity) > alert.SeverityRank(u.MaxAlertSeverity) {
			u.MaxAlertSeverity = a.Severity
		}
	}
	out := []UserSummary{}
	for actor, u := range users {
		for c := range countries[actor] {
			u.Countries = append(u.Countries, c)
		}
		sort.Strings(u.Countries)
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Alerts != b.Alerts {
			return a.Alerts > b.Alerts
		}
		if a.Failures != b.Failures {
			return a.Failures > b.Failures
		}
		if a.Events != b.Events {
			return a.Events > b.Events
		}
		return a.Actor < b.Actor
	})
	return out[:min(len(out), q.Limit)]
}

// TestUserSummariesExact: the users summary equals, field for field and
// in order, the same summary computed from the raw events and alerts, over
// ranges that are open, aligned on days or hours, or cut through minutes
// (rows at the edges); with a search, a limit, and alerts on actors
// without events in the range.
func TestUserSummariesExact(t *testing.T) {
	ctx := context.Background()
	s, evs := fixture(t)
	alerts := []alert.Alert{
		mkAlert("a1", "failed_logins", "medium", evs[100].Published, evs[100].Actor.AlternateID, evs[100].UUID),
		mkAlert("a2", "password_spray", "high", evs[200].Published, evs[200].Actor.AlternateID, evs[200].UUID, evs[201].UUID),
		mkAlert("a3", "failed_logins", "low", evs[300].Published, evs[100].Actor.AlternateID),
		mkAlert("a4", "impossible_travel", "critical", evs[2950].Published, evs[2950].Actor.AlternateID, evs[2950].UUID),
		// an actor with no events at all, and one whose events are all outside the range below
		mkAlert("a5", "anonymous_ip", "info", evs[1500].Published, "ghost@example.com"),
		mkAlert("a6", "mfa_fatigue", "high", evs[1600].Published, evs[2999].Actor.AlternateID),
	}
	mustCommit(t, s, Batch{Alerts: alerts[4:]})
	day := func(i int) time.Time { return evs[i].Published.Truncate(24 * time.Hour) }
	hour := func(i int) time.Time { return evs[i].Published.Truncate(time.Hour) }
	cases := []UserQuery{
		{Limit: 1000},
		{Limit: 7},
		{From: evs[333].Published.Add(-time.Second), To: evs[2222].Published, Limit: 1000},
		{From: day(400).Add(24 * time.Hour), To: day(2600), Limit: 1000},
		{From: hour(400), To: hour(2600).Add(-time.Millisecond), Limit: 1000},
		{From: hour(1400).Add(17 * time.Minute), To: hour(1700).Add(23*time.Minute + 5*time.Second), Limit: 1000},
		{From: evs[1490].Published, To: evs[1510].Published, Limit: 1000},
		{From: evs[1000].Published, Search: "USER04", Limit: 1000},
		{From: evs[1000].Published, To: evs[1000].Published, Limit: 10},
		{From: evs[2999].Published.Add(time.Hour), Limit: 10},
		// at least Limit actors with alerts: only those that can rank are
		// folded (UserAgg.KeepTop), with a tie on the Limit-th count (3)
		{Limit: 1},
		{Limit: 3},
		{From: evs[50].Published, Limit: 2},
	}
	for i, q := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, err := s.UserSummaries(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteUserSummaries(evs, alerts, q)
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%+v:\n got %d users %+v\nwant %d users %+v", q, len(got), head(got), len(want), head(want))
			}
		})
	}
}

func head(us []UserSummary) []UserSummary { return us[:min(len(us), 3)] }
