package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/traffic"
)

// simOptions configure an in-process simulated org.
type simOptions struct {
	Addr       string
	Seed       int64
	Users      int
	Days       int
	Attacks    bool
	Live       bool
	RateLimit  int
	MgmtLimit  int // per-minute limit of management endpoints (0: simulator default)
	Token      string
	OrgProfile string
	Logger     *slog.Logger
}

// simOrg is a running simulator fed with generated traffic.
type simOrg struct {
	srv     *oktasim.Server
	hs      *http.Server
	URL     string
	Token   string
	Dataset *traffic.Dataset
	Loaded  int // historic events added
	stream  *traffic.Stream
	stop    chan struct{}
	done    chan struct{}
}

func randomToken() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "00sim" + hex.EncodeToString(b)
}

// startSimOrg starts the simulator, loads opts.Days of history (labelled
// attacks included) ending now and, with opts.Live, feeds live traffic
// every second until Close.
func startSimOrg(opts simOptions) (*simOrg, error) {
	if opts.Token == "" {
		opts.Token = randomToken()
	}
	var mgmt *orgsim.Org
	if opts.OrgProfile != "" {
		o, err := orgsim.New(opts.OrgProfile)
		if err != nil {
			return nil, fmt.Errorf("simulator org profile: %w", err)
		}
		mgmt = o
	}
	so := oktasim.Options{Addr: opts.Addr, Token: opts.Token, RateLimitPerMinute: opts.RateLimit, DefaultLimit: opts.MgmtLimit, Logger: opts.Logger, Seed: opts.Seed}
	if mgmt != nil {
		so.Mgmt = mgmt
	}
	srv := oktasim.New(so)
	now := time.Now().UTC()
	ds, err := traffic.Generate(traffic.Config{
		Seed:    opts.Seed,
		Users:   opts.Users,
		Start:   now.Add(-time.Duration(opts.Days) * 24 * time.Hour),
		Days:    opts.Days + 1,
		Attacks: opts.Attacks,
	})
	if err != nil {
		return nil, fmt.Errorf("generating traffic: %w", err)
	}
	del, err := ds.DeliveryOrder()
	if err != nil {
		return nil, err
	}
	batch := make([]json.RawMessage, 0, 4096)
	loaded := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := srv.Add(batch...); err != nil {
			return fmt.Errorf("loading events: %w", err)
		}
		loaded += len(batch)
		batch = make([]json.RawMessage, 0, 4096)
		return nil
	}
	for _, d := range del {
		if d.At.After(now) {
			break // the rest arrives live
		}
		batch = append(batch, d.Event)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	var stream *traffic.Stream
	if opts.Live {
		stream, err = traffic.NewStream(traffic.Config{Seed: opts.Seed, Users: opts.Users, Attacks: opts.Attacks, LiveAttackEvery: time.Minute}, now)
		if err != nil {
			return nil, fmt.Errorf("live traffic: %w", err)
		}
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	url := "http://" + ln.Addr().String()
	s := &simOrg{srv: srv, hs: hs, URL: url, Token: opts.Token, Dataset: ds, Loaded: loaded, stream: stream, stop: make(chan struct{}), done: make(chan struct{})}
	if stream != nil {
		go s.feed()
	} else {
		close(s.done)
	}
	return s, nil
}

func (s *simOrg) feed() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			evs := s.stream.Next(now)
			if len(evs) > 0 {
				_ = s.srv.Add(evs...)
			}
		}
	}
}

// Close stops the live feed and the server.
func (s *simOrg) Close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.hs.Close()
}

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
	s, err := startSimOrg(simOptions{Addr: *addr, Seed: *seed, Users: *users, Days: *days, Attacks: *attacks, Live: *live, RateLimit: *rate, Token: *token, OrgProfile: *profile})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "orgUrl: %s\napiToken: %s\n", s.URL, s.Token)
	fmt.Fprintf(stderr, "simulator serving %d historic events (%d labelled attacks); Ctrl-C stops it\n", s.Loaded, len(s.Dataset.Labels))
	<-ctx.Done()
	return nil
}
