package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// store migrate copies a SQLite store to PostgreSQL, verifies the counts,
// and resumes: run again after the source grew, only the rest is copied.
func TestStoreMigrateResumesAndVerifies(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "acme.db")
	src, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.BindOrg(ctx, "https://acme.okta.example"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Add(-48 * time.Hour)
	evs := storetest.Events("m", 0, 12000, t0, 5*time.Second)
	commitAll := func(from, to int, cp string) {
		t.Helper()
		var as []alert.Alert
		for i := from; i < to; i += 1000 {
			as = append(as, storetest.Alert("al-"+evs[i].UUID, "failed_logins", "high", evs[i].Published, evs[i].Actor.AlternateID, evs[i].UUID))
		}
		if _, err := src.Commit(ctx, store.Batch{Events: evs[from:to], Alerts: as, Checkpoint: &store.Checkpoint{NextURL: cp},
			State: map[string][]byte{"detect/x": []byte(cp)}}); err != nil {
			t.Fatal(err)
		}
	}
	commitAll(0, 7000, "first")
	if err := src.SavePostureReport(ctx, store.PostureRecord{Time: t0, Profile: "baseline", Score: 70, JSON: []byte(`{"a":1}`),
		Checks: []store.PostureCheckStatus{{ID: "okta.mfa", Status: "pass"}}}); err != nil {
		t.Fatal(err)
	}
	if err := src.SaveRegression(ctx, store.Regression{Time: t0, CheckID: "okta.mfa", From: "pass", To: "fail"}); err != nil {
		t.Fatal(err)
	}
	// triage on the source: a resolved alert, a dismissal with its
	// exception (and hits), a removed exception
	tr := time.Now().UTC().Truncate(time.Millisecond)
	al := func(i int) string { return "al-" + evs[i].UUID }
	for _, c := range []store.StatusChange{
		{AlertID: al(0), To: alert.StatusAcknowledged, User: "ana", Note: "looking", Time: tr},
		{AlertID: al(0), To: alert.StatusResolved, User: "ana", Note: "password reset", Time: tr.Add(time.Minute)},
		{AlertID: al(1000), To: alert.StatusDismissed, User: "bo", Role: "Editor", Note: "office vpn", Assignee: "cy", Time: tr,
			Exception: &alert.Exception{Detector: "failed_logins", Scope: alert.ScopeIP, Value: "10.0.0.1", Reason: "office vpn", ExpiresAt: tr.Add(24 * time.Hour)}},
	} {
		if _, err := src.SetAlertStatus(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	x, err := src.AddException(ctx, alert.Exception{Detector: "impossible_travel", Scope: alert.ScopeActor, Value: "ceo@acme.example",
		Reason: "travels", CreatedBy: "bo", CreatedAt: tr, ExpiresAt: tr.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.RemoveException(ctx, x.ID, "cy", tr.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Commit(ctx, store.Batch{ExceptionHits: map[int64]int64{x.ID - 1: 3}, HitsAt: tr.Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// another org on the destination holds the first exception ids, so
	// the copied exceptions get new ids and the history must follow them
	other, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Org: "https://other.okta.example"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := other.AddException(ctx, alert.Exception{Detector: "d", Scope: alert.ScopeIP, Value: "192.0.2.1", Reason: "r",
			CreatedBy: "z", CreatedAt: tr, ExpiresAt: tr.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	other.Close()
	migrate := func() string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(ctx, []string{"store", "migrate", "--from", "sqlite:" + path, "--to", "postgres:" + dsn}, nil, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
		}
		if !strings.Contains(out.String(), "migration verified") {
			t.Fatalf("no verification: %s", out.String())
		}
		return out.String()
	}
	migrate()
	commitAll(7000, 12000, "second") // the source grew (or the first run was interrupted)
	out := migrate()
	if !strings.Contains(out, "resuming after") || !strings.Contains(out, "events 12000 / 12000, alerts 12 / 12, posture reports 1 / 1, regressions 1 / 1") ||
		!strings.Contains(out, "not copied again") || !strings.Contains(out, "triaged alerts 2 / 2, history entries 3 / 3, exceptions 2 / 2") {
		t.Fatalf("second run: %s", out)
	}
	dst, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Org: "https://acme.okta.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	cp, _, _ := dst.LoadCheckpoint(ctx)
	st, _, _ := dst.GetState(ctx, "detect/x")
	rep, _, _ := dst.LatestPostureReport(ctx, "")
	e, ok, _ := dst.GetEvent(ctx, evs[11999].UUID)
	if cp.NextURL != "second" || string(st) != "second" || string(rep.JSON) != `{"a":1}` || !ok || string(e.Raw) != string(evs[11999].Raw) ||
		e.Country != evs[11999].Client.Geo.Country || e.SessionID != evs[11999].Auth.ExternalSessionID {
		t.Fatalf("copied checkpoint %q, state %q, report %s, event %+v", cp.NextURL, st, rep.JSON, e)
	}
	compareTriage(t, src, dst, al(0), al(1000), al(2000))
	var errb bytes.Buffer
	if code := run(ctx, []string{"store", "migrate", "--from", "sqlite:" + path, "--to", "postgres:postgres://u:pw-secret@127.0.0.1:1/x"}, nil, &bytes.Buffer{}, &errb); code == 0 ||
		!strings.Contains(errb.String(), "connection refused") || strings.Contains(errb.String(), "pw-secret") {
		t.Fatalf("refused destination: exit %d, %q", code, errb.String())
	}
}

// compareTriage checks that dst holds src's triage record: every alert's
// state, the history and the exceptions field by field (exception ids are
// dst's own: a history entry must name dst's copy of src's exception).
func compareTriage(t *testing.T, src *store.Store, dst *postgres.Store, ids ...string) {
	t.Helper()
	ctx := context.Background()
	for _, id := range ids {
		a, err1 := src.AlertTriage(ctx, id)
		b, err2 := dst.AlertTriage(ctx, id)
		if err1 != nil || err2 != nil || a.Triage != b.Triage {
			t.Fatalf("alert %s triage: source %+v (%v), destination %+v (%v)", id, a.Triage, err1, b.Triage, err2)
		}
	}
	sx, err1 := src.Exceptions(ctx, store.ExceptionQuery{Limit: 100})
	dx, err2 := dst.Exceptions(ctx, store.ExceptionQuery{Limit: 100})
	if err1 != nil || err2 != nil || len(sx) != 2 || len(dx) != len(sx) {
		t.Fatalf("exceptions: source %+v (%v), destination %+v (%v)", sx, err1, dx, err2)
	}
	idMap := map[int64]int64{}
	for i := range sx {
		a, b := sx[i], dx[i]
		idMap[a.ID] = b.ID
		a.ID, b.ID = 0, 0
		if a != b {
			t.Fatalf("exception copied as %+v, want %+v", b, a)
		}
	}
	sh, err1 := src.AlertHistory(ctx, store.HistoryQuery{Limit: 100})
	dh, err2 := dst.AlertHistory(ctx, store.HistoryQuery{Limit: 100})
	if err1 != nil || err2 != nil || len(sh) != 3 || len(dh) != len(sh) {
		t.Fatalf("history: source %+v (%v), destination %+v (%v)", sh, err1, dh, err2)
	}
	linked := 0
	for i := range sh {
		a, b := sh[i], dh[i]
		if a.ExceptionID != 0 {
			if b.ExceptionID == a.ExceptionID || b.ExceptionID != idMap[a.ExceptionID] {
				t.Fatalf("history entry names exception %d, want the copy %d of %d", b.ExceptionID, idMap[a.ExceptionID], a.ExceptionID)
			}
			linked++
		}
		a.ID, b.ID, a.ExceptionID, b.ExceptionID = 0, 0, 0, 0
		if a != b {
			t.Fatalf("history entry copied as %+v, want %+v", b, a)
		}
	}
	if linked != 1 {
		t.Fatalf("%d history entries name an exception, want 1", linked)
	}
}
