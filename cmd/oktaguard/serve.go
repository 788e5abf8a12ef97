package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
)

// newMetrics builds the contract metric set on a fresh registry.
func newMetrics() (*prometheus.Registry, *metrics.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var ids []string
	for _, d := range detect.Detectors() {
		ids = append(ids, d.ID)
	}
	m, err := metrics.New(reg, metrics.Options{Detectors: ids, Version: version})
	if err != nil {
		return nil, nil, fmt.Errorf("metrics: %w", err)
	}
	return reg, m, nil
}

// cmdServe runs the pipeline until SIGINT/SIGTERM: the page in flight is
// finished and committed, then it exits 0. Invalid or revoked credentials
// stop it with exit code 1 and a clear message.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	format := fs.String("log-format", "text", "log format: text or json")
	listen := fs.String("listen", "", "exporter listen address (overrides the config's listen)")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration file for TLS and basic auth (overrides the config's webConfigFile)")
	summaryEvery := fs.Duration("summary-every", serveSummaryEvery, "how often to log the one-line summary once the backfill is done (at least 1s)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *summaryEvery < time.Second {
		return fmt.Errorf("%w: --summary-every must be at least 1s", errUsage)
	}
	if err := requireConfig(*cfgPath); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	s, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		s.Listen = *listen
	}
	if *webConfig != "" {
		s.WebConfigFile = *webConfig
	}
	reg, m, err := newMetrics()
	if err != nil {
		return err
	}
	p, err := pipeline.New(s, pipeline.Options{Logger: log, Metrics: m})
	if err != nil {
		return err
	}
	defer p.Close()
	log.Info("oktaguard serve starting", "org", p.Client().OrgURL().String(), "store", s.Storage.Path, "listen", s.Listen)

	httpCtx, stopHTTP := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var httpErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		httpErr = serveHTTP(httpCtx, s, p, reg, log)
		if httpErr != nil {
			stopHTTP()
		}
	}()
	wg.Add(1)
	go func() { defer wg.Done(); logProgress(httpCtx, p, log, *summaryEvery) }()
	runErr := p.Run(httpCtx)
	stopHTTP()
	wg.Wait()
	if runErr != nil {
		return runErr
	}
	if httpErr != nil && !errors.Is(httpErr, context.Canceled) {
		return httpErr
	}
	log.Info("oktaguard serve stopped")
	return nil
}

// serveSummaryEvery is how often serve logs its one-line summary by
// default (--summary-every).
const serveSummaryEvery = 5 * time.Minute

// logProgress logs the backfill's progress (every 10%), "backfill done"
// once, and then a one-line summary every `every` (events, alerts,
// rejected, lag, last error), until ctx ends.
func logProgress(ctx context.Context, p *pipeline.Pipeline, log *slog.Logger, every time.Duration) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastDecile, done := -1, false
	var lastSummary time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			st := p.Status()
			if !done && st.BackfillDone {
				done, lastSummary = true, now
				if lastDecile < 10 {
					// finished between two ticks (a small org or a fast
					// backfill): its last step, 100 %, is still logged
					log.Info("backfill progress", "percent", 100, "events", st.EventsIngested, "alerts", st.Alerts, "newest", st.MaxPublished.Format(time.RFC3339))
				}
				log.Info("backfill done", "events", st.EventsIngested, "alerts", st.Alerts, "rejected", st.Rejected, "degraded", st.Degraded, "pages", st.Pages)
				continue
			}
			if !done {
				if d := int(st.BackfillProgress * 10); d > lastDecile {
					lastDecile = d
					log.Info("backfill progress", "percent", d*10, "events", st.EventsIngested, "alerts", st.Alerts, "newest", st.MaxPublished.Format(time.RFC3339))
				}
				continue
			}
			if now.Sub(lastSummary) >= every {
				lastSummary = now
				args := []any{"events", st.EventsIngested, "alerts", st.Alerts, "rejected", st.Rejected, "degraded", st.Degraded,
					"pages_skipped", st.PagesSkipped, "lag", st.Lag.Round(time.Second).String()}
				if st.LastError != "" && st.LastErrorAt.After(st.LastPollSuccess) {
					args = append(args, "last_error", st.LastError)
				}
				log.Info("summary", args...)
			}
		}
	}
}
