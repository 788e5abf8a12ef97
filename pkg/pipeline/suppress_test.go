package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// threatSignIn is a successful sign-in Okta ThreatInsight flagged: the
// suspicious_ip detector alerts on it at once (no learning period).
func threatSignIn(n int, login, ip string, at time.Time) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"uuid":"threat-%d-%d","published":%q,"eventType":"user.session.start","version":"0",
		"actor":{"id":"00u%d","type":"User","alternateId":%q},"outcome":{"result":"SUCCESS"},
		"client":{"ipAddress":%q,"geographicalContext":{"country":"Germany","city":"Berlin","geolocation":{"lat":52.5,"lon":13.4}}},
		"securityContext":{"asNumber":64500},
		"debugContext":{"debugData":{"threatSuspected":"true"}}}`, n, at.UnixNano(), at.UTC().Format(time.RFC3339Nano), n, login, ip))
}

// TestExceptionSuppressesLiveAndLapses runs a live pipeline: an alert,
// then an exception added to the store while it runs suppresses the next
// matching alert (counted), a removed one stops doing so, and an expired
// one lapses on its own — all without a restart.
func TestExceptionSuppressesLiveAndLapses(t *testing.T) {
	sim, url := startSim(t, oktasim.Options{})
	dir := t.TempDir()
	// The pipeline's clock runs with the wall clock plus an offset the test
	// moves forward: the exception lapses without waiting for it.
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	p, err := New(testSettings(t, url, dir), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OktaOptions: fastOkta(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st, err := store.AsTriager(p.Store())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	const ip = "100.64.9.9"
	n := 0
	alertsOf := func(login string) int {
		as, err := p.Store().QueryAlerts(context.Background(), store.AlertQuery{Detector: "suspicious_ip", Actor: login, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(as)
	}
	// Event times step 10 minutes from two hours ago; a quiet event 3
	// minutes after each sign-in moves the engine's 2-minute reorder
	// window past it, so the sign-in is detected in the same page.
	base := time.Now().Add(-2 * time.Hour)
	signIn := func(login string) {
		n++
		at := base.Add(time.Duration(n) * 10 * time.Minute)
		tick := fmt.Sprintf(`{"uuid":"tick-%d","published":%q,"eventType":"user.session.end","version":"0","actor":{"id":"00utick","type":"User","alternateId":"ticker@example.com"},"outcome":{"result":"SUCCESS"},"client":{"ipAddress":"192.0.2.250"}}`,
			n, at.Add(3*time.Minute).UTC().Format(time.RFC3339Nano))
		if err := sim.Add(threatSignIn(n, login, ip, at), json.RawMessage(tick)); err != nil {
			t.Fatal(err)
		}
		want := sim.EventCount()
		testwait.Until(t, 30*time.Second, login+"'s sign-in stored", func() bool { return p.Status().EventsIngested >= int64(want) })
	}

	signIn("a@example.com")
	if alertsOf("a@example.com") != 1 {
		t.Fatal("the flagged sign-in raised no suspicious_ip alert")
	}
	now := time.Now()
	x, err := st.AddException(context.Background(), alert.Exception{Detector: "suspicious_ip", Scope: alert.ScopeSubnet, Value: "100.64.9.0/24",
		Reason: "test egress", CreatedBy: "ann", CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	signIn("b@example.com")
	if alertsOf("b@example.com") != 0 {
		t.Fatal("an alert the exception covers was stored")
	}
	if got := p.Status().Suppressed; got != 1 {
		t.Fatalf("suppressed %d, want 1", got)
	}
	if got, _ := st.Exception(context.Background(), x.ID); got.Hits != 1 || got.LastHit.IsZero() {
		t.Fatalf("exception hits %d, last %v", got.Hits, got.LastHit)
	}

	// Removed: the next match alerts again.
	if _, err := st.RemoveException(context.Background(), x.ID, "ann", time.Now()); err != nil {
		t.Fatal(err)
	}
	signIn("c@example.com")
	if alertsOf("c@example.com") != 1 {
		t.Fatal("a removed exception still suppressed")
	}

	// An exception of an hour suppresses, then lapses when the hour has
	// passed on the pipeline's clock, without anyone touching it.
	now = clock()
	expires := now.Add(time.Hour)
	if _, err := st.AddException(context.Background(), alert.Exception{Detector: "suspicious_ip", Scope: alert.ScopeIP, Value: ip,
		Reason: "short", CreatedBy: "ann", CreatedAt: now, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	signIn("d@example.com")
	if alertsOf("d@example.com") != 0 || p.Status().Suppressed != 2 {
		t.Fatalf("short exception did not suppress: %+v", p.Status())
	}
	ahead.Add(int64(time.Hour + time.Second)) // the hour passes
	signIn("e@example.com")
	if alertsOf("e@example.com") != 1 {
		t.Fatal("the alert did not come back after the exception expired")
	}
	if p.Status().Suppressed != 2 {
		t.Fatalf("suppressed %d after the lapse, want 2", p.Status().Suppressed)
	}
}

func TestSuppressorSubjectFromEvent(t *testing.T) {
	s := newSuppressor(nil, nil)
	s.remember([]event.Event{{UUID: "e1", Security: event.SecurityContext{ASNumber: 64500},
		Targets: []event.Target{{Type: "AppInstance", ID: "0oa1", DisplayName: "Salesforce"}}}})
	sub := s.subject(&alert.Alert{Detector: "d", Actor: "a", IP: "1.2.3.4", EventIDs: []string{"other", "e1"}})
	if sub.ASN != 64500 || len(sub.Apps) != 3 || sub.Apps[2] != "Salesforce" {
		t.Fatalf("subject %+v", sub)
	}
	sub = s.subject(&alert.Alert{Detector: "d", EventIDs: []string{"gone"}, Evidence: map[string]any{"asn": 13335.0}})
	if sub.ASN != 13335 {
		t.Fatalf("evidence asn: %+v", sub)
	}
	// The ring forgets the oldest events beyond its size.
	for i := 0; i < recentEvents; i++ {
		s.remember([]event.Event{{UUID: fmt.Sprint("x", i), Security: event.SecurityContext{ASNumber: 1}}})
	}
	if _, ok := s.extra["e1"]; ok || len(s.extra) != recentEvents {
		t.Fatalf("ring kept %d entries (e1 still there: %v)", len(s.extra), ok)
	}
}
