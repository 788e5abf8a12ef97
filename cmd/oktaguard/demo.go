package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
)

// cmdDemo starts the simulator in-process with a seeded org, its labelled
// attacks over the last days and live traffic, runs the real pipeline
// against it and prints progress and a summary. No config is needed.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stderr)
	duration := fs.Duration("duration", 60*time.Second, "how long the live phase runs after the backfill, before the summary (0 = until Ctrl-C)")
	dbPath := fs.String("db", "", "SQLite file to keep (default: a temporary file, removed at exit)")
	seed := fs.Int64("seed", 1, "traffic generator seed")
	users := fs.Int("users", 60, "simulated users (at least 40)")
	days := fs.Int("days", 10, "days of history (attacks need at least 10)")
	maxAlertLines := fs.Int("alert-lines", 40, "print at most this many individual alerts")
	verbose := fs.Bool("v", false, "log the pipeline's warnings on stderr")
	listen := fs.String("listen", "127.0.0.1:0", "address of the demo's /metrics endpoint (port 0: any free port)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *duration < 0 {
		return fmt.Errorf("%w: --duration must not be negative", errUsage)
	}
	path := *dbPath
	if path == "" {
		dir, err := os.MkdirTemp("", "oktaguard-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "oktaguard-demo.db")
	}

	fmt.Fprintf(stdout, "oktaguard demo: generating a %d-user org with %d days of history and labelled attacks...\n", *users, *days)
	sim, err := demo.Start(demo.Options{Seed: *seed, Users: *users, History: time.Duration(*days) * 24 * time.Hour, RateLimitPerMinute: 12000, MgmtRateLimit: 60000, Posture: "mixed"})
	if err != nil {
		return err
	}
	defer sim.Close()
	fmt.Fprintf(stdout, "simulated Okta org at %s: %d events waiting, %d labelled attacks\n", sim.URL, sim.Loaded, len(sim.History.Labels))

	s := config.Defaults()
	s.Okta.OrgURL = sim.URL
	s.Okta.APIToken = sim.Token
	s.Okta.Backfill = time.Duration(*days+1) * 24 * time.Hour
	s.Okta.PollInterval = 2 * time.Second
	s.Storage.Path = path
	s.IPLists = sim.History.Lists.Map()
	s.Posture.Enabled = true
	s.Posture.Profile = "baseline"
	if pt := sim.History.PenTester; pt != "" {
		s.Detectors = detect.Config{}
		for _, d := range detect.Detectors() {
			s.Detectors[d.ID] = detect.DetectorConfig{Exclude: []string{pt}}
		}
	}
	logLevel := slog.LevelError
	if *verbose {
		logLevel = slog.LevelWarn
	}
	reg, m, err := newMetrics()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("demo --listen %s: %w", *listen, err)
	}
	msrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = msrv.Serve(ln) }()
	defer msrv.Close()
	metricsURL := "http://" + ln.Addr().String() + "/metrics"
	fmt.Fprintf(stdout, "metrics: %s (Prometheus format, live while the demo runs)\n", metricsURL)
	// The simulator delivers no event late, so the demo holds events for
	// reordering 5 s instead of the default 2 min: a live attack alerts
	// within seconds of its events (docs/detectors.md, reorder window).
	p, err := pipeline.New(s, pipeline.Options{Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel})), Metrics: m,
		DetectOptions: []detect.Option{detect.WithReorderWindow(demoReorderWindow)}})
	if err != nil {
		return err
	}
	defer p.Close()
	updates, unsubscribe := p.Subscribe(4096)
	defer unsubscribe()

	var mu sync.Mutex
	perDetector := map[string]int{}
	livePerDetector := map[string]int{}
	var liveFrom time.Time // when the backfill was seen done; later events are live
	printed := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for u := range updates {
			mu.Lock()
			for _, a := range u.Alerts {
				perDetector[a.Detector]++
				if !liveFrom.IsZero() && !a.Time.Before(liveFrom) {
					// An alert on an event published after the backfill:
					// always shown, whatever --alert-lines says.
					livePerDetector[a.Detector]++
					fmt.Fprintf(stdout, "  LIVE ALERT %-8s %-28s %-32s %s\n", a.Severity, a.Detector, a.Actor, a.Title)
					continue
				}
				if printed < *maxAlertLines {
					fmt.Fprintf(stdout, "  ALERT %-8s %-28s %-32s %s\n", a.Severity, a.Detector, a.Actor, a.Title)
					printed++
					if printed == *maxAlertLines {
						fmt.Fprintln(stdout, "  (further alerts are counted in the progress lines)")
					}
				}
			}
			mu.Unlock()
		}
	}()

	// The duration is the live phase's: it starts when the backfill is
	// done, so a slow machine still shows live attacks (a fixed wall-clock
	// budget from start could end during the backfill).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var liveTimer *time.Timer
	defer func() {
		if liveTimer != nil {
			liveTimer.Stop()
		}
	}()
	runErr := make(chan error, 1)
	start := time.Now()
	go func() { runErr <- p.Run(ctx) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	// The live phase starts when the backfill is done: the demo then has
	// the simulator start its quick attacks, which the live poller picks up.
	backfill := time.NewTicker(200 * time.Millisecond)
	defer backfill.Stop()
	backfillC := backfill.C
	var atLive int64 // events ingested when the live phase started
	var err2 error
loop:
	for {
		select {
		case err2 = <-runErr:
			break loop
		case <-backfillC:
			st := p.Status()
			if !st.BackfillDone {
				continue
			}
			backfill.Stop()
			backfillC = nil
			if *duration > 0 {
				liveTimer = time.AfterFunc(*duration, cancel)
			}
			now := time.Now()
			mu.Lock()
			liveFrom, atLive = now, st.EventsIngested
			mu.Unlock()
			if err := sim.InjectAttacks(now.Add(time.Second)); err != nil {
				fmt.Fprintf(stdout, "live attacks not started: %v\n", err)
				continue
			}
			fmt.Fprintf(stdout, "[%4.0fs] backfill done (%d events); live: the simulator starts attacks now (%s), polled every %s\n",
				time.Since(start).Seconds(), st.EventsIngested, strings.Join(demo.QuickAttacks, ", "), s.Okta.PollInterval)
		case <-tick.C:
			st := p.Status()
			mu.Lock()
			live := ""
			if !liveFrom.IsZero() {
				live = fmt.Sprintf(" (+%d live)", st.EventsIngested-atLive)
			}
			fmt.Fprintf(stdout, "[%4.0fs] ingested %d events%s | backfill %3.0f%% | alerts %s | posture %s\n",
				time.Since(start).Seconds(), st.EventsIngested, live, st.BackfillProgress*100, detectorCounts(perDetector), postureText(st))
			mu.Unlock()
		}
	}
	unsubscribe()
	wg.Wait()
	if err2 != nil {
		return err2
	}
	st := p.Status()
	fmt.Fprintf(stdout, "\nSummary after %s\n", time.Since(start).Round(time.Second))
	fmt.Fprintf(stdout, "  events ingested: %d (simulator holds %d)\n", st.EventsIngested, sim.Sim.EventCount())
	fmt.Fprintf(stdout, "  backfill: %.0f%% (done: %v), lag %s\n", st.BackfillProgress*100, st.BackfillDone, st.Lag.Round(time.Second))
	if liveFrom.IsZero() {
		fmt.Fprintln(stdout, "  live: not reached (stopped before the backfill finished)")
	} else {
		fmt.Fprintf(stdout, "  live: %d events after the backfill, live alerts %s\n", st.EventsIngested-atLive, detectorCounts(livePerDetector))
	}
	fmt.Fprintf(stdout, "  posture: %s\n", postureText(st))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  DETECTOR\tALERTS\tLABELLED ATTACKS")
	labels := map[string]int{}
	for _, l := range sim.History.Labels {
		labels[l.Detector]++
	}
	quiet := 0
	for _, d := range detect.Detectors() {
		if perDetector[d.ID] == 0 && labels[d.ID] == 0 {
			quiet++
			continue
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\n", d.ID, perDetector[d.ID], labels[d.ID])
	}
	tw.Flush()
	if quiet > 0 {
		fmt.Fprintf(stdout, "  (%d more detectors: no alerts and no labelled attacks)\n", quiet)
	}
	if *dbPath != "" {
		fmt.Fprintf(stdout, "  store: %s\n", path)
	}
	fmt.Fprintln(stdout, "\nWhere to look next:")
	if *dbPath != "" {
		fmt.Fprintf(stdout, "  oktaguard export --config F   (storage.path: %s) — the stored events as JSON Lines\n", path)
	}
	fmt.Fprintln(stdout, "  docker compose up -d          — Grafana with the dashboards and alert rules on this simulator (docs/docker-compose.md)")
	fmt.Fprintln(stdout, "  oktaguard serve --config F    — the same pipeline against your own org (docs/configuration.md)")
	fmt.Fprintln(stdout, "  docs/detectors.md             — what each detector looks for and how to tune it")
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}

// demoReorderWindow is the detection engine's reorder window in the demo.
const demoReorderWindow = 5 * time.Second

func detectorCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none yet"
	}
	var keys []string
	total := 0
	for k, v := range m {
		keys = append(keys, k)
		total += v
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	const top = 4
	var parts []string
	for i, k := range keys {
		if i == top {
			parts = append(parts, fmt.Sprintf("+%d more", len(keys)-top))
			break
		}
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, " "))
}

func postureText(st pipeline.Status) string {
	if st.PostureAt.IsZero() {
		return "pending"
	}
	return fmt.Sprintf("%.1f/100 (%s)", st.PostureScore, st.PostureProfile)
}
