// Package backend opens the configured store backend: the embedded SQLite
// file (store.Open) or a shared PostgreSQL database (postgres.Open).
package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
)

// Config selects and locates a backend.
type Config struct {
	Driver       string // "sqlite" (default) or "postgres"
	Path         string // SQLite file
	DSN          string // PostgreSQL connection string or URL
	Password     string // replaces the DSN's password when set
	PasswordFile string // a file holding the password (trailing newline trimmed)
	Org          string // the normalized org URL the handle is bound to
}

// Open opens the backend bound to c.Org. Errors name the problem and never
// contain a password.
func Open(ctx context.Context, c Config) (store.Backend, error) {
	switch strings.ToLower(c.Driver) {
	case "", "sqlite":
		s, err := store.Open(ctx, c.Path)
		if err != nil {
			return nil, err
		}
		if c.Org != "" && !loopback(c.Org) {
			if err := s.BindOrg(ctx, c.Org); err != nil {
				s.Close()
				return nil, err
			}
		}
		return s, nil
	case "postgres", "postgresql":
		pw := c.Password
		if c.PasswordFile != "" {
			b, err := os.ReadFile(c.PasswordFile)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return nil, fmt.Errorf("postgres store: storage password file %s: %w", c.PasswordFile, err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		s, err := postgres.Open(ctx, postgres.Config{DSN: c.DSN, Password: pw, Org: c.Org})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("store: unknown storage driver %q (sqlite or postgres)", c.Driver)
	}
}

// loopback reports an org URL on a loopback address (the simulator, the
// demo, tests): its port changes between runs, so a SQLite file is not
// bound to it.
func loopback(org string) bool {
	u, err := url.Parse(org)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
