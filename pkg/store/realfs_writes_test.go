//go:build linux

package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/alert"
)

// refusedWrites (a child job) opens the store at path, commits events and
// an alert, takes the lease and adds an exception, then under
// RLIMIT_FSIZE = 1 byte (every write of the file or its WAL fails with
// EFBIG) tries each lease and triage write, reporting error and class; with
// the limit lifted, the status change is made again and must succeed.
func refusedWrites(ctx context.Context, path string, r *childReport) error {
	st, err := Open(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	from := time.Now().Add(-2 * time.Hour)
	if _, err := st.Commit(ctx, Batch{Events: mkEvents(0, 50, from, time.Second),
		Alerts: []alert.Alert{mkAlert("a1", "mfa_fatigue", "high", from, "bob@example.com")}}); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if _, err := st.Lead(ctx, "h", time.Minute); err != nil {
		return fmt.Errorf("lead: %w", err)
	}
	x, err := st.AddException(ctx, alert.Exception{Detector: "mfa_fatigue", Scope: alert.ScopeActor, Value: "bob@example.com",
		Reason: "test account", CreatedBy: "ann", CreatedAt: from, ExpiresAt: from.Add(48 * time.Hour)})
	if err != nil {
		return fmt.Errorf("add exception: %w", err)
	}
	if err := setFsize(1); err != nil {
		return err
	}
	r.Writes = map[string][2]string{}
	note := func(name string, err error) {
		if err == nil {
			r.Writes[name] = [2]string{"", ""}
			return
		}
		r.Writes[name] = [2]string{err.Error(), WriteFailureClass(err)}
	}
	change := StatusChange{AlertID: "a1", To: alert.StatusAcknowledged, Note: "looking", User: "ann", Time: from.Add(time.Hour)}
	// a longer ttl: a renewal in the same millisecond would write the same
	// row, which SQLite leaves unwritten
	_, err = st.Lead(ctx, "h", 2*time.Minute)
	note("lead", err)
	_, err = st.SetAlertStatus(ctx, change)
	note("status", err)
	_, err = st.AddException(ctx, alert.Exception{Detector: "mfa_fatigue", Scope: alert.ScopeIP, Value: "203.0.113.9",
		Reason: "scanner", CreatedBy: "ann", CreatedAt: from, ExpiresAt: from.Add(48 * time.Hour)})
	note("add_exception", err)
	_, err = st.RemoveException(ctx, x.ID, "ann", from.Add(time.Hour))
	note("remove_exception", err)
	note("resign", st.Resign(ctx, "h"))
	if err := setFsize(^uint64(0)); err != nil {
		return err
	}
	_, err = st.SetAlertStatus(ctx, change)
	note("status_retried", err)
	return nil
}

// The SQLite backend's lease and triage writes, refused by the kernel
// (RLIMIT_FSIZE: EFBIG, which SQLite reports as a bare I/O error), are
// named by cause and classed like a page commit's (disk_full), so the
// pipeline counts a failed lease renewal under its class in
// oktaguard_store_write_failures_total and the triage API answers with the
// cause. Before, each was the driver's "disk I/O error (778)", class
// "other". Nothing is lost: the status change succeeds once the limit is
// lifted.
func TestLeaseAndTriageWriteFailuresClassed(t *testing.T) {
	dir := sharedDir(t)
	p := filepath.Join(dir, "og.db")
	r := runInChild(t, childSpec{job: "fsize-writes", env: []string{"OKTAGUARD_STORE_TEST_PATH=" + p}})
	prefix := fmt.Sprintf("store %s: disk full: this process may not write files beyond 1 bytes (ulimit -f / RLIMIT_FSIZE): raise the limit; the transaction was rolled back", p)
	for name, op := range map[string]string{
		"lead":             "store: lead: ",
		"status":           "store: set alert status: ",
		"add_exception":    "store: add exception: ",
		"remove_exception": "store: remove exception: ",
		"resign":           "store: resign: ",
	} {
		got, ok := r.Writes[name]
		if !ok {
			t.Errorf("%s: not reported", name)
			continue
		}
		if got[1] != "disk_full" || !strings.HasPrefix(got[0], prefix) || !strings.Contains(got[0], "("+op) {
			t.Errorf("%s under RLIMIT_FSIZE: class %q, error %q; want disk_full, %q... (%s...)", name, got[1], got[0], prefix, op)
		}
	}
	if got := r.Writes["status_retried"]; got[0] != "" {
		t.Errorf("status change once the limit is lifted: %q", got[0])
	}
}
