package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
)

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", stderr)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address (loopback: the collector allows http only to loopback)")
	seed := fs.Int64("seed", 1, "traffic generator seed")
	users := fs.Int("users", 100, "number of simulated users (at least 40)")
	days := fs.Int("days", 10, "days of history loaded at start (attacks need at least 10)")
	attacks := fs.Bool("attacks", true, "include labelled attack scenarios")
	live := fs.Bool("live", true, "keep generating live traffic")
	rate := fs.Int("rate-limit", 600, "org-wide /api/v1/logs requests per minute")
	token := fs.String("token", "", "SSWS API token to accept (default: random, printed)")
	profile := fs.String("org-profile", "mixed", "management API org profile (weak, strong, stig, mixed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	s, err := demo.Start(demo.Options{Addr: *addr, Seed: *seed, Users: *users, History: time.Duration(*days) * 24 * time.Hour,
		NoAttack: !*attacks, NoLive: !*live, RateLimitPerMinute: *rate, Token: *token, Posture: *profile, LiveAttackEvery: time.Minute})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "orgUrl: %s\napiToken: %s\n", s.URL, s.Token)
	fmt.Fprintf(stderr, "simulator serving %d historic events (%d labelled attacks); Ctrl-C stops it\n", s.Loaded, len(s.History.Labels))
	<-ctx.Done()
	return nil
}
