package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/oktaguard/oktaguard/pkg/testsamples"
)

// sharedPresent reports whether the public samples in ../shared are there
// (testsamples fails the test when CI requires them and they are not).
func sharedPresent(t testing.TB) bool {
	return len(testsamples.EventFiles(t)) > len(testsamples.OwnEvents(t))
}

// sampleLines returns every non-blank line of the project's own events and
// of the public samples when present, keyed by "file:line".
func sampleLines(t testing.TB) (names []string, lines map[string][]byte) {
	t.Helper()
	files := testsamples.EventFiles(t) // the project's own events (must exist) and ../shared's
	lines = map[string][]byte{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 16<<20)
		n := 0
		for sc.Scan() {
			n++
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			key := filepath.Base(f) + ":" + strconv.Itoa(n)
			names = append(names, key)
			lines[key] = append([]byte(nil), sc.Bytes()...)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return names, lines
}

func mustDecode(t *testing.T, raw []byte) Event {
	t.Helper()
	ev, err := Decode(raw)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return ev
}

func TestDecodeEverySample(t *testing.T) {
	names, lines := sampleLines(t)
	want := 25 // the project's own events
	if sharedPresent(t) {
		want += 30
	}
	if len(names) < want {
		t.Fatalf("expected at least %d sample events, found %d", want, len(names))
	}
	for _, n := range names {
		ev, err := Decode(lines[n])
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if ev.UUID == "" || ev.EventType == "" || ev.Published.IsZero() {
			t.Errorf("%s: required fields empty: %+v", n, ev)
		}
		if ev.Published.Location() != time.UTC {
			t.Errorf("%s: published not UTC", n)
		}
		if !bytes.Equal(ev.Raw, bytes.TrimSpace(lines[n])) {
			t.Errorf("%s: Raw differs from input", n)
		}
		// compare a few fields with encoding/json's view
		var m map[string]any
		if err := json.Unmarshal(lines[n], &m); err != nil {
			t.Fatalf("%s: stdlib: %v", n, err)
		}
		if ev.UUID != m["uuid"] || ev.EventType != m["eventType"] {
			t.Errorf("%s: uuid/eventType mismatch with encoding/json", n)
		}
		if a, ok := m["actor"].(map[string]any); ok && a["alternateId"] != nil && a["alternateId"] != ev.Actor.AlternateID {
			t.Errorf("%s: actor.alternateId %q vs %v", n, ev.Actor.AlternateID, a["alternateId"])
		}
		if c, ok := m["client"].(map[string]any); ok {
			if c["zone"] == "null" && ev.Client.Zone != "" {
				t.Errorf("%s: zone \"null\" should decode to empty, got %q", n, ev.Client.Zone)
			}
			if ip, _ := c["ipAddress"].(string); ip != ev.Client.IPAddress {
				t.Errorf("%s: ipAddress %q vs %q", n, ev.Client.IPAddress, ip)
			}
		}
		if tg, ok := m["target"].([]any); ok && len(tg) != len(ev.Targets) {
			t.Errorf("%s: %d targets, stdlib %d", n, len(ev.Targets), len(tg))
		}
		if m["target"] == nil && ev.Targets != nil {
			t.Errorf("%s: target null should give nil Targets", n)
		}
	}
}

func sample(t *testing.T, key string) Event {
	t.Helper()
	if !strings.HasPrefix(key, "okta-events.jsonl:") {
		testsamples.Shared(t, "samples/okta-system-log") // skipped with the reason, or failed under CI, when absent
	}
	_, lines := sampleLines(t)
	raw, ok := lines[key]
	if !ok {
		t.Fatalf("sample %s not found", key)
	}
	return mustDecode(t, raw)
}

func TestSampleSekoiaLock(t *testing.T) {
	ev := sample(t, "sekoia-intake-formats.jsonl:1")
	if ev.UUID != "33333333-3333-3333-3333-333333333333" || ev.EventType != "user.account.lock" {
		t.Fatalf("wrong event %s %s", ev.UUID, ev.EventType)
	}
	want := time.Date(2025, 10, 10, 4, 31, 28, 72e6, time.UTC)
	if !ev.Published.Equal(want) {
		t.Errorf("published %v want %v", ev.Published, want)
	}
	if got := ev.Debug.Behaviors["New Device"]; got != "POSITIVE" {
		t.Errorf("behaviors New Device = %q", got)
	}
	if got := ev.Debug.Behaviors["New Geo-Location"]; got != "NEGATIVE" {
		t.Errorf("behaviors New Geo-Location = %q", got)
	}
	if len(ev.Debug.Behaviors) != 7 {
		t.Errorf("behaviors: %d entries, want 7: %v", len(ev.Debug.Behaviors), ev.Debug.Behaviors)
	}
	if ev.Debug.RiskLevel != "MEDIUM" || ev.Debug.RiskReasons != "Anomalous Device" {
		t.Errorf("risk = %q / %q", ev.Debug.RiskLevel, ev.Debug.RiskReasons)
	}
	if ev.Auth.RootSessionID != "SESSION_ID" || ev.SessionID() != "SESSION_ID" {
		t.Errorf("rootSessionId %q", ev.Auth.RootSessionID)
	}
	if ev.Security.ASNumber != 123456 || ev.Security.ASOrg != "ACME" || ev.Security.IsProxy {
		t.Errorf("securityContext %+v", ev.Security)
	}
	if ev.Client.Zone != "" {
		t.Errorf("zone %q want empty for \"null\"", ev.Client.Zone)
	}
	if ev.Device != nil {
		t.Errorf("device null should give nil, got %+v", ev.Device)
	}
	if ev.Debug.DTHash != strings.Repeat("4", 64) {
		t.Errorf("dtHash %q", ev.Debug.DTHash)
	}
	if ev.Debug.RequestURI != "/idp/idx/challenge/answer" {
		t.Errorf("requestUri %q", ev.Debug.RequestURI)
	}
	if !ev.IsFailure() || ev.IsSuccess() || ev.Outcome.Reason != "LOCKED_OUT" {
		t.Errorf("outcome %+v", ev.Outcome)
	}
	if ev.Country() != "France" || !ev.Client.Geo.HasLatLon || ev.Client.Geo.Lat != 48.856944 {
		t.Errorf("geo %+v", ev.Client.Geo)
	}
	if len(ev.Targets) != 1 || ev.Targets[0].AlternateID != "john.doe@example.com" {
		t.Errorf("targets %+v", ev.Targets)
	}
}

func TestSampleElastic(t *testing.T) {
	// line 12: logOnlySecurityData only (no plain behaviors/risk), API token request
	ev := sample(t, "elastic-integrations.jsonl:12")
	if ev.Debug.RiskLevel != "HIGH" || ev.Debug.RiskReasons != "Anomalous Location, Anomalous Device" {
		t.Errorf("risk from logOnlySecurityData = %q / %q", ev.Debug.RiskLevel, ev.Debug.RiskReasons)
	}
	if ev.Debug.Behaviors["New Device"] != "BAD_REQUEST" || ev.Debug.Behaviors["New IP"] != "POSITIVE" {
		t.Errorf("behaviors from logOnlySecurityData = %v", ev.Debug.Behaviors)
	}
	if ev.Debug.LogOnlySecurity == nil {
		t.Error("LogOnlySecurity not parsed")
	}
	if ev.Debug.RequestAPITokenID == "" || !ev.IsAPITokenRequest() {
		t.Error("requestApiTokenId not copied")
	}
	if ev.IsInteractiveSignIn() {
		t.Error("API-token request counted as interactive sign-in")
	}

	// line 14: risk reasons before level, with a comma inside the reasons
	ev = sample(t, "elastic-integrations.jsonl:14")
	if ev.Debug.RiskLevel != "HIGH" || ev.Debug.RiskReasons != "Anomalous Device, Anomalous Location" {
		t.Errorf("risk = %q / %q", ev.Debug.RiskLevel, ev.Debug.RiskReasons)
	}
	if ev.Debug.Behaviors["Velocity"] != "POSITIVE" {
		t.Errorf("behaviors %v", ev.Debug.Behaviors)
	}

	// line 20: top-level device
	ev = sample(t, "elastic-integrations.jsonl:20")
	if ev.Device == nil || ev.Device.ID != "abcdefghijklmnop" || ev.Device.Name != "MacBookPro14,2" ||
		ev.Device.OSPlatform != "OSX" || ev.Device.OSVersion != "12.6.6" || ev.Device.Managed || !ev.Device.Registered {
		t.Errorf("device %+v", ev.Device)
	}

	// line 25: tunnels JSON string
	ev = sample(t, "elastic-integrations.jsonl:25")
	if len(ev.Debug.Tunnels) != 1 || ev.Debug.Tunnels[0] != (Tunnel{Anonymous: true, Operator: "WARP_VPN", Type: "VPN"}) {
		t.Errorf("tunnels %+v", ev.Debug.Tunnels)
	}
	if _, ok := ev.Debug.Data()["tunnels"].(string); !ok {
		t.Error("raw tunnels string should stay in Data")
	}

	// line 2: interactive sign-in
	ev = sample(t, "elastic-integrations.jsonl:2")
	if ev.EventType != "user.session.start" || !ev.IsInteractiveSignIn() {
		t.Errorf("%s should be an interactive sign-in", ev.EventType)
	}
	if ev.Debug.DeviceFingerprint != "541daf91d15bef64a7e08c946fd9a9d0" || ev.Debug.URL != "/api/v1/authn?" || ev.Debug.ThreatSuspected {
		t.Errorf("debug %+v", ev.Debug)
	}
}

func TestSampleSystemPrincipal(t *testing.T) {
	ev := sample(t, "sekoia-intake-formats.jsonl:2")
	if !ev.IsOktaInternal() {
		t.Errorf("system@okta.com should be Okta-internal: %+v", ev.Actor)
	}
}

// minimal builds a valid event with extra members spliced in.
func minimal(extra string) []byte {
	s := `{"uuid":"u-1","published":"2024-01-02T03:04:05.678Z","eventType":"user.session.start"`
	if extra != "" {
		s += "," + extra
	}
	return []byte(s + "}")
}

// TestDecodeKeyForms covers the key scanner's slow paths: escaped and
// non-ASCII keys, keys longer than its buffer, and short objects.
func TestDecodeKeyForms(t *testing.T) {
	long := strings.Repeat("displayMessage", 4)
	ev := mustDecode(t, minimal(`"display\u004dessage":"m","actor":{"alternateId":"a"},"`+long+`":"x","\u00e9t\u00e9":1,"sévérité":2,"severity":"WARN"`))
	if ev.DisplayMessage != "m" || ev.Actor.AlternateID != "a" || ev.Severity != "WARN" {
		t.Errorf("got %q %q %q", ev.DisplayMessage, ev.Actor.AlternateID, ev.Severity)
	}
	ev = mustDecode(t, []byte(`{"uuid":"u","published":"2024-01-02T03:04:05Z","eventType":"e","a":{"b":1}}`))
	if ev.UUID != "u" {
		t.Errorf("uuid %q", ev.UUID)
	}
}

func TestDecodeLowerCaseKeys(t *testing.T) {
	raw := []byte(`{"UUID":"u-2","Published":"2024-01-02T03:04:05Z","eventtype":"user.session.start",
	"displaymessage":"User login to Okta","actor":{"alternateid":"a@b.c","type":"User","displayname":"A"},
	"client":{"ipaddress":"192.0.2.1","geographicalcontext":{"country":"Chile","geolocation":{"lat":1,"lon":2}},"useragent":{"rawuseragent":"UA"}},
	"outcome":{"result":"SUCCESS"},"authenticationcontext":{"externalsessionid":"s1"},
	"securitycontext":{"asnumber":64500,"isproxy":true},
	"debugcontext":{"debugdata":{"Behaviors":"{New IP=POSITIVE}","RISK":"{level=LOW}","threatsuspected":"true","requesturi":"/x"}},
	"transaction":{"detail":{"requestapitokenid":"tok"}}}`)
	ev := mustDecode(t, raw)
	if ev.UUID != "u-2" || ev.EventType != "user.session.start" || ev.DisplayMessage != "User login to Okta" {
		t.Errorf("top level %+v", ev)
	}
	if ev.Actor.AlternateID != "a@b.c" || ev.Client.IPAddress != "192.0.2.1" || ev.Client.Geo.Country != "Chile" || !ev.Client.Geo.HasLatLon {
		t.Errorf("nested %+v %+v", ev.Actor, ev.Client)
	}
	if ev.Client.UserAgent.Raw != "UA" || ev.Auth.ExternalSessionID != "s1" {
		t.Errorf("ua/session %+v %+v", ev.Client.UserAgent, ev.Auth)
	}
	if ev.Security.ASNumber != 64500 || !ev.Security.IsProxy {
		t.Errorf("security %+v", ev.Security)
	}
	if ev.Debug.Behaviors["New IP"] != "POSITIVE" || ev.Debug.RiskLevel != "LOW" || !ev.Debug.ThreatSuspected || ev.Debug.RequestURI != "/x" {
		t.Errorf("debug %+v", ev.Debug)
	}
	if ev.Debug.RequestAPITokenID != "tok" {
		t.Errorf("requestApiTokenId %q", ev.Debug.RequestAPITokenID)
	}
}

func TestDecodeOptionalShapes(t *testing.T) {
	ev := mustDecode(t, minimal(`"target":[{"id":"00g1","type":"UserGroup","changeDetails":{"from":{"name":"old"},"to":{"name":"new","n":3}},"detailEntry":{"k":"v"}}, null],
		"securityContext":{"asNumber":null,"isProxy":null,"asOrg":null},
		"client":{"zone":"Corp","geographicalContext":{"geolocation":{"lat":null,"lon":null}}},
		"device":{"id":"d1","managed":true,"registered":"true","extra":{"x":[1,2]}},
		"authenticationContext":{"issuer":{"id":"i","type":"t"},"rootSessionId":"r1","externalSessionId":"unknown"},
		"request":{"ipChain":[{"ip":"198.51.100.7","version":"V4","geographicalContext":{"country":"Peru"}}]},
		"actor":{"detail":{"a":1}},
		"debugContext":{"debugData":{"threatSuspected":true,"risk":{"level":"HIGH","reasons":"X"},"behaviors":{"New IP":"POSITIVE"}}}`))
	if len(ev.Targets) != 1 || ev.Targets[0].ChangeDetails == nil ||
		ev.Targets[0].ChangeDetails.From["name"] != "old" || ev.Targets[0].ChangeDetails.To["n"] != 3.0 || ev.Targets[0].Detail["k"] != "v" {
		t.Errorf("targets %+v", ev.Targets)
	}
	if ev.Security != (SecurityContext{}) {
		t.Errorf("nulls should give zero securityContext: %+v", ev.Security)
	}
	if ev.Client.Zone != "Corp" || ev.Client.Geo.HasLatLon {
		t.Errorf("client %+v", ev.Client)
	}
	if ev.Device == nil || !ev.Device.Managed || !ev.Device.Registered || ev.Device.ID != "d1" {
		t.Errorf("device %+v", ev.Device)
	}
	if ev.Auth.IssuerID != "i" || ev.Auth.IssuerType != "t" || ev.SessionID() != "r1" {
		t.Errorf("auth %+v session %q", ev.Auth, ev.SessionID())
	}
	if len(ev.IPChain) != 1 || ev.IPChain[0].IP != "198.51.100.7" || ev.Country() != "Peru" {
		t.Errorf("ipChain %+v", ev.IPChain)
	}
	if ev.Actor.Detail["a"] != 1.0 {
		t.Errorf("actor detail %v", ev.Actor.Detail)
	}
	if !ev.Debug.ThreatSuspected || ev.Debug.RiskLevel != "HIGH" || ev.Debug.RiskReasons != "X" || ev.Debug.Behaviors["New IP"] != "POSITIVE" {
		t.Errorf("debug as objects %+v", ev.Debug)
	}

	// behaviours as a list of "Name=VALUE" items (an exporter's split of
	// Okta's string; Panther's public test events have this shape)
	ev = mustDecode(t, minimal(`"debugContext":{"debugData":{"behaviors":["New Geo-Location=NEGATIVE","New Device=POSITIVE","New IP=POSITIVE",7]}}`))
	if len(ev.Debug.Behaviors) != 3 || ev.Debug.Behaviors["New Device"] != "POSITIVE" || ev.Debug.Behaviors["New Geo-Location"] != "NEGATIVE" {
		t.Errorf("behaviors as a list: %v", ev.Debug.Behaviors)
	}

	ev = mustDecode(t, minimal(`"target":null,"client":null,"actor":null,"device":null,"debugContext":{"debugData":null},"request":{"ipChain":null}`))
	if ev.Targets != nil || ev.Device != nil || ev.Debug.Data() != nil || ev.IPChain != nil {
		t.Errorf("nulls: %+v", ev)
	}

	// asNumber as a numeric string, escapes in strings
	ev = mustDecode(t, minimal(`"securityContext":{"asNumber":"714"},"displayMessage":"a\"b\\c\u00e9\ud83d\ude00\n"`))
	if ev.Security.ASNumber != 714 || ev.DisplayMessage != "a\"b\\cé😀\n" {
		t.Errorf("asNumber %d msg %q", ev.Security.ASNumber, ev.DisplayMessage)
	}
}

func TestDecodeMalformedStringFieldsKeepEvent(t *testing.T) {
	ev := mustDecode(t, minimal(`"debugContext":{"debugData":{"behaviors":"garbage","risk":"{}","tunnels":"[{\"anonymous\":tr","logOnlySecurityData":"{not json","threatSuspected":"maybe"}}`))
	if ev.Debug.Behaviors != nil || ev.Debug.RiskLevel != "" || ev.Debug.Tunnels != nil || ev.Debug.LogOnlySecurity != nil || ev.Debug.ThreatSuspected {
		t.Errorf("malformed fields should stay unparsed: %+v", ev.Debug)
	}
	if ev.Debug.Str("tunnels") != `[{"anonymous":tr` || ev.Debug.Str("logOnlySecurityData") != "{not json" {
		t.Errorf("raw values should stay in Data: %v", ev.Debug.Data())
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		is   error  // errors.Is target, optional
		want string // substring of the message
	}{
		{"empty", ``, nil, "invalid JSON at offset 0: unexpected end of input"},
		{"not object", `[1]`, nil, "(event): expected object, got array"},
		{"truncated", `{"uuid":"u","published":"2024-01-02T03:04:05Z","eventType":"x","actor":{"id":"a`, nil, "unexpected end of input"},
		{"truncated after key", `{"uuid":`, nil, "invalid JSON at offset 8: unexpected end of input"},
		{"bad literal", `{"uuid":"u","x":nul}`, nil, "invalid literal"},
		{"trailing data", string(minimal("")) + `{}`, nil, "unexpected data after the event object"},
		{"missing comma", `{"uuid":"u" "published":"x"}`, nil, "expected ',' or '}' in object"},
		{"bad escape", `{"uuid":"\q"}`, nil, "invalid escape character"},
		{"control char", "{\"uuid\":\"a\x01\"}", nil, "control character in string"},
		{"missing uuid", `{"published":"2024-01-02T03:04:05Z","eventType":"x"}`, ErrMissingField, `missing required field "uuid"`},
		{"null uuid", `{"uuid":null,"published":"2024-01-02T03:04:05Z","eventType":"x"}`, ErrMissingField, `"uuid"`},
		{"missing published", `{"uuid":"u","eventType":"x"}`, ErrMissingField, `missing required field "published"`},
		{"missing eventType", `{"uuid":"u","published":"2024-01-02T03:04:05Z"}`, ErrMissingField, `missing required field "eventType"`},
		{"bad date", `{"uuid":"u","published":"2024-13-02T03:04:05Z","eventType":"x"}`, ErrBadTime, `published "2024-13-02T03:04:05Z": not an RFC 3339 timestamp`},
		{"date garbage", `{"uuid":"u","published":"yesterday","eventType":"x"}`, ErrBadTime, `published "yesterday"`},
		{"before 1970", `{"uuid":"u","published":"1969-12-31T23:59:59.999Z","eventType":"x"}`, ErrTimeRange, `published 1969-12-31T23:59:59.999Z: before 1970-01-01T00:00:00Z`},
		{"before 1970, zone", `{"uuid":"u","published":"1970-01-01T00:30:00+01:00","eventType":"x"}`, ErrTimeRange, `published 1969-12-31T23:30:00Z`},
		{"uuid number", `{"uuid":123,"published":"2024-01-02T03:04:05Z","eventType":"x"}`, nil, "uuid: expected string, got number"},
		{"deep nesting", string(minimal(`"x":` + strings.Repeat("[", 2000))), nil, "nesting too deep"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.raw))
			if err == nil {
				t.Fatal("expected an error")
			}
			if !strings.HasPrefix(err.Error(), "event: ") {
				t.Errorf("error %q lacks the event: prefix", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}
	// the UUID read before a later error is kept
	ev, err := Decode([]byte(`{"uuid":"keep-me","published":"2024-01-02T03:04:05Z","eventType":"x","actor":{"id":tru}}`))
	if err == nil || ev.UUID != "keep-me" {
		t.Errorf("uuid %q err %v", ev.UUID, err)
	}
	var se *SyntaxError
	if _, err := Decode([]byte(`{"uuid":"u",}`)); !errors.As(err, &se) || se.Offset != 12 {
		t.Errorf("want SyntaxError at offset 12, got %v", err)
	}
}

// An optional field that is "", a JSON string, empty or of an unexpected
// type never drops the event: the field is treated as absent and listed in
// Degraded. Only uuid, published and eventType are required.
func TestDecodeDegraded(t *testing.T) {
	cases := []struct {
		name, extra string
		degraded    []string // nil: a clean event
	}{
		{"debugData empty string", `"debugContext":{"debugData":""}`, []string{"debugContext.debugData"}},
		{"debugData stringified", `"debugContext":{"debugData":"{\"behaviors\":\"{New IP=POSITIVE}\"}"}`, []string{"debugContext.debugData"}},
		{"debugContext number", `"debugContext":7`, []string{"debugContext"}},
		{"empty objects are clean", `"debugContext":{"debugData":{}},"actor":{},"client":{},"securityContext":{}`, nil},
		{"actor string", `"actor":"bob"`, []string{"actor"}},
		{"actor stringified", `"actor":"{\"id\":\"00u1\"}"`, []string{"actor"}},
		{"alternateId number", `"actor":{"alternateId":5,"id":"00u1"}`, []string{"actor.alternateId"}},
		{"client empty string", `"client":""`, []string{"client"}},
		{"userAgent array", `"client":{"userAgent":[1,2],"ipAddress":"192.0.2.1"}`, []string{"client.userAgent"}},
		{"geographicalContext string", `"client":{"geographicalContext":"","ipAddress":"192.0.2.1"}`, []string{"client.geographicalContext"}},
		{"target object", `"target":{}`, []string{"target"}},
		{"target elem", `"target":["x",{"id":"t1"}]`, []string{"target[]"}},
		{"changeDetails string", `"target":[{"id":"t1","changeDetails":""}]`, []string{"target[].changeDetails"}},
		{"lat string", `"client":{"geographicalContext":{"geolocation":{"lat":"north","lon":2}}}`, []string{"client.geographicalContext.geolocation.lat"}},
		{"isProxy", `"securityContext":{"isProxy":"sometimes"}`, []string{"securityContext.isProxy"}},
		{"asNumber fraction", `"securityContext":{"asNumber":1.5}`, []string{"securityContext.asNumber"}},
		{"ipChain object", `"request":{"ipChain":{}}`, []string{"request.ipChain"}},
		{"detail array", `"transaction":{"detail":[]}`, []string{"transaction.detail"}},
		{"authenticationContext string", `"authenticationContext":"{}"`, []string{"authenticationContext"}},
		{"outcome bool", `"outcome":true`, []string{"outcome"}},
		{"device string", `"device":""`, []string{"device"}},
		{"two fields", `"actor":"","client":7`, []string{"actor", "client"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(minimal(c.extra))
			if err != nil {
				t.Fatalf("event dropped: %v", err)
			}
			if ev.UUID != "u-1" || ev.EventType != "user.session.start" || ev.Published.IsZero() {
				t.Fatalf("required fields lost: %+v", ev)
			}
			if !reflect.DeepEqual(ev.Degraded, c.degraded) {
				t.Fatalf("degraded %q, want %q", ev.Degraded, c.degraded)
			}
		})
	}
	// The field case: an "another user's password revealed" event whose
	// debugData is "" keeps its actor, target and outcome.
	raw := `{"uuid":"reveal-1","published":"2024-05-06T07:08:09Z","eventType":"user.account.reveal_password",` +
		`"actor":{"id":"00uadmin","alternateId":"admin@example.com","type":"User"},` +
		`"target":[{"id":"00uvictim","alternateId":"victim@example.com","type":"User"}],` +
		`"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":""}}`
	ev, err := Decode([]byte(raw))
	if err != nil {
		t.Fatalf("password-reveal event dropped: %v", err)
	}
	if ev.Actor.AlternateID != "admin@example.com" || len(ev.Targets) != 1 || ev.Targets[0].AlternateID != "victim@example.com" ||
		ev.Outcome.Result != "SUCCESS" || ev.Debug.Data() != nil || !reflect.DeepEqual(ev.Degraded, []string{"debugContext.debugData"}) {
		t.Fatalf("decoded %+v", ev)
	}
	// required fields of the wrong type still reject
	for _, raw := range []string{
		`{"uuid":123,"published":"2024-01-02T03:04:05Z","eventType":"x"}`,
		`{"uuid":"u","published":{},"eventType":"x"}`,
		`{"uuid":"u","published":"2024-01-02T03:04:05Z","eventType":""}`,
	} {
		if _, err := Decode([]byte(raw)); err == nil {
			t.Errorf("accepted %s", raw)
		}
	}
}

func TestRawIsACopy(t *testing.T) {
	buf := minimal("")
	ev := mustDecode(t, buf)
	want := string(buf)
	for i := range buf {
		buf[i] = 'x'
	}
	if string(ev.Raw) != want || ev.UUID != "u-1" {
		t.Errorf("Raw aliases the input buffer: %s", ev.Raw)
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-01-02T03:04:05.678Z", time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC), true},
		{"2024-01-02T03:04:05Z", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2024-01-02T03:04:05.1Z", time.Date(2024, 1, 2, 3, 4, 5, 100e6, time.UTC), true},
		{"2024-01-02T03:04:05.123456789Z", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), true},
		{"2024-01-02T05:04:05.5+02:00", time.Date(2024, 1, 2, 3, 4, 5, 500e6, time.UTC), true},
		{"2022-06-22 18:18:29.015", time.Date(2022, 6, 22, 18, 18, 29, 15e6, time.UTC), true},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"2023-02-29T00:00:00Z", time.Time{}, false},
		{"2024-01-02T24:00:00Z", time.Time{}, false},
		{"2024-01-02T03:04:05.Z", time.Time{}, false},
		{"2024-01-02", time.Time{}, false},
		{"", time.Time{}, false},
		{"1700000000", time.Time{}, false},
	}
	for _, c := range cases {
		got, err := ParseTime(c.in)
		if c.ok != (err == nil) {
			t.Errorf("%q: err %v", c.in, err)
			continue
		}
		if c.ok && (!got.Equal(c.want) || got.Location() != time.UTC) {
			t.Errorf("%q: got %v want %v", c.in, got, c.want)
		}
		if !c.ok && !errors.Is(err, ErrBadTime) {
			t.Errorf("%q: error %v is not ErrBadTime", c.in, err)
		}
	}
}

func TestParseBehaviors(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
	}{
		{"{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=NEGATIVE}", map[string]string{"New Geo-Location": "NEGATIVE", "New Device": "POSITIVE", "New IP": "NEGATIVE"}},
		{"{Velocity Behavior=NEGATIVE}", map[string]string{"Velocity Behavior": "NEGATIVE"}},
		{"New IP=POSITIVE,New City=NEGATIVE", map[string]string{"New IP": "POSITIVE", "New City": "NEGATIVE"}},
		{"{New IP=POSITIVE, garbage, =X}", map[string]string{"New IP": "POSITIVE"}},
		{"{}", nil},
		{"", nil},
		{"nothing here", nil},
	}
	for _, c := range cases {
		got := ParseBehaviors(c.in)
		if len(got) != len(c.want) {
			t.Errorf("%q: got %v want %v", c.in, got, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%q: %q=%q want %q", c.in, k, got[k], v)
			}
		}
	}
}

func TestParseRisk(t *testing.T) {
	cases := []struct{ in, level, reasons string }{
		{"{level=LOW}", "LOW", ""},
		{"{reasons=Anomalous Device, level=MEDIUM}", "MEDIUM", "Anomalous Device"},
		{"{reasons=Anomalous Device, Anomalous Location, level=HIGH}", "HIGH", "Anomalous Device, Anomalous Location"},
		{"{level=HIGH, reasons=Anomalous Device, Anomalous Location}", "HIGH", "Anomalous Device, Anomalous Location"},
		{"{level=HIGH, reasons=New Geo-Location, New Device=true}", "HIGH", "New Geo-Location, New Device=true"},
		{"{level=HIGH, reasons=Velocity, extra=1}", "HIGH", "Velocity"},
		{"{}", "", ""},
		{"", "", ""},
		{"garbage", "", ""},
	}
	for _, c := range cases {
		l, r := ParseRisk(c.in)
		if l != c.level || r != c.reasons {
			t.Errorf("%q: got %q/%q want %q/%q", c.in, l, r, c.level, c.reasons)
		}
	}
}

func TestParseTunnels(t *testing.T) {
	cases := []struct {
		in   any
		want []Tunnel
	}{
		{`[{"anonymous":true,"operator":"WARP_VPN","type":"VPN"}]`, []Tunnel{{true, "WARP_VPN", "VPN"}}},
		{`[{"anonymous":"true","operator":"iCloud Private Relay","type":"PROXY"},{"anonymous":false,"type":"VPN"}]`,
			[]Tunnel{{true, "iCloud Private Relay", "PROXY"}, {false, "", "VPN"}}},
		{[]any{map[string]any{"anonymous": true, "type": "TOR"}}, []Tunnel{{true, "", "TOR"}}},
		{`[]`, nil},
		{`[1,"x"]`, nil},
		{`{"anonymous":true}`, nil},
		{`[{"anonymous":tr`, nil},
		{42.0, nil},
	}
	for _, c := range cases {
		got := ParseTunnels(c.in)
		if len(got) != len(c.want) {
			t.Errorf("%v: got %+v want %+v", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%v: [%d] %+v want %+v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

func TestDecodePage(t *testing.T) {
	raws := []json.RawMessage{minimal(""), json.RawMessage(`{"uuid":"bad"}`), minimal(`"uuid":"u-3"`)}
	// minimal with a second uuid key: last one wins
	evs, errs := DecodePage(raws)
	if len(evs) != 2 || len(errs) != 1 {
		t.Fatalf("got %d events %d errors", len(evs), len(errs))
	}
	var de *DecodeError
	if !errors.As(errs[0], &de) || de.Index != 1 || de.UUID != "bad" || !errors.Is(de, ErrMissingField) {
		t.Errorf("error %#v", errs[0])
	}
	if evs[1].UUID != "u-3" {
		t.Errorf("duplicate key: last should win, got %q", evs[1].UUID)
	}
}

type readResult struct {
	uuids []string
	errs  []*DecodeError
}

func readAll(t *testing.T, in string) readResult {
	t.Helper()
	r := NewReader(strings.NewReader(in))
	var res readResult
	for i := 0; i < 1000; i++ {
		ev, err := r.Next()
		if err == io.EOF {
			return res
		}
		var de *DecodeError
		if errors.As(err, &de) {
			res.errs = append(res.errs, de)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		res.uuids = append(res.uuids, ev.UUID)
	}
	t.Fatal("reader did not reach EOF")
	return res
}

func ev(uuid string) string {
	return `{"uuid":"` + uuid + `","published":"2024-01-02T03:04:05.678Z","eventType":"user.session.start","displayMessage":"a, [b] {c} \"d\""}`
}

func TestReader(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		uuids   string
		errIdx  []int
		errLine []int
	}{
		{"lines", ev("a") + "\n" + ev("b") + "\n", "a,b", nil, nil},
		{"lines no final newline, CRLF", ev("a") + "\r\n" + ev("b"), "a,b", nil, nil},
		{"blank lines", "\n\n" + ev("a") + "\n  \n\t\n" + ev("b") + "\n\n", "a,b", nil, nil},
		{"bad line in the middle", ev("a") + "\n{\"uuid\":\"x\",\n" + ev("c") + "\n", "a,c", []int{1}, []int{2}},
		{"missing field line", ev("a") + "\n{\"uuid\":\"x\"}\n" + ev("c"), "a,c", []int{1}, []int{2}},
		{"array", "[" + ev("a") + "," + ev("b") + "]", "a,b", nil, nil},
		{"pretty array", "[\n  " + ev("a") + ",\n  " + ev("b") + "\n]\n", "a,b", nil, nil},
		{"empty array", " [ ] ", "", nil, nil},
		{"empty input", "", "", nil, nil},
		{"bom", "\xef\xbb\xbf" + ev("a"), "a", nil, nil},
		{"array bad element", "[" + ev("a") + ",\n{\"uuid\":1},\n" + ev("c") + "]", "a,c", []int{1}, []int{2}},
		{"array missing comma", "[" + ev("a") + " " + ev("b") + "," + ev("c") + "]", "c", []int{0}, []int{1}},
		{"array truncated", "[" + ev("a") + "," + `{"uuid":"b","pub`, "a", []int{1, 2}, nil},
		{"array unclosed", "[" + ev("a"), "a", []int{1}, nil},
		{"array empty element", "[" + ev("a") + ",," + ev("b") + "]", "a,b", []int{1}, nil},
		{"array trailing data", "[" + ev("a") + "] x", "a", []int{1}, nil},
		{"array stray brace costs its element alone", "[" + ev("a") + ",\n" + ev("b") + "}},\n" + ev("c") + "]", "a,c", []int{1}, []int{2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := readAll(t, c.in)
			if got := strings.Join(res.uuids, ","); got != c.uuids {
				t.Errorf("uuids %q want %q", got, c.uuids)
			}
			if len(res.errs) != len(c.errIdx) {
				t.Fatalf("errors %v want indexes %v", res.errs, c.errIdx)
			}
			for i, e := range res.errs {
				if e.Index != c.errIdx[i] {
					t.Errorf("error %d index %d want %d (%v)", i, e.Index, c.errIdx[i], e)
				}
				if c.errLine != nil && e.Line != c.errLine[i] {
					t.Errorf("error %d line %d want %d (%v)", i, e.Line, c.errLine[i], e)
				}
			}
		})
	}
}

func TestReaderBigLineAndLimit(t *testing.T) {
	big := `{"uuid":"big","published":"2024-01-02T03:04:05Z","eventType":"x","displayMessage":"` + strings.Repeat("z", 3<<20) + `"}`
	res := readAll(t, ev("a")+"\n"+big+"\n"+ev("b")+"\n")
	if strings.Join(res.uuids, ",") != "a,big,b" || len(res.errs) != 0 {
		t.Fatalf("uuids %v errs %v", res.uuids, res.errs)
	}
	// with a limit, in both input modes: the big event alone is refused
	for _, in := range []string{ev("a") + "\n" + big + "\n" + ev("b") + "\n", "[" + ev("a") + "," + big + "," + ev("b") + "]"} {
		r := NewReader(strings.NewReader(in))
		r.MaxEventSize = 1 << 20
		var got []string
		var tooBig int
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if errors.Is(err, ErrTooLarge) {
				tooBig++
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.UUID)
		}
		if strings.Join(got, ",") != "a,b" || tooBig != 1 {
			t.Errorf("%.1s... with limit: %v, %d too big", in, got, tooBig)
		}
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		f.n++
		return copy(p, ev("a")+"\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestReaderIOError(t *testing.T) {
	r := NewReader(&failingReader{})
	if e, err := r.Next(); err != nil || e.UUID != "a" {
		t.Fatalf("first: %v %v", e.UUID, err)
	}
	_, err := r.Next()
	var de *DecodeError
	if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("want the I/O error, got %v", err)
	}
	if _, err2 := r.Next(); err2 == nil || err2 == io.EOF {
		t.Errorf("error should persist, got %v", err2)
	}
}

func TestReaderSamples(t *testing.T) {
	names, lines := sampleLines(t)
	var jl, arr bytes.Buffer
	arr.WriteString("[\n")
	for i, n := range names {
		jl.Write(lines[n])
		jl.WriteString("\n\n")
		if i > 0 {
			arr.WriteString(",\n")
		}
		arr.Write(lines[n])
	}
	arr.WriteString("\n]")
	for _, in := range []string{jl.String(), arr.String()} {
		res := readAll(t, in)
		if len(res.errs) != 0 || len(res.uuids) != len(names) {
			t.Errorf("read %d events, %d errors, want %d: %v", len(res.uuids), len(res.errs), len(names), res.errs)
		}
	}
}

// TestOwnSamples pins what the project's own events decode to, so a clone
// without ../shared still checks the string-encoded fields and principals.
func TestOwnSamples(t *testing.T) {
	ev := sample(t, "okta-events.jsonl:1")
	if !ev.IsInteractiveSignIn() || ev.Debug.Behaviors["New IP"] != "NEGATIVE" || ev.Debug.RiskLevel != "LOW" {
		t.Errorf("sign-in: interactive=%v behaviors=%v risk=%q", ev.IsInteractiveSignIn(), ev.Debug.Behaviors, ev.Debug.RiskLevel)
	}
	if ev.Security.ASNumber != 3352 || ev.Country() != "Spain" || !ev.Client.Geo.HasLatLon {
		t.Errorf("context: %+v %+v", ev.Security, ev.Client.Geo)
	}
	ev = sample(t, "okta-events.jsonl:5")
	if !ev.IsFailure() || !ev.Debug.ThreatSuspected || ev.Debug.RiskLevel != "HIGH" ||
		len(ev.Debug.Tunnels) != 1 || ev.Debug.Tunnels[0].Operator != "DigitalOcean" || !ev.Debug.Tunnels[0].Anonymous {
		t.Errorf("attack sign-in: %+v", ev.Debug)
	}
	if ev.Debug.Behaviors["New Device"] != "POSITIVE" || len(ev.Debug.Behaviors) != 7 {
		t.Errorf("behaviors %v", ev.Debug.Behaviors)
	}
	ev = sample(t, "okta-events.jsonl:25")
	if ev.EventType != "user.account.reset_password" || !ev.IsOktaInternal() || ev.Client.IPAddress != "" {
		t.Errorf("reset by Okta: %s internal=%v ip=%q", ev.EventType, ev.IsOktaInternal(), ev.Client.IPAddress)
	}
	if len(ev.Targets) != 1 || ev.Targets[0].AlternateID != "it.admin@acme.example" {
		t.Errorf("targets %+v", ev.Targets)
	}
}

// TestReaderLinesAcrossBlocks reads JSON Lines that cross the Reader's
// block boundaries, through an input that returns a few bytes at a time
// and one that returns whole blocks, and checks every event's Raw is its
// own line, whole and unchanged after the lines that follow are read.
func TestReaderLinesAcrossBlocks(t *testing.T) {
	var in bytes.Buffer
	var want []string
	for i := 0; in.Len() < 3*readerBlock; i++ {
		pad := strings.Repeat("p", i%5000)
		line := `{"uuid":"u-` + strconv.Itoa(i) + `","published":"2024-01-02T03:04:05Z","eventType":"x","displayMessage":"` + pad + `"}`
		want = append(want, line)
		in.WriteString(line)
		if i%7 == 0 {
			in.WriteString("\r")
		}
		in.WriteString("\n")
	}
	for name, src := range map[string]func() io.Reader{
		"whole":     func() io.Reader { return bytes.NewReader(in.Bytes()) },
		"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in.Bytes())) },
		"half read": func() io.Reader { return iotest.HalfReader(bytes.NewReader(in.Bytes())) },
	} {
		r := NewReader(src())
		var raws [][]byte
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if want := "u-" + strconv.Itoa(len(raws)); e.UUID != want {
				t.Fatalf("%s: event %d uuid %q", name, len(raws), e.UUID)
			}
			raws = append(raws, e.Raw)
		}
		if len(raws) != len(want) {
			t.Fatalf("%s: %d events, want %d", name, len(raws), len(want))
		}
		for i, raw := range raws {
			if string(raw) != want[i] {
				t.Fatalf("%s: event %d Raw changed: %.60q...", name, i, raw)
			}
		}
		// appending to one event's Raw never writes over the next one's
		_ = append(raws[0], "XXXXXXXX"...)
		if string(raws[1]) != want[1] {
			t.Fatalf("%s: appending to Raw overwrote the next event", name)
		}
	}
}
