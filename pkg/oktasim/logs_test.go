package oktasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func addN(t *testing.T, s *Server, prefix string, n int, start time.Time, step time.Duration, eventType string) []string {
	t.Helper()
	var ids []string
	var raws []json.RawMessage
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		ids = append(ids, id)
		raws = append(raws, ev(id, start.Add(time.Duration(i)*step), eventType))
	}
	if err := s.Add(raws...); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestPollingPagesAndInfiniteNext(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 1000})
	ids := addN(t, e.sim, "a", 5, t0.Add(-time.Hour), time.Minute, "user.session.start")
	e.clock.Advance(time.Second)

	since := url.QueryEscape(t0.Add(-24 * time.Hour).Format(time.RFC3339))
	r := e.get(t, "/api/v1/logs?limit=2&sortOrder=ASCENDING&since="+since)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got := r.header.Values("Link"); len(got) != 2 {
		t.Fatalf("want 2 separate Link header lines, got %q", got)
	}
	l := r.links()
	if !strings.HasPrefix(l["self"], e.ts.URL+"/api/v1/logs?") || !strings.HasPrefix(l["next"], e.ts.URL+"/api/v1/logs?") {
		t.Fatalf("links not absolute: %v", l)
	}
	var got []string
	got = append(got, r.uuids(t)...)
	next := l["next"]
	for i := 0; i < 5 && next != ""; i++ {
		r = e.get(t, next)
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		page := r.uuids(t)
		got = append(got, page...)
		if r.links()["next"] == "" {
			t.Fatal("polling page without next link")
		}
		if len(page) == 0 {
			// An empty page returns the same cursor.
			if r.links()["next"] != next {
				t.Fatalf("empty page changed the cursor: %s -> %s", next, r.links()["next"])
			}
			break
		}
		next = r.links()["next"]
	}
	if !equalStrings(got, ids) {
		t.Fatalf("got %v want %v", got, ids)
	}
	// Re-polling the empty page's next link after new (late) events arrive
	// delivers them, out of published order.
	late := ev("late-1", t0.Add(-48*time.Hour), "user.session.start")
	fresh := ev("fresh-1", t0.Add(2*time.Second), "user.session.start")
	e.clock.Advance(time.Second)
	if err := e.sim.Add(fresh, late); err != nil {
		t.Fatal(err)
	}
	r = e.get(t, next)
	if page := r.uuids(t); !equalStrings(page, []string{"fresh-1", "late-1"}) {
		t.Fatalf("after new events got %v", page)
	}
	if nn := r.links()["next"]; nn == "" || nn == next {
		t.Fatalf("non-empty page must advance the cursor: %q", nn)
	}
}

func TestPollingSinceFiltersOnPersistenceTime(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "old", 3, t0.Add(-time.Hour), time.Minute, "x.y")
	e.clock.Advance(10 * time.Minute)
	// A late event: published long ago, persisted now.
	if err := e.sim.Add(ev("late", t0.Add(-5*time.Hour), "x.y")); err != nil {
		t.Fatal(err)
	}
	since := url.QueryEscape(t0.Add(5 * time.Minute).Format(time.RFC3339))
	r := e.get(t, "/api/v1/logs?since="+since)
	if got := r.uuids(t); !equalStrings(got, []string{"late"}) {
		t.Fatalf("polling since must filter on persistence time, got %v", got)
	}
	// The same window as a bounded query filters on published: "late" is
	// outside, the three others too (persisted before but published inside?).
	until := url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339))
	bsince := url.QueryEscape(t0.Add(-6 * time.Hour).Format(time.RFC3339))
	r = e.get(t, "/api/v1/logs?since="+bsince+"&until="+until)
	if got := r.uuids(t); !equalStrings(got, []string{"late", "old-000", "old-001", "old-002"}) {
		t.Fatalf("bounded must be in published order, got %v", got)
	}
	if _, ok := r.links()["next"]; ok {
		t.Fatal("last bounded page must not have a next link")
	}
}

func TestPollingEmptyFirstPageKeepsCursor(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.get(t, "/api/v1/logs?sortOrder=ASCENDING")
	if r.status != 200 || string(r.body) != "[]" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	next := r.links()["next"]
	if next == "" {
		t.Fatal("polling must always carry next")
	}
	r2 := e.get(t, next)
	if r2.links()["next"] != next {
		t.Fatalf("empty page must return the same cursor: %q vs %q", r2.links()["next"], next)
	}
	e.clock.Advance(time.Second)
	if err := e.sim.Add(ev("n1", t0, "a.b")); err != nil {
		t.Fatal(err)
	}
	r3 := e.get(t, next)
	if got := r3.uuids(t); !equalStrings(got, []string{"n1"}) {
		t.Fatalf("got %v", got)
	}
}

func TestBoundedPagingAscDesc(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 1000})
	// Add in shuffled published order: the bounded view sorts by published.
	var raws []json.RawMessage
	order := []int{3, 0, 4, 1, 2, 6, 5}
	for _, i := range order {
		raws = append(raws, ev(fmt.Sprintf("b-%d", i), t0.Add(-time.Duration(10-i)*time.Minute), "t.x"))
	}
	if err := e.sim.Add(raws...); err != nil {
		t.Fatal(err)
	}
	since := url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))
	until := url.QueryEscape(t0.Format(time.RFC3339))
	for _, tc := range []struct {
		sort string
		want []string
	}{
		{"ASCENDING", []string{"b-0", "b-1", "b-2", "b-3", "b-4", "b-5", "b-6"}},
		{"DESCENDING", []string{"b-6", "b-5", "b-4", "b-3", "b-2", "b-1", "b-0"}},
	} {
		u := "/api/v1/logs?limit=3&sortOrder=" + tc.sort + "&since=" + since + "&until=" + until
		var got []string
		pages := 0
		for u != "" {
			r := e.get(t, u)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", tc.sort, r.status, r.body)
			}
			got = append(got, r.uuids(t)...)
			u = r.links()["next"]
			pages++
			if pages > 10 {
				t.Fatal("bounded paging did not end")
			}
		}
		if !equalStrings(got, tc.want) || pages != 3 {
			t.Fatalf("%s: got %v in %d pages", tc.sort, got, pages)
		}
	}
	// until is exclusive, since inclusive.
	r := e.get(t, "/api/v1/logs?since="+url.QueryEscape(t0.Add(-10*time.Minute).Format(time.RFC3339))+
		"&until="+url.QueryEscape(t0.Add(-8*time.Minute).Format(time.RFC3339)))
	if got := r.uuids(t); !equalStrings(got, []string{"b-0", "b-1"}) {
		t.Fatalf("bounds: got %v", got)
	}
	// DESCENDING without until is bounded (until = now): finite.
	r = e.get(t, "/api/v1/logs?sortOrder=DESCENDING&limit=100&since="+since)
	if _, ok := r.links()["next"]; ok || len(r.uuids(t)) != 7 {
		t.Fatalf("DESCENDING without until: next=%v n=%d", r.links(), len(r.uuids(t)))
	}
}

func TestSinceAndAfterTogetherAfterWins(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "s", 4, t0.Add(-time.Hour), time.Minute, "x")
	r := e.get(t, "/api/v1/logs?limit=2")
	next := r.links()["next"]
	nu, _ := url.Parse(next)
	if nu.Query().Get("after") == "" {
		t.Fatalf("next has no after: %s", next)
	}
	// Replace since with a value that would select nothing: after must win.
	q := nu.Query()
	q.Set("since", t0.Add(time.Hour).Format(time.RFC3339))
	nu.RawQuery = q.Encode()
	r = e.get(t, nu.String())
	if got := r.uuids(t); !equalStrings(got, []string{"s-002", "s-003"}) {
		t.Fatalf("after must win over since, got %v", got)
	}
}

func TestRetentionAndSinceLimits(t *testing.T) {
	e := newEnv(t, Options{})
	if err := e.sim.Add(ev("ancient", t0.Add(-100*24*time.Hour), "x"), ev("recent", t0.Add(-80*24*time.Hour), "x")); err != nil {
		t.Fatal(err)
	}
	since := url.QueryEscape(t0.Add(-120 * 24 * time.Hour).Format(time.RFC3339))
	until := url.QueryEscape(t0.Format(time.RFC3339))
	r := e.get(t, "/api/v1/logs?since="+since+"&until="+until)
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	if got := r.uuids(t); !equalStrings(got, []string{"recent"}) {
		t.Fatalf("retention: got %v", got)
	}
	// Polling also hides events older than 90 days.
	r = e.get(t, "/api/v1/logs?since="+since)
	if got := r.uuids(t); !equalStrings(got, []string{"recent"}) {
		t.Fatalf("retention (polling): got %v", got)
	}
	r = e.get(t, "/api/v1/logs?since="+url.QueryEscape(t0.Add(-181*24*time.Hour).Format(time.RFC3339)))
	if r.status != 400 || r.oktaError(t).ErrorCode != CodeInvalidFilter {
		t.Fatalf("since > 180 days: %d %s", r.status, r.body)
	}
}

func TestLogsValidation(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 10000})
	if err := e.sim.Add(ev("v1", t0.Add(-time.Minute), "user.session.start")); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("k", 41)
	cases := []struct {
		name  string
		query string
		code  string
	}{
		{"limit too big", "limit=1001", CodeValidation},
		{"limit negative", "limit=-1", CodeValidation},
		{"limit not a number", "limit=ten", CodeValidation},
		{"bad sortOrder", "sortOrder=UP", CodeValidation},
		{"bad since", "since=foobar", CodeValidation},
		{"bad until", "until=01-01-2017", CodeValidation},
		{"since after until", "since=2026-03-10T11:00:00Z&until=2026-03-10T10:00:00Z", CodeValidation},
		{"since over 180 days", "since=2025-01-01T00:00:00Z", CodeInvalidFilter},
		{"filter published", `filter=published gt "2026-01-01T00:00:00Z"`, CodeInvalidFilter},
		{"filter syntax", `filter=eventType eq`, CodeInvalidFilter},
		{"filter unknown op", `filter=eventType xx "a"`, CodeInvalidFilter},
		{"filter brackets", `filter=target[type eq "User"]`, CodeInvalidFilter},
		{"filter unknown attr", `filter=foo eq "a"`, CodeInvalidFilter},
		{"filter unbalanced", `filter=(eventType eq "a"`, CodeInvalidFilter},
		{"filter co on url", `filter=debugContext.debugData.url co "/api"`, CodeSearchCriteria},
		{"filter co on requestUri", `filter=debugContext.debugData.requestUri co "/api"`, CodeSearchCriteria},
		{"q too many", "q=a b c d e f g h i j k", CodeValidation},
		{"q too long", "q=" + long, CodeValidation},
		{"after malformed", "after=zzz", CodeValidation},
		{"after unknown", "after=1_999", CodeValidation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			r := e.get(t, "/api/v1/logs?"+v.Encode())
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.oktaError(t).ErrorCode; got != tc.code {
				t.Fatalf("errorCode %s want %s: %s", got, tc.code, r.body)
			}
		})
	}
	// Valid edge values succeed.
	for _, q := range []string{"limit=0", "limit=1000", "sortOrder=DESCENDING", "q=" + strings.Repeat("k", 40),
		"q=a b c d e f g h i j", "since=2026-03-09", "until=now&since=2026-03-09T00:00:00Z"} {
		v, _ := url.ParseQuery(q)
		if r := e.get(t, "/api/v1/logs?"+v.Encode()); r.status != 200 {
			t.Errorf("%s: status %d %s", q, r.status, r.body)
		}
	}
}

func TestLimitDefaultAndZero(t *testing.T) {
	e := newEnv(t, Options{})
	addN(t, e.sim, "d", 150, t0.Add(-time.Hour), time.Second, "x")
	r := e.get(t, "/api/v1/logs")
	if n := len(r.uuids(t)); n != 100 {
		t.Fatalf("default limit: %d", n)
	}
	r = e.get(t, "/api/v1/logs?limit=0")
	if n := len(r.uuids(t)); n != 0 || r.links()["next"] == "" {
		t.Fatalf("limit=0: %d events, links %v", n, r.links())
	}
}

func TestFilterAndQ(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 10000})
	mk := func(id, typ, actor, result, ip string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"uuid":%q,"published":"2026-03-10T11:00:00.000Z","eventType":%q,`+
			`"actor":{"alternateId":%q,"type":"User"},"outcome":{"result":%q},"client":{"ipAddress":%q,"zone":"null"},`+
			`"displayMessage":"Verify user with MFA-push","securityContext":{"asNumber":64496,"isProxy":false},`+
			`"target":[{"type":"AppInstance","alternateId":"Salesforce"},{"type":"User","alternateId":"%s"}],`+
			`"debugContext":{"debugData":{"threatSuspected":"false","requestUri":"/idp/idx/authenticators/poll"}}}`,
			id, typ, actor, result, ip, actor))
	}
	if err := e.sim.Add(
		mk("f1", "user.session.start", "alice@example.com", "SUCCESS", "198.51.100.1"),
		mk("f2", "user.session.start", "bob@example.com", "FAILURE", "198.51.100.2"),
		mk("f3", "user.mfa.okta_verify.deny_push", "bob@example.com", "FAILURE", "203.0.113.9"),
		mk("f4", "policy.lifecycle.update", "admin@example.com", "SUCCESS", "192.0.2.4"),
	); err != nil {
		t.Fatal(err)
	}
	since := "&since=" + url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))
	cases := []struct {
		param, expr string
		want        []string
	}{
		{"filter", `eventType eq "user.session.start"`, []string{"f1", "f2"}},
		{"filter", `eventType eq "user.session.start" and outcome.result eq "FAILURE"`, []string{"f2"}},
		{"filter", `eventType eq "policy.lifecycle.update" or eventType eq "user.mfa.okta_verify.deny_push"`, []string{"f3", "f4"}},
		{"filter", `(eventType eq "user.session.start" or eventType eq "policy.lifecycle.update") and outcome.result eq "SUCCESS"`, []string{"f1", "f4"}},
		{"filter", `eventType sw "user." and not (outcome.result eq "SUCCESS")`, []string{"f2", "f3"}},
		{"filter", `actor.alternateId ew "@example.com" and client.ipAddress co "203.0.113"`, []string{"f3"}},
		{"filter", `target.alternateId eq "Salesforce" and actor.alternateId eq "alice@example.com"`, []string{"f1"}},
		{"filter", `securityContext.asNumber eq 64496 and securityContext.isProxy eq false`, []string{"f1", "f2", "f3", "f4"}},
		{"filter", `debugContext.debugData.threatSuspected eq true`, nil},
		{"filter", `securityContext.asNumber gt 70000`, nil},
		{"filter", `client.zone pr`, []string{"f1", "f2", "f3", "f4"}},
		{"filter", `device pr`, nil},
		{"filter", `eventType ne "user.session.start"`, []string{"f3", "f4"}},
		{"q", `bob@example.com`, []string{"f2", "f3"}},
		{"q", `BOB@EXAMPLE.COM FAILURE 203.0.113.9`, []string{"f3"}},
		{"q", `push`, []string{"f1", "f2", "f3", "f4"}}, // hyphenated MFA-push matches its parts
		{"q", `verify`, []string{"f1", "f2", "f3", "f4"}},
		{"q", `salesforce admin@example.com`, []string{"f4"}},
		{"q", `nomatch`, nil},
	}
	for _, tc := range cases {
		for _, mode := range []string{"polling", "bounded"} {
			u := "/api/v1/logs?" + tc.param + "=" + url.QueryEscape(tc.expr) + since
			if mode == "bounded" {
				u += "&until=" + url.QueryEscape(t0.Format(time.RFC3339))
			}
			r := e.get(t, u)
			if r.status != 200 {
				t.Fatalf("%s %s: %d %s", mode, tc.expr, r.status, r.body)
			}
			if got := r.uuids(t); !equalStrings(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("%s %s=%s: got %v want %v", mode, tc.param, tc.expr, got, tc.want)
			}
		}
	}
}

func TestCursorValidationAndExpiry(t *testing.T) {
	e := newEnv(t, Options{Retention: 24 * time.Hour, MaxSinceAge: 48 * time.Hour})
	addN(t, e.sim, "c", 3, t0.Add(-time.Minute), time.Second, "x")
	r := e.get(t, "/api/v1/logs?limit=1")
	next := r.links()["next"]
	if r2 := e.get(t, next); r2.status != 200 {
		t.Fatalf("valid cursor rejected: %d", r2.status)
	}
	// A cursor whose time does not match its sequence is unknown.
	nu, _ := url.Parse(next)
	c, err := parseCursor(nu.Query().Get("after"))
	if err != nil {
		t.Fatal(err)
	}
	q := nu.Query()
	q.Set("after", cursor{ms: c.ms - 1000, seq: c.seq}.String())
	nu.RawQuery = q.Encode()
	if r3 := e.get(t, nu.String()); r3.status != 400 || r3.oktaError(t).ErrorCode != CodeValidation {
		t.Fatalf("tampered cursor: %d %s", r3.status, r3.body)
	}
	// After the retention period the cursor has expired.
	e.clock.Advance(25 * time.Hour)
	r4 := e.get(t, next)
	if r4.status != 400 || !strings.Contains(string(r4.body), "expired") {
		t.Fatalf("expired cursor: %d %s", r4.status, r4.body)
	}
}

func TestAddRejectsBadEvents(t *testing.T) {
	s := New(Options{Clock: newFakeClock(t0).Now})
	err := s.Add(json.RawMessage(`{"uuid":"ok","published":"2026-03-10T11:00:00.000Z"}`),
		json.RawMessage(`not json`),
		json.RawMessage(`{"published":"2026-03-10T11:00:00.000Z"}`),
		json.RawMessage(`{"uuid":"x","published":"2017-09-31T00:00:00.000Z"}`),
		json.RawMessage(`[1,2]`))
	if err == nil {
		t.Fatal("want an error for invalid events")
	}
	for _, want := range []string{"event 1", "event 2", "event 3", "event 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if s.EventCount() != 1 || s.UUIDs()[0] != "ok" {
		t.Fatalf("valid event not stored: %v", s.UUIDs())
	}
	if err := s.AddEvents(map[string]any{"uuid": "m1", "published": "2026-03-10T11:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	if s.EventCount() != 2 {
		t.Fatal("AddEvents did not store")
	}
}

func TestMethodNotAllowedAndNotFound(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(t, http.MethodPost, "/api/v1/logs", "SSWS "+testToken)
	if r.status != 405 || r.oktaError(t).ErrorCode != CodeMethod {
		t.Fatalf("POST logs: %d %s", r.status, r.body)
	}
	r = e.get(t, "/api/v1/users")
	if r.status != 404 || r.oktaError(t).ErrorCode != CodeNotFound {
		t.Fatalf("mgmt without handler: %d %s", r.status, r.body)
	}
	if r.header.Get("X-Rate-Limit-Limit") == "" || r.header.Get("X-Okta-Request-Id") == "" {
		t.Fatalf("mgmt 404 without common headers: %v", r.header)
	}
}

func TestLinkSelfIsRequestURL(t *testing.T) {
	e := newEnv(t, Options{BaseURL: "https://acme.okta.com/"})
	r := e.get(t, "/api/v1/logs?limit=5&sortOrder=ASCENDING")
	l := r.links()
	if l["self"] != "https://acme.okta.com/api/v1/logs?limit=5&sortOrder=ASCENDING" {
		t.Fatalf("self %q", l["self"])
	}
	nu, err := url.Parse(l["next"])
	if err != nil || nu.Host != "acme.okta.com" || nu.Query().Get("limit") != "5" || nu.Query().Get("after") == "" {
		t.Fatalf("next %q", l["next"])
	}
	if _, err := strconv.Atoi(strings.Split(nu.Query().Get("after"), "_")[1]); err != nil {
		t.Fatalf("cursor shape: %q", nu.Query().Get("after"))
	}
}

func TestEventsServedLosslessly(t *testing.T) {
	e := newEnv(t, Options{})
	raw := `{
	  "uuid": "lossless-1", "published": "2026-03-10T11:59:59.123Z", "eventType": "user.session.start",
	  "device": {"id": "guo1", "os_platform": "IOS", "managed": false},
	  "authenticationContext": {"rootSessionId": "idxRoot", "externalSessionId": "102abc"},
	  "target": [{"id": "0oa1", "changeDetails": {"from": {"a": 1}, "to": {"a": 2}}}],
	  "unknownTopLevel": {"nested": [1, "two", null, true]},
	  "debugContext": {"debugData": {"behaviors": "{New IP=POSITIVE, New Device=NEGATIVE}", "logOnlySecurityData": "{\"risk\":{\"level\":\"LOW\"}}"}}
	}`
	if err := e.sim.Add(json.RawMessage(raw)); err != nil {
		t.Fatal(err)
	}
	r := e.get(t, "/api/v1/logs")
	var page []json.RawMessage
	if err := json.Unmarshal(r.body, &page); err != nil || len(page) != 1 {
		t.Fatalf("page: %v %s", err, r.body)
	}
	var want, got any
	_ = json.Unmarshal([]byte(raw), &want)
	_ = json.Unmarshal(page[0], &got)
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("event changed:\n got %s\nwant %s", page[0], raw)
	}
}

// TestPollingExactlyOnceUnderConcurrentAdds follows next links while another
// goroutine keeps adding events (some late): every event arrives exactly once.
func TestPollingExactlyOnceUnderConcurrentAdds(t *testing.T) {
	e := newEnv(t, Options{RateLimitPerMinute: 1 << 20, PrincipalShare: 1})
	const total = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < total; i += 30 {
			var raws []json.RawMessage
			for j := i; j < i+30; j++ {
				pub := t0.Add(time.Duration(j) * time.Second)
				if j%7 == 0 {
					pub = t0.Add(-3 * time.Hour) // late
				}
				raws = append(raws, ev(fmt.Sprintf("cc-%05d", j), pub, "x"))
			}
			e.clock.Advance(time.Millisecond)
			if err := e.sim.Add(raws...); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	seen := map[string]int{}
	next := "/api/v1/logs?limit=97&since=" + url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))
	finished := false
	for polls := 0; polls < 10000; polls++ {
		select {
		case <-done:
			finished = true
		default:
		}
		r := e.get(t, next)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		page := r.uuids(t)
		for _, id := range page {
			seen[id]++
		}
		next = r.links()["next"]
		if finished && len(page) == 0 {
			break
		}
	}
	if len(seen) != total {
		t.Fatalf("saw %d distinct events, want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", id, n)
		}
	}
}

func TestMaxEventsDropsOldest(t *testing.T) {
	e := newEnv(t, Options{MaxEvents: 10})
	addN(t, e.sim, "a", 5, t0.Add(-time.Hour), time.Second, "x")
	r := e.get(t, "/api/v1/logs?limit=5")
	next := r.links()["next"]
	if len(r.uuids(t)) != 5 {
		t.Fatal("first page")
	}
	e.clock.Advance(time.Second)
	addN(t, e.sim, "b", 10, t0.Add(-time.Minute), time.Second, "x") // 15 added, the 5 "a" dropped
	if e.sim.EventCount() != 10 || e.sim.UUIDs()[0] != "b-000" {
		t.Fatalf("retained %v", e.sim.UUIDs())
	}
	r = e.get(t, next) // cursor exactly at the dropped boundary: still valid
	if got := r.uuids(t); r.status != 200 || !equalStrings(got, []string{"b-000", "b-001", "b-002", "b-003", "b-004"}) {
		t.Fatalf("boundary cursor: %d %v", r.status, got)
	}
	stale := r.links()["next"]
	e.clock.Advance(time.Second)
	addN(t, e.sim, "c", 10, t0, time.Second, "x") // drops every "b"
	r = e.get(t, stale)
	if r.status != 400 || !strings.Contains(string(r.body), "no longer retained") {
		t.Fatalf("cursor into dropped events: %d %s", r.status, r.body)
	}
	since := url.QueryEscape(t0.Add(-2 * time.Hour).Format(time.RFC3339))
	r = e.get(t, "/api/v1/logs?limit=100&since="+since+"&until="+url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339)))
	if got := r.uuids(t); len(got) != 10 || got[0] != "c-000" {
		t.Fatalf("bounded after drop: %v", got)
	}
	r = e.get(t, "/api/v1/logs?limit=100&since="+since)
	if got := r.uuids(t); len(got) != 10 || got[0] != "c-000" {
		t.Fatalf("polling after drop: %v", got)
	}
}
