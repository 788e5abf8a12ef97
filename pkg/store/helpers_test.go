package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

type city struct {
	name, country string
	lat, lon      float64
}

var cities = []city{
	{"San Francisco", "United States", 37.7749, -122.4194},
	{"London", "United Kingdom", 51.5074, -0.1278},
	{"Paris", "France", 48.8566, 2.3522},
	{"Tokyo", "Japan", 35.6762, 139.6503},
	{"Lagos", "Nigeria", 6.5244, 3.3792},
}

var eventTypes = []string{
	"user.session.start", "user.authentication.sso", "user.authentication.auth_via_mfa",
	"policy.evaluate_sign_on", "user.session.end", "user.account.lock", "system.api_token.create",
	"group.user_membership.add", "app.oauth2.as.authorize", "user.mfa.okta_verify.deny_push",
}

// mkEvent builds a realistic event: n selects the actor, type, location,
// outcome; Raw is a ~1.8 KB JSON document like Okta's.
func mkEvent(n int, published time.Time) event.Event {
	ev := mkEventNoRaw(n, published)
	ev.Raw = rawFor(&ev)
	return ev
}

func mkEventNoRaw(n int, published time.Time) event.Event {
	c := cities[n%len(cities)]
	actor := fmt.Sprintf("user%03d@example.com", n%200)
	typ := eventTypes[n%len(eventTypes)]
	outcome := "SUCCESS"
	reason := ""
	if n%7 == 3 {
		outcome, reason = "FAILURE", "INVALID_CREDENTIALS"
	}
	ip := fmt.Sprintf("198.51.%d.%d", (n/250)%250, n%250)
	uuid := fmt.Sprintf("%08x-5b2f-11ee-%04x-%012x", n, n%65536, n)
	ev := event.Event{
		UUID:           uuid,
		Published:      published.UTC(),
		EventType:      typ,
		Version:        "0",
		Severity:       "INFO",
		DisplayMessage: "Event " + typ + " for " + actor,
		Actor:          event.Actor{ID: fmt.Sprintf("00u%07d", n%200), Type: "User", AlternateID: actor, DisplayName: fmt.Sprintf("User %d", n%200)},
		Client: event.Client{IPAddress: ip, Geo: event.Geo{City: c.name, Country: c.country, Lat: c.lat, Lon: c.lon, HasLatLon: true},
			UserAgent: event.UserAgent{Raw: "Mozilla/5.0", OS: "Mac OS X", Browser: "CHROME"}},
		Outcome: event.Outcome{Result: outcome, Reason: reason},
		Auth:    event.AuthContext{ExternalSessionID: fmt.Sprintf("102sess%05d", n%1000)},
		Targets: []event.Target{{ID: "0oa1", Type: "AppInstance", AlternateID: "Salesforce"}},
	}
	return ev
}

func rawFor(ev *event.Event) json.RawMessage {
	// request, transaction and device identifiers are random per event in
	// Okta's logs: derive them from the uuid so that compression figures
	// are not flattered by repeated constants
	h := sha256.Sum256([]byte(ev.UUID))
	hx := hex.EncodeToString(h[:])
	reqID := base64.RawURLEncoding.EncodeToString(h[:20])
	m := map[string]any{
		"uuid": ev.UUID, "published": ev.Published.Format("2006-01-02T15:04:05.000Z"), "eventType": ev.EventType,
		"version": "0", "severity": ev.Severity, "displayMessage": ev.DisplayMessage, "legacyEventType": "core.user_auth.login_success",
		"actor": map[string]any{"id": ev.Actor.ID, "type": "User", "alternateId": ev.Actor.AlternateID, "displayName": ev.Actor.DisplayName, "detailEntry": nil},
		"client": map[string]any{"userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36", "os": "Mac OS X", "browser": "CHROME"},
			"zone": "null", "device": "Computer", "id": nil, "ipAddress": ev.Client.IPAddress,
			"geographicalContext": map[string]any{"city": ev.Client.Geo.City, "state": "State", "country": ev.Client.Geo.Country, "postalCode": "94107",
				"geolocation": map[string]any{"lat": ev.Client.Geo.Lat, "lon": ev.Client.Geo.Lon}}},
		"outcome":     map[string]any{"result": ev.Outcome.Result, "reason": ev.Outcome.Reason},
		"target":      []any{map[string]any{"id": "0oa1", "type": "AppInstance", "alternateId": "Salesforce", "displayName": "Salesforce.com", "detailEntry": map[string]any{"signOnModeType": "SAML_2_0"}}},
		"transaction": map[string]any{"type": "WEB", "id": reqID, "detail": map[string]any{}},
		"debugContext": map[string]any{"debugData": map[string]any{
			"requestId": reqID, "requestUri": "/idp/idx/authenticators/poll", "url": "/idp/idx/authenticators/poll?",
			"behaviors":           "{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}",
			"risk":                "{level=LOW}",
			"deviceFingerprint":   hx[:32],
			"dtHash":              hx,
			"threatSuspected":     "false",
			"logOnlySecurityData": `{"risk":{"level":"LOW"},"behaviors":{"New Geo-Location":"NEGATIVE","New Device":"NEGATIVE","New IP":"NEGATIVE","New State":"NEGATIVE","New Country":"NEGATIVE","Velocity":"NEGATIVE","New City":"NEGATIVE"}}`,
		}},
		"authenticationContext": map[string]any{"authenticationProvider": nil, "credentialProvider": nil, "credentialType": nil, "issuer": nil,
			"interface": nil, "authenticationStep": 0, "externalSessionId": ev.Auth.ExternalSessionID, "rootSessionId": "idx" + ev.Auth.ExternalSessionID},
		"securityContext": map[string]any{"asNumber": 7922, "asOrg": "comcast", "isp": "comcast cable communications llc", "domain": "comcast.net", "isProxy": false},
		"request": map[string]any{"ipChain": []any{map[string]any{"ip": ev.Client.IPAddress, "version": "V4", "source": nil,
			"geographicalContext": map[string]any{"city": ev.Client.Geo.City, "state": "State", "country": ev.Client.Geo.Country, "postalCode": "94107",
				"geolocation": map[string]any{"lat": ev.Client.Geo.Lat, "lon": ev.Client.Geo.Lon}}}}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func mkEvents(start, n int, from time.Time, step time.Duration) []event.Event {
	out := make([]event.Event, n)
	for i := range out {
		out[i] = mkEvent(start+i, from.Add(time.Duration(i)*step))
	}
	return out
}

func mkAlert(id, detector, sev string, at time.Time, actor string, evIDs ...string) alert.Alert {
	return alert.Alert{ID: id, Detector: detector, Severity: sev, Time: at, Actor: actor, ActorID: "00u" + id,
		IP: "203.0.113.9", Country: "Nigeria", Title: detector + " for " + actor, Summary: "summary " + id,
		Evidence: map[string]any{"count": 12.0}, EventIDs: evIDs, MITRE: []string{"T1110"}}
}

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "org", "oktaguard.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func mustCommit(t testing.TB, s *Store, b Batch) CommitResult {
	t.Helper()
	res, err := s.Commit(context.Background(), b)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return res
}

func countRows(t testing.TB, s *Store, table string) int64 {
	t.Helper()
	var n int64
	if err := s.r.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func wantErrContains(t *testing.T, err error, sub string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), sub) {
		t.Fatalf("error = %v, want one containing %q", err, sub)
	}
}

type detectAlert = alert.Alert

type eventT = event.Event

func benchUUID(n int) string {
	const hex = "0123456789abcdef"
	b := []byte("00000000-0000-4000-8000-000000000000")
	for i, p := 0, len(b)-1; i < 16; i, p = i+1, p-1 {
		b[p] = hex[n&15]
		n >>= 4
	}
	return string(b)
}

// openOld opens a new store file named name in a temporary directory at
// schema version upTo (a store written by an older version, for the
// migration tests) and returns it with its path, to reopen at the latest
// version.
// reopenLatest closes old, a store opened by openOld, and opens its file
// again at the latest schema (migrating it), closed at the test's end.
func reopenLatest(t testing.TB, old *Store, path string) *Store {
	t.Helper()
	old.Close()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openOld(t testing.TB, name string, upTo int) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	s, err := openAt(context.Background(), path, Options{}, upTo)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}
