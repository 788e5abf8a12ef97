package main

// This file is the exporter hook of `oktaguard serve`; the lead owns it
// (issue 7: TLS and basic auth through exporter-toolkit's web config,
// readiness rules). E4 provides this first version so serve works end to end.

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

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
)

// readyMaxPollAge is how recent the last successful poll must be for /readyz.
func readyMaxPollAge(s config.Settings) time.Duration {
	return 3*s.Okta.PollInterval + 2*time.Minute
}

// serveHTTP serves /metrics, /healthz and /readyz on s.Listen until ctx
// ends. An empty Listen disables the exporter.
func serveHTTP(ctx context.Context, s config.Settings, p *pipeline.Pipeline, reg *prometheus.Registry, log *slog.Logger) error {
	if s.Listen == "" {
		<-ctx.Done()
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		st := p.Status()
		switch {
		case !st.BackfillDone:
			http.Error(w, fmt.Sprintf("backfill in progress (%.0f%%)", st.BackfillProgress*100), http.StatusServiceUnavailable)
		case time.Since(st.LastPollSuccess) > readyMaxPollAge(s):
			http.Error(w, "last successful poll too old: "+st.LastError, http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ready\n"))
		}
	})
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("exporter: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("exporter listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("exporter: %w", err)
	}
}
