package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	alertpkg "github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// triageDB is one org's handle holding three alerts at T0, +1m, +2m.
// triager is the backend's triage side; a backend without one is reported
// as not supporting triage (skipped with the reason, never silently).
type triager interface {
	store.Backend
	store.Triager
}

func asTriager(t *testing.T, b store.Backend) triager {
	t.Helper()
	tr, ok := b.(triager)
	if !ok {
		t.Skipf("%s does not implement store.Triager: alert triage is not supported on this backend yet", b.Describe())
	}
	return tr
}

func triageDB(t *testing.T, newDB NewDB) (triager, func(org string) triager) {
	t.Helper()
	openB := newDB(t)
	open := func(org string) triager { return asTriager(t, openB(org)) }
	s := open(OrgA)
	t0 := T0()
	commit(t, s, store.Batch{Alerts: []alert{
		Alert("a1", "suspicious_ip", "high", t0, "alice@example.com"),
		Alert("a2", "mfa_fatigue", "medium", t0.Add(time.Minute), "bob@example.com"),
		Alert("a3", "suspicious_ip", "high", t0.Add(2*time.Minute), "carol@example.com"),
	}})
	return s, open
}

func statusesOf(t *testing.T, s triager, want ...string) map[string]string {
	t.Helper()
	as, err := s.QueryTriagedAlerts(context.Background(), store.TriageQuery{Statuses: want, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range as {
		if a.Status != a.Triage.Status || a.Triage.AlertID != a.ID {
			t.Fatalf("alert %s: Status %q, triage %+v", a.ID, a.Status, a.Triage)
		}
		out[a.ID] = a.Status
	}
	return out
}

func testTriage(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, open := triageDB(t, newDB)
	if got := statusesOf(t, s); len(got) != 3 || got["a1"] != "open" {
		t.Fatalf("untriaged alerts must be open: %v", got)
	}
	t1 := T0().Add(time.Hour)
	ch, err := s.SetAlertStatus(ctx, store.StatusChange{AlertID: "a1", To: alertpkg.StatusAcknowledged, Note: "looking", User: "ann", Role: "Editor", Time: t1})
	if err != nil {
		t.Fatal(err)
	}
	if ch.From != "open" || ch.To != "acknowledged" || ch.Assignee != "ann" || ch.ID == 0 {
		t.Fatalf("change %+v", ch)
	}
	if _, err := s.SetAlertStatus(ctx, store.StatusChange{AlertID: "a1", To: alertpkg.StatusResolved, Note: "password reset", User: "ben", Role: "Admin", Time: t1.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetAlertStatus(ctx, store.StatusChange{AlertID: "a2", To: alertpkg.StatusAcknowledged, Assignee: "zoe", User: "ann", Time: t1}); err != nil {
		t.Fatal(err)
	}
	ta, err := s.AlertTriage(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if tr := ta.Triage; tr.Status != "resolved" || tr.Assignee != "ann" || tr.Note != "password reset" || tr.UpdatedBy != "ben" || !tr.UpdatedAt.Equal(t1.Add(time.Minute)) {
		t.Fatalf("triage %+v", tr)
	}
	if _, err := s.AlertTriage(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown alert: %v", err)
	}
	if got := statusesOf(t, s, "open", "acknowledged"); len(got) != 2 || got["a2"] != "acknowledged" || got["a3"] != "open" {
		t.Fatalf("open+acknowledged: %v", got)
	}
	if got := statusesOf(t, s, "resolved"); len(got) != 1 || got["a1"] != "resolved" {
		t.Fatalf("resolved: %v", got)
	}
	if _, err := s.QueryTriagedAlerts(ctx, store.TriageQuery{Statuses: []string{"closed"}, Limit: 10}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("unknown status filter: %v", err)
	}
	if as, err := s.QueryTriagedAlerts(ctx, store.TriageQuery{Severities: []string{"MEDIUM"}, Detector: "mfa_fatigue", Actor: "bob@example.com", Limit: 10}); err != nil || len(as) != 1 || as[0].Triage.Assignee != "zoe" {
		t.Fatalf("filters: %v %+v", err, as)
	}
	// The engine writing the same alert id again never touches its status.
	commit(t, s, store.Batch{Alerts: []alert{Alert("a1", "suspicious_ip", "critical", T0(), "alice@example.com")}})
	if got := statusesOf(t, s); got["a1"] != "resolved" {
		t.Fatalf("status after the alert was written again: %v", got)
	}
	// Alert-rule counts: open alerts only.
	pts, err := s.CountSeries(ctx, store.SeriesQuery{From: T0().Add(-time.Hour), To: T0().Add(time.Hour), Interval: time.Hour,
		Source: store.SourceAlerts, Statuses: []string{"open"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range pts {
		n += p.Count
	}
	if n != 1 {
		t.Fatalf("open alerts counted %d, want 1 (a3)", n)
	}
	// Another handle on the same org (a restart, a replaced instance)
	// reads the whole history, newest first.
	h, err := open(OrgA).AlertHistory(ctx, store.HistoryQuery{AlertID: "a1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].To != "resolved" || h[0].From != "acknowledged" || h[0].User != "ben" || h[0].Role != "Admin" || h[1].Note != "looking" {
		t.Fatalf("history from another handle: %+v", h)
	}
	if all, _ := s.AlertHistory(ctx, store.HistoryQuery{From: t1, To: t1, Limit: 10}); len(all) != 2 {
		t.Fatalf("history at t1: %d entries, want 2", len(all))
	}
}

func testTriageBadInput(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := triageDB(t, newDB)
	at := T0().Add(time.Hour)
	okX := &alertpkg.Exception{Detector: "suspicious_ip", Scope: alertpkg.ScopeIP, Value: "203.0.113.9", Reason: "VPN", ExpiresAt: at.Add(time.Hour)}
	cases := []struct {
		name string
		c    store.StatusChange
		want error
		msg  string
	}{
		{"unknown alert", store.StatusChange{AlertID: "nope", To: "resolved", User: "u", Time: at}, store.ErrNotFound, `no alert with id "nope"`},
		{"unknown alert with exception", store.StatusChange{AlertID: "nope", To: "dismissed", User: "u", Time: at, Exception: okX}, store.ErrNotFound, "no alert"},
		{"invalid state", store.StatusChange{AlertID: "a1", To: "closed", User: "u", Time: at}, store.ErrInvalidInput, `status "closed" is unknown`},
		{"oversized note", store.StatusChange{AlertID: "a1", To: "resolved", Note: strings.Repeat("é", store.MaxNoteLen+1), User: "u", Time: at}, store.ErrInvalidInput, "note is 2001 characters"},
		{"no user", store.StatusChange{AlertID: "a1", To: "resolved", Time: at}, store.ErrInvalidInput, "acting user"},
		{"exception without scope", store.StatusChange{AlertID: "a1", To: "dismissed", User: "u", Time: at, Exception: &alertpkg.Exception{Detector: "suspicious_ip", Reason: "r", ExpiresAt: at.Add(time.Hour)}}, store.ErrInvalidInput, "no scope"},
		{"exception with unknown scope", store.StatusChange{AlertID: "a1", To: "dismissed", User: "u", Time: at, Exception: &alertpkg.Exception{Detector: "suspicious_ip", Scope: "country", Value: "NG", Reason: "r", ExpiresAt: at.Add(time.Hour)}}, store.ErrInvalidInput, "unknown"},
		{"exception already expired", store.StatusChange{AlertID: "a1", To: "dismissed", User: "u", Time: at, Exception: &alertpkg.Exception{Detector: "suspicious_ip", Scope: "ip", Value: "1.2.3.4", Reason: "r", ExpiresAt: at}}, store.ErrInvalidInput, "expire after"},
		{"exception with a resolve", store.StatusChange{AlertID: "a1", To: "resolved", User: "u", Time: at, Exception: okX}, store.ErrInvalidInput, "only come with a dismissal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.SetAlertStatus(ctx, c.c)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
	if _, err := s.AddException(ctx, alertpkg.Exception{Detector: "x", Reason: "r", CreatedBy: "u", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}); !errors.Is(err, store.ErrInvalidInput) {
		t.Fatalf("AddException without scope: %v", err)
	}
	h, _ := s.AlertHistory(ctx, store.HistoryQuery{Limit: 10})
	xs, _ := s.Exceptions(ctx, store.ExceptionQuery{Limit: 10})
	if got := statusesOf(t, s, "open"); len(h) != 0 || len(xs) != 0 || len(got) != 3 {
		t.Fatalf("rejected input changed the store: %d history entries, %d exceptions, open %v", len(h), len(xs), got)
	}
}

func testExceptions(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, open := triageDB(t, newDB)
	at := T0().Add(time.Hour)
	v0, err := s.ExceptionsVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.SetAlertStatus(ctx, store.StatusChange{AlertID: "a1", To: alertpkg.StatusDismissed, Note: "corporate VPN", User: "ann", Time: at,
		Exception: &alertpkg.Exception{Detector: "suspicious_ip", Scope: alertpkg.ScopeSubnet, Value: "203.0.113.0/24", Reason: "VPN egress", ExpiresAt: at.Add(30 * 24 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if ch.ExceptionID == 0 {
		t.Fatal("dismissal did not report its exception")
	}
	v1, _ := s.ExceptionsVersion(ctx)
	if v1 == v0 {
		t.Fatal("version unchanged after an add")
	}
	x2, err := s.AddException(ctx, alertpkg.Exception{Detector: "mfa_fatigue", Scope: alertpkg.ScopeActor, Value: "bob@example.com", Reason: "test account", CreatedBy: "ben", CreatedAt: at, ExpiresAt: at.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	active, err := s.Exceptions(ctx, store.ExceptionQuery{ActiveAt: at.Add(2 * time.Minute), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0].ID != ch.ExceptionID || active[0].AlertID != "a1" || active[0].CreatedBy != "ann" || active[0].Value != "203.0.113.0/24" {
		t.Fatalf("active after x2 expired: %+v", active)
	}
	// hits come with the page whose alerts they suppressed, in its
	// transaction: a page that fails adds none
	hits := map[int64]int64{ch.ExceptionID: 2}
	if _, err := s.Commit(ctx, store.Batch{ExceptionHits: map[int64]int64{ch.ExceptionID: 5}, HitsAt: at.Add(2 * time.Minute),
		State: map[string][]byte{"": []byte("x")}}); !errors.Is(err, store.ErrInvalidBatch) {
		t.Fatalf("a page with an empty state key: %v, want ErrInvalidBatch", err)
	}
	commit(t, s, store.Batch{ExceptionHits: hits, HitsAt: at.Add(time.Minute)})
	x, err := s.RemoveException(ctx, ch.ExceptionID, "ben", at.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if x.Hits != 2 || !x.LastHit.Equal(at.Add(time.Minute)) || x.RemovedBy != "ben" || x.State(at.Add(4*time.Minute)) != "removed" {
		t.Fatalf("removed exception %+v", x)
	}
	if v2, _ := s.ExceptionsVersion(ctx); v2 == v1 {
		t.Fatal("version unchanged after a removal")
	}
	if _, err := s.RemoveException(ctx, ch.ExceptionID, "ben", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second removal: %v", err)
	}
	if _, err := s.RemoveException(ctx, 999999, "ben", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown removal: %v", err)
	}
	if _, err := s.Exception(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown exception: %v", err)
	}
	all, _ := s.Exceptions(ctx, store.ExceptionQuery{Limit: 10})
	if len(all) != 2 || all[0].ID != x2.ID {
		t.Fatalf("every exception, newest first: %+v", all)
	}
	// Another org sees none of it.
	b := open(OrgB)
	if xs, err := b.Exceptions(ctx, store.ExceptionQuery{Limit: 10}); err != nil || len(xs) != 0 {
		t.Fatalf("org B sees org A's exceptions: %v %+v", err, xs)
	}
	if h, err := b.AlertHistory(ctx, store.HistoryQuery{Limit: 10}); err != nil || len(h) != 0 {
		t.Fatalf("org B sees org A's history: %v %+v", err, h)
	}
	if _, err := b.RemoveException(ctx, x2.ID, "eve", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org B removed org A's exception: %v", err)
	}
	commit(t, b, store.Batch{ExceptionHits: map[int64]int64{x2.ID: 7}, HitsAt: at})
	if x, err := s.Exception(ctx, x2.ID); err != nil || x.Hits != 0 {
		t.Fatalf("org B's page counted hits on org A's exception: %v %+v", err, x)
	}
}

// testTriageConcurrent: analysts on several instances (two handles on one
// org) change one alert's status at the same time. No change is lost and
// the history is one chain: each change starts from the status the
// previous one left, and the alert ends in the last change's status.
func testTriageConcurrent(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, open := triageDB(t, newDB)
	other := open(OrgA)
	const perHandle = 15
	at := T0().Add(time.Hour)
	statuses := []string{alertpkg.StatusAcknowledged, alertpkg.StatusResolved, alertpkg.StatusOpen}
	errs := make(chan error, 2*perHandle)
	for h, st := range []triager{s, other} {
		go func() {
			for i := 0; i < perHandle; i++ {
				_, err := st.SetAlertStatus(ctx, store.StatusChange{AlertID: "a1", To: statuses[(i+h)%len(statuses)],
					Note: fmt.Sprintf("handle %d change %d", h, i), User: fmt.Sprintf("analyst%d", h), Time: at})
				errs <- err
			}
		}()
	}
	for i := 0; i < 2*perHandle; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent SetAlertStatus: %v", err)
		}
	}
	h, err := s.AlertHistory(ctx, store.HistoryQuery{AlertID: "a1", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2*perHandle {
		t.Fatalf("history has %d changes, want %d (changes lost)", len(h), 2*perHandle)
	}
	// newest first: each change's From is the To of the one before it
	for i := 0; i+1 < len(h); i++ {
		if h[i].From != h[i+1].To {
			t.Fatalf("lost update: change %d (%s, %q) starts from %s but the change before it (%s, %q) left %s",
				h[i].ID, h[i].User, h[i].Note, h[i].From, h[i+1].User, h[i+1].Note, h[i+1].To)
		}
	}
	if first := h[len(h)-1]; first.From != alertpkg.StatusOpen {
		t.Fatalf("first change starts from %s, want open", first.From)
	}
	ta, err := other.AlertTriage(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if ta.Triage.Status != h[0].To || ta.Triage.Note != h[0].Note {
		t.Fatalf("alert's triage %+v, last change %+v", ta.Triage, h[0])
	}
}
