// Package storetest is the store contract's test suite: one set of tests
// that every backend (SQLite, PostgreSQL) must pass. A backend's own test
// calls Run with a function that opens handles on one fresh database.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	alertpkg "github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// NewDB prepares one fresh database for a test and returns the function
// that opens a handle on it bound to org. Handles opened for the same org
// share its rows; handles of different orgs share the database (for a
// backend that holds one org per database, like SQLite, each org gets its
// own file). The backend closes the handles in t.Cleanup.
type NewDB func(t *testing.T) (open func(org string) store.Backend)

// Orgs used by the suite.
const (
	OrgA = "https://a.okta.example"
	OrgB = "https://b.okta.example"
)

// Run runs the whole contract suite.
func Run(t *testing.T, newDB NewDB) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewDB)
	}{
		{"CommitAndRead", testCommitAndRead},
		{"StateDelta", testStateDelta},
		{"StateReplay", testStateReplay},
		{"StateLayoutRewrite", testStateLayoutRewrite},
		{"Duplicates", testDuplicates},
		{"AtomicBatch", testAtomicBatch},
		{"EventFilters", testEventFilters},
		{"Alerts", testAlerts},
		{"AlertUpsert", testAlertUpsert},
		{"AlertTable", testAlertTable},
		{"Series", testSeries},
		{"Volume", testVolume},
		{"GeoUsersDictionaries", testGeoUsersDictionaries},
		{"Posture", testPosture},
		{"Prune", testPrune},
		{"InvalidQueries", testInvalidQueries},
		{"OrgIsolation", testOrgIsolation},
		{"LeaseAndFencing", testLease},
		{"Triage", testTriage},
		{"TriageBadInput", testTriageBadInput},
		{"Exceptions", testExceptions},
		{"TriageConcurrent", testTriageConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB) })
	}
}

// T0 is the suite's reference time: recent enough for retention tests
// that prune relative to now, aligned to an hour.
func T0() time.Time { return time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Hour) }

var (
	cities = []struct {
		name, country string
		lat, lon      float64
	}{
		{"San Francisco", "United States", 37.7749, -122.4194},
		{"London", "United Kingdom", 51.5074, -0.1278},
		{"Tokyo", "Japan", 35.6762, 139.6503},
	}
	types = []string{"user.session.start", "user.authentication.sso", "policy.evaluate_sign_on",
		"user.session.end", "system.api_token.create"}
)

// Event builds event n of a deterministic stream; prefix keeps uuids
// distinct between streams (orgs).
func Event(prefix string, n int, published time.Time) event.Event {
	c := cities[n%len(cities)]
	actor := fmt.Sprintf("user%02d@%s.example.com", n%7, prefix)
	typ := types[n%len(types)]
	outcome := "SUCCESS"
	if n%4 == 3 {
		outcome = "FAILURE"
	}
	ev := event.Event{
		UUID:           fmt.Sprintf("%s-%08x-0000-4000-8000-%012x", prefix, n, n),
		Published:      published.UTC(),
		EventType:      typ,
		Severity:       "INFO",
		DisplayMessage: fmt.Sprintf("Message %d about %s", n, typ),
		Actor:          event.Actor{ID: fmt.Sprintf("00u%s%03d", prefix, n%7), Type: "User", AlternateID: actor, DisplayName: "User"},
		Client: event.Client{IPAddress: fmt.Sprintf("198.51.100.%d", n%50),
			Geo: event.Geo{City: c.name, Country: c.country, Lat: c.lat, Lon: c.lon, HasLatLon: true}},
		Outcome: event.Outcome{Result: outcome},
		Auth:    event.AuthContext{ExternalSessionID: fmt.Sprintf("sess%s%03d", prefix, n%11)},
		Targets: []event.Target{{ID: "0oa1", Type: "AppInstance", AlternateID: "App-" + prefix}},
	}
	raw, _ := json.Marshal(map[string]any{"uuid": ev.UUID, "eventType": typ, "n": n, "displayMessage": ev.DisplayMessage})
	ev.Raw = raw
	return ev
}

// Events builds n events from start, step apart.
func Events(prefix string, start, n int, from time.Time, step time.Duration) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = Event(prefix, start+i, from.Add(time.Duration(i)*step))
	}
	return out
}

// Alert builds an alert linked to events.
func Alert(id, detector, sev string, at time.Time, actor string, evIDs ...string) alertpkg.Alert {
	return alertpkg.Alert{ID: id, Detector: detector, Severity: sev, Time: at, Actor: actor, ActorID: "00u" + id,
		IP: "203.0.113.9", Country: "Japan", Title: detector + " for " + actor, Summary: "summary " + id,
		Evidence: map[string]any{"count": 3.0}, EventIDs: evIDs, MITRE: []string{"T1110"}}
}

type (
	alert  = alertpkg.Alert
	eventT = event.Event
)

func commit(t *testing.T, s store.Backend, b store.Batch) store.CommitResult {
	t.Helper()
	res, err := s.Commit(context.Background(), b)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func uuids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].UUID
	}
	return out
}

func rowUUIDs(rows []store.EventRow) []string {
	out := make([]string, len(rows))
	for i := range rows {
		out[i] = rows[i].UUID
	}
	return out
}
