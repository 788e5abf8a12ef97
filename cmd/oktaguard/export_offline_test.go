package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/event"
	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/testsamples"
)

// TestExportNeedsNoCredentials: export reads only the local store, so a
// config whose credentials are unset (the token's variable is not in the
// environment) exports every stored event, raw, while serve refuses the
// same file naming the variable.
func TestExportNeedsNoCredentials(t *testing.T) {
	const unset = "OKTAGUARD_TEST_UNSET_TOKEN"
	os.Unsetenv(unset)
	dir := t.TempDir()
	raws := map[string]bool{}
	var evs []event.Event
	for _, file := range testsamples.OwnEvents(t) {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			ev, err := event.Decode([]byte(sc.Text()))
			if err != nil {
				continue
			}
			evs = append(evs, ev)
			raws[string(ev.Raw)] = true
		}
		f.Close()
	}
	if len(evs) == 0 {
		t.Fatal("no events decoded from the project's samples")
	}
	dbPath := filepath.Join(dir, "og.db")
	st, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), store.Batch{Events: evs}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := filepath.Join(dir, "oktaguard.yaml")
	body := fmt.Sprintf("okta:\n  orgUrl: https://example.okta.com\n  apiToken: ${%s}\nstorage:\n  path: og.db\n", unset)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, nil, "export", "--config", cfg)
	if code != 0 {
		t.Fatalf("export without credentials: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(evs) {
		t.Fatalf("export wrote %d lines, the store holds %d events", len(lines), len(evs))
	}
	for _, l := range lines {
		if !raws[l] {
			t.Fatalf("export line is not a stored event's raw JSON: %.120s", l)
		}
	}
	code, _, errs = runCmd(t, nil, "serve", "--config", cfg)
	if code == 0 || !strings.Contains(errs, "environment variable "+unset+" is not set") {
		t.Fatalf("serve with the same config: exit %d: %s", code, errs)
	}
}
