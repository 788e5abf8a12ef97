package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
)

// sqliteDB: one directory per test; each org gets its own file (a SQLite
// file holds one org), and handles of one org share that file. The state
// log's cleaner runs on every commit (its thresholds lowered).
func sqliteDB(t *testing.T) func(org string) store.Backend {
	dir := t.TempDir()
	return func(org string) store.Backend {
		path := filepath.Join(dir, strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r
			}
			return '_'
		}, org)+".db")
		s, err := store.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		t.Cleanup(func() { s.Close() })
		s.SetStateLogThresholds(0, 256) // the state log cleaner at work on every commit
		if err := s.BindOrg(context.Background(), org); err != nil {
			t.Fatalf("bind %s: %v", org, err)
		}
		return s
	}
}

func TestContractSQLite(t *testing.T) { storetest.Run(t, sqliteDB) }

// A SQLite file is bound to the first org that used it; another org is refused.
func TestSQLiteFileHoldsOneOrg(t *testing.T) {
	path := filepath.Join(t.TempDir(), "og.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.BindOrg(context.Background(), storetest.OrgA); err != nil {
		t.Fatal(err)
	}
	if err := s.BindOrg(context.Background(), storetest.OrgA); err != nil {
		t.Fatalf("rebinding the same org: %v", err)
	}
	err = s.BindOrg(context.Background(), storetest.OrgB)
	if !errors.Is(err, store.ErrOtherOrg) {
		t.Fatalf("binding another org: %v, want ErrOtherOrg", err)
	}
}
