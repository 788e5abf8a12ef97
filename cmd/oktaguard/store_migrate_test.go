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
	if !strings.Contains(out, "resuming after") || !strings.Contains(out, "events 12000 / 12000, alerts 12 / 12, posture reports 1 / 1, regressions 1 / 1") {
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
	var errb bytes.Buffer
	if code := run(ctx, []string{"store", "migrate", "--from", "sqlite:" + path, "--to", "postgres:postgres://u:pw-secret@127.0.0.1:1/x"}, nil, &bytes.Buffer{}, &errb); code == 0 ||
		!strings.Contains(errb.String(), "connection refused") || strings.Contains(errb.String(), "pw-secret") {
		t.Fatalf("refused destination: exit %d, %q", code, errb.String())
	}
}
