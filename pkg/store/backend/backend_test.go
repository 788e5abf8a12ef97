package backend

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/store"
)

func TestSQLiteBindsRealOrgsOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "og.db")
	open := func(org string) error {
		s, err := Open(ctx, Config{Path: path, Org: org})
		if err == nil {
			s.Close()
		}
		return err
	}
	// the simulator and the demo change ports between runs: never bound
	for _, org := range []string{"http://127.0.0.1:4001", "http://127.0.0.1:4002", "http://localhost:9"} {
		if err := open(org); err != nil {
			t.Fatalf("%s: %v", org, err)
		}
	}
	if err := open("https://acme.okta.com"); err != nil {
		t.Fatal(err)
	}
	if err := open("https://other.okta.com"); !errors.Is(err, store.ErrOtherOrg) {
		t.Fatalf("second org on one file: %v", err)
	}
	if _, err := Open(ctx, Config{Driver: "mysql", Org: "x"}); err == nil || !strings.Contains(err.Error(), "sqlite or postgres") {
		t.Fatalf("unknown driver: %v", err)
	}
	pw := filepath.Join(t.TempDir(), "missing")
	if _, err := Open(ctx, Config{Driver: "postgres", DSN: "postgres://u@127.0.0.1:1/x", PasswordFile: pw, Org: "x"}); err == nil ||
		!strings.Contains(err.Error(), "password file") {
		t.Fatalf("missing password file: %v", err)
	}
}
