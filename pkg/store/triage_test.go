package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

func triageStore(t *testing.T) (*Store, string) {
	t.Helper()
	s, path := openTemp(t)
	mustCommit(t, s, Batch{Alerts: []alert.Alert{
		mkAlert("a1", "suspicious_ip", "high", t0, "alice@example.com"),
		mkAlert("a2", "mfa_fatigue", "medium", t0.Add(time.Minute), "bob@example.com"),
		mkAlert("a3", "suspicious_ip", "high", t0.Add(2*time.Minute), "carol@example.com"),
	}})
	return s, path
}

func statuses(t *testing.T, s *Store, want ...string) map[string]string {
	t.Helper()
	as, err := s.QueryTriagedAlerts(context.Background(), TriageQuery{Statuses: want, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range as {
		if a.Status != a.Triage.Status {
			t.Fatalf("alert %s: Status %q but triage %q", a.ID, a.Status, a.Triage.Status)
		}
		out[a.ID] = a.Status
	}
	return out
}

func TestTriageStatusHistoryAndFilters(t *testing.T) {
	ctx := context.Background()
	s, path := triageStore(t)
	if got := statuses(t, s); got["a1"] != "open" || got["a2"] != "open" || len(got) != 3 {
		t.Fatalf("untriaged alerts must be open: %v", got)
	}
	t1 := t0.Add(time.Hour)
	ch, err := s.SetAlertStatus(ctx, StatusChange{AlertID: "a1", To: alert.StatusAcknowledged, Note: "looking", User: "ann", Role: "Editor", Time: t1})
	if err != nil {
		t.Fatal(err)
	}
	if ch.From != "open" || ch.To != "acknowledged" || ch.Assignee != "ann" || ch.ID == 0 {
		t.Fatalf("change %+v", ch)
	}
	if _, err := s.SetAlertStatus(ctx, StatusChange{AlertID: "a1", To: alert.StatusResolved, Note: "password reset", User: "ben", Role: "Admin", Time: t1.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetAlertStatus(ctx, StatusChange{AlertID: "a2", To: alert.StatusAcknowledged, Assignee: "zoe", User: "ann", Time: t1}); err != nil {
		t.Fatal(err)
	}
	ta, err := s.AlertTriage(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if ta.Triage.Status != "resolved" || ta.Triage.Assignee != "ann" || ta.Triage.Note != "password reset" || ta.Triage.UpdatedBy != "ben" || !ta.Triage.UpdatedAt.Equal(t1.Add(time.Minute)) {
		t.Fatalf("triage %+v", ta.Triage)
	}
	if got := statuses(t, s, "open", "acknowledged"); len(got) != 2 || got["a2"] != "acknowledged" || got["a3"] != "open" {
		t.Fatalf("open+acknowledged: %v", got)
	}
	if got := statuses(t, s, "resolved"); len(got) != 1 || got["a1"] != "resolved" {
		t.Fatalf("resolved: %v", got)
	}
	if _, err := s.QueryTriagedAlerts(ctx, TriageQuery{Statuses: []string{"closed"}, Limit: 10}); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("unknown status filter: %v", err)
	}
	// The engine re-writing the same alert id never touches its status.
	again := mkAlert("a1", "suspicious_ip", "critical", t0, "alice@example.com")
	mustCommit(t, s, Batch{Alerts: []alert.Alert{again}})
	if got := statuses(t, s); got["a1"] != "resolved" {
		t.Fatalf("status after the alert was written again: %v", got)
	}
	// Alert-rule counts: open alerts only.
	pts, err := s.CountSeries(ctx, SeriesQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Interval: 24 * time.Hour, Source: SourceAlerts, Statuses: []string{"open"}, Limit: 10})
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
	// History survives a restart, newest first.
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	h, err := s2.AlertHistory(ctx, HistoryQuery{AlertID: "a1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].To != "resolved" || h[0].From != "acknowledged" || h[0].User != "ben" || h[0].Role != "Admin" || h[1].Note != "looking" {
		t.Fatalf("history after reopen: %+v", h)
	}
	all, _ := s2.AlertHistory(ctx, HistoryQuery{Limit: 10})
	if len(all) != 3 {
		t.Fatalf("all history: %d entries", len(all))
	}
}

func TestTriageBadInputChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, _ := triageStore(t)
	at := t0.Add(time.Hour)
	okX := &alert.Exception{Detector: "suspicious_ip", Scope: alert.ScopeIP, Value: "203.0.113.9", Reason: "VPN", ExpiresAt: at.Add(time.Hour)}
	cases := []struct {
		name string
		c    StatusChange
		want error
		msg  string
	}{
		{"unknown alert", StatusChange{AlertID: "nope", To: "resolved", User: "u", Time: at}, ErrNotFound, `no alert with id "nope"`},
		{"unknown alert with exception", StatusChange{AlertID: "nope", To: "dismissed", User: "u", Time: at, Exception: okX}, ErrNotFound, "no alert"},
		{"invalid state", StatusChange{AlertID: "a1", To: "closed", User: "u", Time: at}, ErrInvalidInput, `status "closed" is unknown`},
		{"oversized note", StatusChange{AlertID: "a1", To: "resolved", Note: strings.Repeat("é", MaxNoteLen+1), User: "u", Time: at}, ErrInvalidInput, "note is 2001 characters"},
		{"no user", StatusChange{AlertID: "a1", To: "resolved", Time: at}, ErrInvalidInput, "acting user"},
		{"exception without scope", StatusChange{AlertID: "a1", To: "dismissed", User: "u", Time: at, Exception: &alert.Exception{Detector: "suspicious_ip", Reason: "r", ExpiresAt: at.Add(time.Hour)}}, ErrInvalidInput, "no scope"},
		{"exception with unknown scope", StatusChange{AlertID: "a1", To: "dismissed", User: "u", Time: at, Exception: &alert.Exception{Detector: "suspicious_ip", Scope: "country", Value: "NG", Reason: "r", ExpiresAt: at.Add(time.Hour)}}, ErrInvalidInput, "unknown"},
		{"exception already expired", StatusChange{AlertID: "a1", To: "dismissed", User: "u", Time: at, Exception: &alert.Exception{Detector: "suspicious_ip", Scope: "ip", Value: "1.2.3.4", Reason: "r", ExpiresAt: at}}, ErrInvalidInput, "expire after"},
		{"exception with a resolve", StatusChange{AlertID: "a1", To: "resolved", User: "u", Time: at, Exception: okX}, ErrInvalidInput, "only come with a dismissal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.SetAlertStatus(ctx, c.c)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want %v containing %q", err, c.want, c.msg)
			}
		})
	}
	for _, tbl := range []string{"alert_triage", "alert_history", "alert_exceptions"} {
		if n := countRows(t, s, tbl); n != 0 {
			t.Errorf("%s has %d rows after rejected input", tbl, n)
		}
	}
}

func TestExceptionsLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := triageStore(t)
	at := t0.Add(time.Hour)
	v0, err := s.ExceptionsVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.SetAlertStatus(ctx, StatusChange{AlertID: "a1", To: alert.StatusDismissed, Note: "corporate VPN", User: "ann", Time: at,
		Exception: &alert.Exception{Detector: "suspicious_ip", Scope: alert.ScopeSubnet, Value: "203.0.113.0/24", Reason: "VPN egress", ExpiresAt: at.Add(30 * 24 * time.Hour)}})
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
	x2, err := s.AddException(ctx, alert.Exception{Detector: "mfa_fatigue", Scope: alert.ScopeActor, Value: "bob@example.com", Reason: "test account", CreatedBy: "ben", CreatedAt: at, ExpiresAt: at.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	active, err := s.Exceptions(ctx, ExceptionQuery{ActiveAt: at.Add(2 * time.Minute), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 1 || active[0].ID != ch.ExceptionID || active[0].AlertID != "a1" || active[0].CreatedBy != "ann" {
		t.Fatalf("active after x2 expired: %+v", active)
	}
	if err := s.RecordExceptionHits(ctx, map[int64]int64{ch.ExceptionID: 2}, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	x, err := s.RemoveException(ctx, ch.ExceptionID, "ben", at.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if x.Hits != 2 || x.RemovedBy != "ben" || x.State(at.Add(4*time.Minute)) != "removed" {
		t.Fatalf("removed exception %+v", x)
	}
	if v2, _ := s.ExceptionsVersion(ctx); v2 == v1 {
		t.Fatal("version unchanged after a removal")
	}
	if _, err := s.RemoveException(ctx, ch.ExceptionID, "ben", at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second removal: %v", err)
	}
	if _, err := s.RemoveException(ctx, 999, "ben", at); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown removal: %v", err)
	}
	all, _ := s.Exceptions(ctx, ExceptionQuery{Limit: 10})
	if len(all) != 2 || all[0].ID != x2.ID {
		t.Fatalf("every exception, newest first: %+v", all)
	}
}
