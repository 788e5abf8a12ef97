package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// alertsFixture writes a config whose store holds two alerts.
func alertsFixture(t *testing.T) (cfg, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	cfg = writeConfig(t, dir, "https://example.okta.com", "00unused-token-123456", "")
	dbPath = filepath.Join(dir, "data", "og.db")
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	fixtureAlerts(t, st)
	st.Close()
	return cfg, dbPath
}

// alertsFixturePG writes a config whose PostgreSQL store (a fresh schema
// on the test server) holds the same two alerts.
func alertsFixturePG(t *testing.T) string {
	t.Helper()
	dsn := pgtest.Schema(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "https://example.okta.com", "00unused-token-123456", "")
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body = []byte(strings.Replace(string(body), "  path: data/og.db\n", "  driver: postgres\n  dsn: \""+dsn+"\"\n", 1))
	if err := os.WriteFile(cfg, body, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Org: "https://example.okta.com"})
	if err != nil {
		t.Fatal(err)
	}
	fixtureAlerts(t, st)
	st.Close()
	return cfg
}

func fixtureAlerts(t *testing.T, st store.Backend) {
	t.Helper()
	now := time.Now().UTC().Add(-time.Hour)
	if _, err := st.Commit(context.Background(), store.Batch{Alerts: []alert.Alert{
		{ID: "al1", Detector: "suspicious_ip", Severity: "high", Time: now, Actor: "alice@example.com", IP: "203.0.113.7", Title: "t1", Evidence: map[string]any{}},
		{ID: "al2", Detector: "mfa_fatigue", Severity: "medium", Time: now.Add(time.Minute), Actor: "bob@example.com", Title: "t2", Evidence: map[string]any{}},
	}}); err != nil {
		t.Fatal(err)
	}
}

func TestAlertsCommand(t *testing.T) {
	cfg, _ := alertsFixture(t)
	testAlertsCommand(t, cfg)
}

// TestAlertsCommandPostgres: the same commands on a PostgreSQL store.
func TestAlertsCommandPostgres(t *testing.T) { testAlertsCommand(t, alertsFixturePG(t)) }

func testAlertsCommand(t *testing.T, cfg string) {
	code, out, errOut := runCmd(t, nil, "alerts", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, "al1") || !strings.Contains(out, "al2") || !strings.Contains(out, "STATUS") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, nil, "alerts", "ack", "al1", "--config", cfg, "--note", "on it", "--user", "ann")
	var ch alert.Change
	if code != 0 || json.Unmarshal([]byte(out), &ch) != nil || ch.From != "open" || ch.To != "acknowledged" || ch.User != "ann" || ch.Assignee != "ann" {
		t.Fatalf("ack: %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCmd(t, nil, "alerts", "dismiss", "--config", cfg, "--user", "ann", "--exception", "subnet", "--reason", "office VPN", "--expires", "7d", "al1")
	if code != 0 || json.Unmarshal([]byte(out), &ch) != nil || ch.To != "dismissed" || ch.ExceptionID == 0 {
		t.Fatalf("dismiss with exception: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, nil, "alerts", "exceptions", "--config", cfg)
	if code != 0 || !strings.Contains(out, "203.0.113.0/24") || !strings.Contains(out, "active") || !strings.Contains(out, "office VPN") {
		t.Fatalf("exceptions: %d %q", code, out)
	}
	// Default listing is open + acknowledged: the dismissed alert is gone.
	code, out, _ = runCmd(t, nil, "alerts", "list", "--config", cfg, "--format", "json")
	if code != 0 || strings.Contains(out, `"al1"`) || !strings.Contains(out, `"al2"`) {
		t.Fatalf("list after dismissal: %d %q", code, out)
	}
	code, out, _ = runCmd(t, nil, "alerts", "list", "--config", cfg, "--status", "dismissed")
	if code != 0 || !strings.Contains(out, "al1") || strings.Contains(out, "al2") {
		t.Fatalf("list dismissed: %d %q", code, out)
	}
	code, out, _ = runCmd(t, nil, "alerts", "show", "al1", "--config", cfg)
	var shown struct {
		Triage  alert.Triage
		History []alert.Change
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.Triage.Status != "dismissed" || len(shown.History) != 2 || shown.History[1].Note != "on it" {
		t.Fatalf("show: %d %q", code, out)
	}
	code, out, errOut = runCmd(t, nil, "alerts", "unexcept", "1", "--config", cfg, "--user", "ben")
	if code != 0 || !strings.Contains(out, `"removedBy":"ben"`) {
		t.Fatalf("unexcept: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, nil, "alerts", "exceptions", "--config", cfg)
	if code != 0 || strings.Contains(out, "203.0.113.0/24") {
		t.Fatalf("removed exception still listed as in force: %q", out)
	}
	code, out, _ = runCmd(t, nil, "alerts", "exceptions", "--config", cfg, "--all")
	if code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("exceptions --all: %q", out)
	}
	code, out, errOut = runCmd(t, nil, "alerts", "except", "--config", cfg, "--detector", "mfa_fatigue", "--scope", "actor", "--value", "Bob@Example.com", "--reason", "load test account")
	if code != 0 || !strings.Contains(out, `"value":"bob@example.com"`) {
		t.Fatalf("except: %d %q %q", code, out, errOut)
	}
}

func TestAlertsCommandBadInput(t *testing.T) {
	cfg, dbPath := alertsFixture(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"alerts"}, 2, "subcommand is required"},
		{[]string{"alerts", "close", "al1", "--config", cfg}, 2, "unknown alerts subcommand"},
		{[]string{"alerts", "ack", "--config", cfg}, 2, "needs an id"},
		{[]string{"alerts", "ack", "nope", "--config", cfg}, 1, `no alert with id "nope"`},
		{[]string{"alerts", "resolve", "al1", "--config", cfg, "--note", strings.Repeat("x", 2001)}, 2, "note is 2001 characters"},
		{[]string{"alerts", "dismiss", "al1", "--config", cfg, "--reason", "r"}, 2, "need --exception"},
		{[]string{"alerts", "dismiss", "al1", "--config", cfg, "--exception", "app", "--reason", "r"}, 2, "no app"},
		{[]string{"alerts", "dismiss", "al1", "--config", cfg, "--exception", "ip"}, 2, "no reason"},
		{[]string{"alerts", "list", "--config", cfg, "--status", "closed"}, 2, `--status "closed" is unknown`},
		{[]string{"alerts", "except", "--config", cfg, "--detector", "mfa_fatigue", "--reason", "r"}, 2, "no scope"},
		{[]string{"alerts", "unexcept", "abc", "--config", cfg}, 2, "not a positive integer"},
		{[]string{"alerts", "unexcept", "99", "--config", cfg}, 1, "no exception 99"},
		{[]string{"alerts", "list"}, 2, "--config FILE is required"},
	}
	for _, c := range cases {
		code, out, errOut := runCmd(t, nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want %d and %q", c.args[1:], code, errOut, out, c.code, c.want)
		}
	}
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, _ := st.AlertHistory(context.Background(), store.HistoryQuery{Limit: 10})
	xs, _ := st.Exceptions(context.Background(), store.ExceptionQuery{Limit: 10})
	if len(h) != 0 || len(xs) != 0 {
		t.Fatalf("rejected commands changed the store: %d history entries, %d exceptions", len(h), len(xs))
	}
}
