// Package plugin is the Grafana backend data source: settings, one
// pipeline per data source UID, query types, health, resources, streams
// and metrics.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/detect"
	"github.com/oktaguard/oktaguard/pkg/metrics"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// PluginID is the plugin's id (contract).
const PluginID = "oktaguard-okta-datasource"

// Version is stamped at build time with -ldflags.
var Version = "dev"

// Registry holds one running pipeline and one metric set per data source
// UID. Grafana replaces an instance on every settings save; the registry
// makes the new instance take over the old one's pipeline state (the
// SQLite file) and metrics, so nothing is lost, duplicated or reset.
//
// mu guards the maps only and is never held while a pipeline stops or
// starts (an old pipeline may take up to its shutdown grace to finish its
// Okta page): a handover of one UID never blocks another data source.
// Handovers of the same UID are serialised by that UID's handover lock.
type Registry struct {
	reg      prometheus.Registerer
	mu       sync.Mutex
	active   map[string]*runner
	mets     map[string]*metrics.Metrics
	handover map[string]*sync.Mutex
}

// NewRegistry creates the registry; metrics go to reg (the plugin uses
// prometheus.DefaultRegisterer so CollectMetrics serves them).
func NewRegistry(reg prometheus.Registerer) *Registry {
	return &Registry{reg: reg, active: map[string]*runner{}, mets: map[string]*metrics.Metrics{}, handover: map[string]*sync.Mutex{}}
}

// runner is one running pipeline.
type runner struct {
	uid    string
	p      *pipeline.Pipeline
	demo   *demoOrg
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, readable after done
}

func (r *runner) stop() {
	r.cancel()
	<-r.done
	_ = r.p.Close()
	if r.demo != nil {
		r.demo.Close()
	}
}

func (g *Registry) metricsFor(uid string) (*metrics.Metrics, error) {
	if m, ok := g.mets[uid]; ok {
		return m, nil
	}
	ids := make([]string, 0, len(detect.Detectors()))
	for _, d := range detect.Detectors() {
		ids = append(ids, d.ID)
	}
	m, err := metrics.New(g.reg, metrics.Options{
		ConstLabels: prometheus.Labels{"datasource_uid": uid},
		Detectors:   ids,
		Version:     Version,
	})
	if err != nil {
		return nil, err
	}
	g.mets[uid] = m
	return m, nil
}

// start stops the UID's previous pipeline (it finishes and commits its
// page) and starts a new one on the same store. The old runner leaves the
// registry under mu; it stops, and the new one starts, outside it.
func (g *Registry) start(s Settings, logger *slog.Logger) (*runner, error) {
	g.mu.Lock()
	h := g.handover[s.UID]
	if h == nil {
		h = &sync.Mutex{}
		g.handover[s.UID] = h
	}
	g.mu.Unlock()
	h.Lock()
	defer h.Unlock()

	g.mu.Lock()
	old := g.active[s.UID]
	delete(g.active, s.UID)
	m, err := g.metricsFor(s.UID)
	g.mu.Unlock()
	if old != nil {
		old.stop()
	}
	if err != nil {
		return nil, err
	}
	r := &runner{uid: s.UID, done: make(chan struct{})}
	cs, err := s.toConfig()
	if err != nil {
		return nil, err
	}
	if s.Demo {
		d, err := startDemoOrg(time.Now())
		if err != nil {
			return nil, fmt.Errorf("demo org: %w", err)
		}
		r.demo = d
		cs.Okta.OrgURL, cs.Okta.APIToken, cs.Okta.OAuth = d.URL, d.Token, nil
		cs.IPLists = d.Lists
	}
	p, err := pipeline.New(cs, pipeline.Options{Logger: logger, Metrics: m})
	if err != nil {
		if r.demo != nil {
			r.demo.Close()
		}
		return nil, err
	}
	r.p = p
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.err = p.Run(ctx)
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			logger.Error("pipeline stopped", "error", r.err)
		}
	}()
	g.mu.Lock()
	g.active[s.UID] = r
	g.mu.Unlock()
	return r, nil
}

// release stops r if it is still the UID's active runner.
func (g *Registry) release(r *runner) {
	g.mu.Lock()
	mine := g.active[r.uid] == r
	if mine {
		delete(g.active, r.uid)
	}
	g.mu.Unlock()
	if mine {
		r.stop()
	}
}

// Close stops every pipeline.
func (g *Registry) Close() {
	g.mu.Lock()
	rs := make([]*runner, 0, len(g.active))
	for uid, r := range g.active {
		delete(g.active, uid)
		rs = append(rs, r)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop() }()
	}
	wg.Wait()
}

// toConfig maps the data source settings onto the same Settings struct
// the CLI's config file builds.
func (s Settings) toConfig() (config.Settings, error) {
	cs := config.Defaults()
	cs.Okta.OrgURL = s.OrgURL
	if s.AuthType == "oauth" {
		cs.Okta.OAuth = &okta.OAuthConfig{ClientID: s.ClientID, PrivateKeyPEM: []byte(s.PrivateKey), KeyID: s.KeyID, Scopes: s.Scopes}
	} else {
		cs.Okta.APIToken = s.APIToken
	}
	cs.Okta.Backfill = s.Backfill
	cs.Okta.PollInterval = s.PollInterval
	cs.Okta.RateLimitShare = s.RateLimitShare
	cs.Storage.Path = s.DBPath()
	cs.Storage.Driver, cs.Storage.DSN, cs.Storage.Password = s.StorageDriver, s.StorageDSN, s.StoragePassword
	cs.GeoIP.CityDB = s.GeoIPCityDB
	cs.GeoIP.ASNDB = s.GeoIPASNDB
	cs.GeoIP.AnonymousDB = s.GeoIPAnonymousDB
	if s.IPLists != nil {
		cs.IPLists = s.IPLists
	}
	if len(s.Detectors) > 0 && string(s.Detectors) != "null" {
		dc, err := detect.ParseConfig(s.Detectors)
		if err != nil {
			return cs, fmt.Errorf("detectors: %w", err)
		}
		cs.Detectors = dc
	}
	cs.Posture.Profile = s.PostureProfile
	return cs, nil
}

// Datasource is one data source instance.
type Datasource struct {
	settings    Settings
	settingsErr error
	reg         *Registry
	run         *runner
	logger      *slog.Logger
	resources   backend.CallResourceHandler
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewFactory returns the instance factory for datasource.Manage.
func NewFactory(reg *Registry) datasource.InstanceFactoryFunc {
	return func(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
		return newDatasource(reg, s), nil
	}
}

// newDatasource never fails: invalid settings are reported precisely by
// CheckHealth and by every query, instead of an opaque instance error.
func newDatasource(reg *Registry, raw backend.DataSourceInstanceSettings) *Datasource {
	logger := slog.New(newSDKLogHandler(log.DefaultLogger)).With("datasource_uid", raw.UID)
	d := &Datasource{reg: reg, logger: logger}
	d.resources = d.newResourceHandler()
	s, err := LoadSettings(raw)
	if err != nil {
		d.settingsErr = err
		return d
	}
	d.settings = s
	r, err := reg.start(s, logger)
	if err != nil {
		d.settingsErr = fmt.Errorf("cannot start ingestion: %w", err)
		return d
	}
	d.run = r
	return d
}

// Dispose stops this instance's pipeline (if still active) and every
// goroutine it started.
func (d *Datasource) Dispose() {
	if d.run != nil {
		d.reg.release(d.run)
	}
}

// ready returns the store to read, or the reason there is none.
func (d *Datasource) ready() (store.Backend, error) {
	if d.settingsErr != nil {
		return nil, d.settingsErr
	}
	if d.run == nil {
		return nil, errors.New("data source is not running")
	}
	return d.run.p.Store(), nil
}
