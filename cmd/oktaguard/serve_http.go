package main

// The exporter of `oktaguard serve`: /metrics, /healthz and /readyz, with
// TLS and basic auth through exporter-toolkit's web configuration file.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// readyMaxPollAge is how recent the last successful poll must be for
// /readyz: three poll intervals, and never less than two minutes.
func readyMaxPollAge(s config.Settings) time.Duration {
	return max(3*s.Okta.PollInterval, 2*time.Minute)
}

// readiness says whether the exporter is ready and, if not, why.
func readiness(s config.Settings, st pipeline.Status, now time.Time) (bool, string) {
	switch {
	case st.StoreIntegrity.State == store.IntegrityCorrupt:
		// the check after the open found damage: commits are refused
		return false, st.StoreIntegrity.Err.Error()
	case !st.BackfillDone:
		reason := fmt.Sprintf("backfill in progress (%.0f%%)", st.BackfillProgress*100)
		if st.LastError != "" && st.LastErrorAt.After(st.LastPollSuccess) {
			reason += "; last poll failed: " + st.LastError // a stuck backfill says why
		}
		return false, reason
	case st.LastPollSuccess.IsZero():
		return false, "no successful poll yet"
	case now.Sub(st.LastPollSuccess) > readyMaxPollAge(s):
		reason := fmt.Sprintf("last successful poll %s ago (limit %s)", now.Sub(st.LastPollSuccess).Round(time.Second), readyMaxPollAge(s))
		if st.LastError != "" {
			reason += ": " + st.LastError
		}
		return false, reason
	default:
		return true, "ready"
	}
}

// readyBody is "ready", followed by one "warning:" line per rejected
// enrichment input (bad IP-list lines, failed reloads): ingestion works,
// but what an operator configured is not all in use.
func readyBody(st pipeline.Status) string {
	b := "ready\n"
	if in := st.StoreIntegrity; in.State == store.IntegrityStopped {
		b += "warning: " + in.Err.Error() + "\n"
	}
	for _, pr := range st.InputProblems {
		b += "warning: " + pr + "\n"
	}
	return b
}

// exporterMux routes the exporter's endpoints.
func exporterMux(s config.Settings, p *pipeline.Pipeline, reg *prometheus.Registry, log *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:      reg,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := readiness(s, p.Status(), time.Now())
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(readyBody(p.Status())))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<html><head><title>oktaguard</title></head><body><h1>oktaguard exporter</h1>
<ul><li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li><li><a href="/readyz">/readyz</a></li></ul></body></html>`))
	})
	return mux
}

// serveHTTP serves the exporter on s.Listen until ctx ends. With
// s.WebConfigFile set, exporter-toolkit applies its TLS and basic-auth
// settings (re-read on every request, so certificates rotate in place).
// An empty Listen disables the exporter.
func serveHTTP(ctx context.Context, s config.Settings, p *pipeline.Pipeline, reg *prometheus.Registry, log *slog.Logger) error {
	if s.Listen == "" {
		<-ctx.Done()
		return nil
	}
	if s.WebConfigFile != "" {
		if err := web.Validate(s.WebConfigFile); err != nil {
			return fmt.Errorf("exporter: web config %s: %w", s.WebConfigFile, err)
		}
	}
	srv := &http.Server{
		Handler:           exporterMux(s, p, reg, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       exporterReadTimeout,
		WriteTimeout:      exporterWriteTimeout,
		IdleTimeout:       2 * time.Minute,
		ConnState:         exporterConnState,
		// net/http's own messages (TLS handshake failures such as plain
		// HTTP sent to the TLS port, handler panics) go to the structured
		// log too, never to a bare stderr line.
		ErrorLog: slog.NewLogLogger(log.With("component", "exporter").Handler(), slog.LevelWarn),
	}
	addrs := []string{s.Listen}
	systemd := false
	webConfig := s.WebConfigFile
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webConfig}
	errc := make(chan error, 1)
	go func() { errc <- web.ListenAndServe(srv, flags, log.With("component", "exporter")) }()
	select {
	case <-ctx.Done():
		// The pipeline stops on the same signal: keep answering while it
		// finishes and commits the page in flight, so a last scrape sees
		// the final counts (bounded by pipelineStopWait).
		waitPipelineStopped(p, pipelineStopWait)
		// Graceful: no new connections, requests in flight (a scrape) finish;
		// connections still busy after the timeout are closed.
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("exporter: closing connections still busy after the shutdown timeout", "timeout", shutdownTimeout.String(), "error", err)
			_ = srv.Close()
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("exporter on %s: %w", s.Listen, err)
		}
		return nil
	case err := <-errc:
		if err == nil || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("exporter on %s: %w", s.Listen, err)
	}
}

// The exporter's timeouts (vars: tests shorten them). Without them a
// client that sends a request body slowly, or never reads the answer,
// holds its connection and a goroutine forever.
//   - exporterReadTimeout bounds reading a whole request, body included
//     (the endpoints take GETs; the headers alone have 10 s).
//   - exporterWriteTimeout bounds a request from the end of its headers
//     to the end of the answer: a /metrics scrape takes well under 10 ms
//     (BenchmarkExporterScrape, docs/performance.md) and its size does not
//     grow with the org (no per-user or per-event series), and Prometheus
//     gives up on a scrape after its scrape_timeout (10 s by default).
var (
	exporterReadTimeout  = 30 * time.Second
	exporterWriteTimeout = 30 * time.Second
	// exporterConnState is the server's ConnState hook (nil: none); tests
	// watch connections close with it.
	exporterConnState func(net.Conn, http.ConnState)
)

// shutdownTimeout bounds the graceful shutdown of the exporter's server.
const shutdownTimeout = 5 * time.Second

// pipelineStopWait bounds how long the exporter keeps serving after the
// stop signal while the pipeline finishes its page in flight (the
// pipeline's own grace for a request in flight is at most 30s).
const pipelineStopWait = 45 * time.Second

// waitPipelineStopped returns once p.Run has returned (or never ran), or
// after max.
func waitPipelineStopped(p *pipeline.Pipeline, max time.Duration) {
	deadline := time.Now().Add(max)
	for p.Status().Running && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}
