// Package metrics defines oktaguard's Prometheus metrics (names are a
// contract: dashboards and alerting rules depend on them).
//
// The same set is exposed by the standalone exporter (its own registry) and
// by the Grafana plugin (the default registry, served through
// CollectMetrics) where every series carries a datasource_uid label.
package metrics

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Namespace is the metric prefix (contract).
const Namespace = "oktaguard"

// Known label values. Labels only ever take values from small fixed sets:
// never a user, an IP address or an event id.
var (
	Severities    = []string{"info", "low", "medium", "high", "critical"}
	StatusClasses = []string{"2xx", "3xx", "4xx", "5xx", "error"}
	Endpoints     = []string{"logs", "token", "management"}
	// RejectReasons are the reasons an event can be rejected for.
	RejectReasons = []string{"malformed", "missing_field", "bad_time", "duplicate"}
)

// Metrics is the contract metric set. A nil *Metrics is valid: every method
// is then a no-op, so packages can be used without metrics.
type Metrics struct {
	eventsIngested     prometheus.Counter
	detections         *prometheus.CounterVec
	detectionMatches   *prometheus.CounterVec
	suppressed         *prometheus.CounterVec
	oktaRequests       *prometheus.CounterVec
	rateLimitRemaining prometheus.Gauge
	pollLag            prometheus.Gauge
	lastPollSuccess    prometheus.Gauge
	backfillProgress   prometheus.Gauge
	rejected           *prometheus.CounterVec
	pagesSkipped       prometheus.Counter
	degraded           prometheus.Counter
	inputRejected      *prometheus.CounterVec
	geoipReloadFailed  *prometheus.CounterVec
	storeWriteFailed   *prometheus.CounterVec
	storeIntegrity     *prometheus.GaugeVec
	storeBuild         *prometheus.GaugeVec
	storeBuildLeft     *prometheus.GaugeVec
	storeBuildFailed   *prometheus.CounterVec
	storeFileBytes     *prometheus.GaugeVec // no labels: absent until set
	storeFreeBytes     *prometheus.GaugeVec
	storeAutoVacuum    *prometheus.GaugeVec
	postureScore       *prometheus.GaugeVec
	checkPassing       *prometheus.GaugeVec
	haLeader           *prometheus.GaugeVec
	buildInfo          *prometheus.GaugeVec
}

// Options selects the label sets to initialise.
type Options struct {
	// ConstLabels are added to every series (the plugin sets datasource_uid).
	ConstLabels prometheus.Labels
	// Detectors and their default severities: every detector × severity pair
	// is initialised to 0 so that rate() and absent() behave from the start.
	Detectors []string
	// Checks are the posture check ids; their gauges appear once evaluated.
	Version string
}

// New creates the metric set and registers it on reg.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	cl := opts.ConstLabels
	m := &Metrics{
		eventsIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_ingested_total", ConstLabels: cl,
			Help: "Okta System Log events accepted and stored (each uuid counted once).",
		}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "detections_total", ConstLabels: cl,
			Help: "Alerts raised, by detector id and severity.",
		}, []string{"detector", "severity"}),
		detectionMatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "detection_matches_total", ConstLabels: cl,
			Help: "Matched findings by detector id: the first of an incident and every later match that joined it (detections_total counts incidents).",
		}, []string{"detector"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "alerts_suppressed_total", ConstLabels: cl,
			Help: "Alerts a detector raised that an analyst's exception suppressed (not stored), by detector id.",
		}, []string{"detector"}),
		oktaRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "okta_requests_total", ConstLabels: cl,
			Help: "HTTP requests sent to Okta, by endpoint family and status class (error = no response).",
		}, []string{"endpoint", "status_class"}),
		rateLimitRemaining: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "okta_rate_limit_remaining", ConstLabels: cl,
			Help: "X-Rate-Limit-Remaining from the last System Log response.",
		}),
		pollLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "poll_lag_seconds", ConstLabels: cl,
			Help: "Seconds between now and the newest stored event's published time, at the last poll.",
		}),
		lastPollSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "last_poll_success_timestamp_seconds", ConstLabels: cl,
			Help: "Unix time of the last successful System Log poll whose page is stored.",
		}),
		backfillProgress: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "backfill_progress_ratio", ConstLabels: cl,
			Help: "Progress of the initial backfill, from 0 to 1.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_rejected_total", ConstLabels: cl,
			Help: "Events received from Okta but not accepted, by reason.",
		}, []string{"reason"}),
		pagesSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "pages_skipped_total", ConstLabels: cl,
			Help: "System Log pages that could not be split into events on any attempt and were stepped past on their next link (their events are lost; each one is logged).",
		}),
		degraded: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_degraded_total", ConstLabels: cl,
			Help: "Events accepted with an optional field of an unexpected shape treated as absent.",
		}),
		inputRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "enrichment_input_rejected_total", ConstLabels: cl,
			Help: "Rejected enrichment inputs, by source (ip_list, geoip): bad IP-list lines at each load, failed list or GeoIP reloads, GeoIP records that could not be decoded.",
		}, []string{"source"}),
		geoipReloadFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "geoip_reload_failures_total", ConstLabels: cl,
			Help: "Failed reloads of a GeoIP database, by database (city, asn, anonymous): each changed file that could not be loaded (the last good database stays in use).",
		}, []string{"database"}),
		storeWriteFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "store_write_failures_total", ConstLabels: cl,
			Help: "Writes the store refused (page commits; also prunes, posture reports and regressions, exception hits and lease renewals), by class: disk_full, read_only, permission, connection_lost, fenced (another instance took the org over), diverged (the database is not at this instance's last commit: a failover lost commits, or a lost connection hid one), corrupt, other.",
		}, []string{"class"}),
		storeIntegrity: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "store_integrity", ConstLabels: cl,
			Help: "1 for the state of the SQLite store's integrity check, run in the background after each open (checking, ok, corrupt, stopped), 0 for the others; absent for PostgreSQL.",
		}, []string{"state"}),
		storeBuild: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "store_background_build", ConstLabels: cl,
			Help: "1 for the state of each of the store's background builds (PostgreSQL's geo_sets after a schema migration: waiting, running, retrying, done), 0 for the others; only the org's leader builds, a follower reports waiting.",
		}, []string{"build", "state"}),
		storeBuildLeft: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "store_background_build_remaining", ConstLabels: cl,
			Help: "Work left of each background build of the store, in its unit (geo_sets: hours), as of this instance's last step (a follower: its open).",
		}, []string{"build"}),
		storeBuildFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "store_background_build_failures_total", ConstLabels: cl,
			Help: "Failed steps of the store's background builds, by build (each is retried after a backoff; the error is in the health details and the log).",
		}, []string{"build"}),
		storeFileBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "store_file_bytes", ConstLabels: cl,
			Help: "Size of the SQLite store's database (its pages, free ones included, as of the last commit; the WAL not counted), read after each page commit and prune; absent for PostgreSQL.",
		}, nil),
		storeFreeBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "store_free_bytes", ConstLabels: cl,
			Help: "Free pages of the SQLite store's database: part of oktaguard_store_file_bytes, reused by later writes, given back to the disk by incremental auto-vacuum steps; absent for PostgreSQL.",
		}, nil),
		storeAutoVacuum: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "store_auto_vacuum", ConstLabels: cl,
			Help: "1 for the SQLite store's auto-vacuum mode (none: the file never shrinks until `oktaguard store compact`; incremental; full), 0 for the others; absent for PostgreSQL.",
		}, []string{"mode"}),
		postureScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "posture_score", ConstLabels: cl,
			Help: "Security posture score (0-100) of the latest evaluation, by profile.",
		}, []string{"profile"}),
		checkPassing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "posture_check_passing", ConstLabels: cl,
			Help: "1 when the posture check passed in the latest evaluation, 0 when it failed or errored.",
		}, []string{"check"}),
		haLeader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "ha_leader", ConstLabels: cl,
			Help: "1 when this instance leads its org (ingests, evaluates posture), 0 when it follows; the leader label names the instance that leads.",
		}, []string{"leader"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "build_info", ConstLabels: cl,
			Help: "Always 1; the labels say which oktaguard build is running: version, VCS revision and Go version.",
		}, []string{"version", "revision", "goversion"}),
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	for _, d := range opts.Detectors {
		m.detectionMatches.WithLabelValues(d)
		m.suppressed.WithLabelValues(d)
		for _, s := range Severities {
			m.detections.WithLabelValues(d, s)
		}
	}
	for _, e := range Endpoints {
		for _, c := range StatusClasses {
			m.oktaRequests.WithLabelValues(e, c)
		}
	}
	for _, r := range RejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, s := range InputRejectedSources {
		m.inputRejected.WithLabelValues(s)
	}
	for _, d := range GeoIPDatabases {
		m.geoipReloadFailed.WithLabelValues(d)
	}
	for _, c := range StoreWriteFailureClasses {
		m.storeWriteFailed.WithLabelValues(c)
	}
	v := opts.Version
	if v == "" {
		v = "dev"
	}
	m.buildInfo.WithLabelValues(v, buildRevision(), runtime.Version()).Set(1)
	return m, nil
}

// Unregister removes the metric set from reg (the plugin does this when an
// instance is disposed, so a replacement can register again).
func (m *Metrics) Unregister(reg prometheus.Registerer) {
	if m == nil {
		return
	}
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.eventsIngested, m.detections, m.detectionMatches, m.suppressed, m.oktaRequests,
		m.rateLimitRemaining, m.pollLag, m.lastPollSuccess, m.backfillProgress, m.rejected,
		m.pagesSkipped, m.degraded, m.inputRejected, m.geoipReloadFailed, m.storeWriteFailed,
		m.storeIntegrity, m.storeBuild, m.storeBuildLeft, m.storeBuildFailed, m.storeFileBytes, m.storeFreeBytes, m.storeAutoVacuum,
		m.postureScore, m.checkPassing, m.haLeader, m.buildInfo}
}

// EventsIngested counts n newly stored events.
func (m *Metrics) EventsIngested(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.eventsIngested.Add(float64(n))
}

// Detection counts one incident: a newly stored alert (its later updates
// are counted by DetectionMatches).
func (m *Metrics) Detection(detector, severity string) {
	if m == nil {
		return
	}
	m.detections.WithLabelValues(detector, severity).Inc()
}

// DetectionMatches counts n matched findings of a detector (committed).
func (m *Metrics) DetectionMatches(detector string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.detectionMatches.WithLabelValues(detector).Add(float64(n))
}

// Suppressed counts one alert an exception suppressed.
func (m *Metrics) Suppressed(detector string) {
	if m == nil {
		return
	}
	m.suppressed.WithLabelValues(detector).Inc()
}

// OktaRequest counts one request to Okta; status 0 means no response.
func (m *Metrics) OktaRequest(endpoint string, status int) {
	if m == nil {
		return
	}
	m.oktaRequests.WithLabelValues(endpointFamily(endpoint), StatusClass(status)).Inc()
}

// RateLimitRemaining records X-Rate-Limit-Remaining.
func (m *Metrics) RateLimitRemaining(v int) {
	if m == nil {
		return
	}
	m.rateLimitRemaining.Set(float64(v))
}

// PollLag records the ingestion lag.
func (m *Metrics) PollLag(d time.Duration) {
	if m == nil {
		return
	}
	if d < 0 {
		d = 0
	}
	m.pollLag.Set(d.Seconds())
}

// PollSuccess records the time of a successful poll.
func (m *Metrics) PollSuccess(t time.Time) {
	if m == nil {
		return
	}
	m.lastPollSuccess.Set(float64(t.UnixNano()) / 1e9)
}

// BackfillProgress records the backfill ratio, clamped to [0,1].
func (m *Metrics) BackfillProgress(r float64) {
	if m == nil {
		return
	}
	switch {
	case r < 0:
		r = 0
	case r > 1:
		r = 1
	}
	m.backfillProgress.Set(r)
}

// Rejected counts one rejected event.
func (m *Metrics) Rejected(reason string) {
	if m == nil {
		return
	}
	known := false
	for _, r := range RejectReasons {
		if r == reason {
			known = true
			break
		}
	}
	if !known {
		reason = "malformed"
	}
	m.rejected.WithLabelValues(reason).Inc()
}

// PageSkipped counts one System Log page stepped past unread.
func (m *Metrics) PageSkipped() {
	if m == nil {
		return
	}
	m.pagesSkipped.Inc()
}

// Degraded counts n events accepted with a field treated as absent.
func (m *Metrics) Degraded(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.degraded.Add(float64(n))
}

// InputRejectedSources are the sources of InputRejected.
var InputRejectedSources = []string{"ip_list", "geoip"}

// InputRejected counts n unusable lines or entries of an enrichment input
// (source "ip_list" or "geoip").
func (m *Metrics) InputRejected(source string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.inputRejected.WithLabelValues(source).Add(float64(n))
}

// CounterValue is the value of the counter name{label=value} gathered
// from g (tests and support tools read one series with it).
func CounterValue(g prometheus.Gatherer, name, label, value string) (float64, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return mm.GetCounter().GetValue(), nil
				}
			}
		}
	}
	return 0, fmt.Errorf("metrics: no %s{%s=%q}", name, label, value)
}

// GeoIPDatabases are the database label values of GeoIPReloadFailed.
var GeoIPDatabases = []string{"city", "asn", "anonymous"}

// GeoIPReloadFailed counts one failed reload of a GeoIP database (city,
// asn or anonymous).
func (m *Metrics) GeoIPReloadFailed(database string) {
	if m == nil {
		return
	}
	m.geoipReloadFailed.WithLabelValues(database).Inc()
}

// StoreWriteFailureClasses are the class label values of
// StoreWriteFailed (store.WriteFailureClasses; a test holds them equal).
var StoreWriteFailureClasses = []string{"disk_full", "read_only", "permission", "connection_lost", "fenced", "diverged", "corrupt", "other"}

// StoreWriteFailed counts one write the store refused, by class;
// a class outside StoreWriteFailureClasses counts as "other".
func (m *Metrics) StoreWriteFailed(class string) {
	if m == nil {
		return
	}
	known := false
	for _, c := range StoreWriteFailureClasses {
		known = known || c == class
	}
	if !known {
		class = "other"
	}
	m.storeWriteFailed.WithLabelValues(class).Inc()
}

// StoreIntegrityStates are the state label values of StoreIntegrity
// (store.IntegrityStates; a test holds them equal).
var StoreIntegrityStates = []string{"checking", "ok", "corrupt", "stopped"}

// StoreIntegrity records the state of the store's integrity check: 1 for
// state, 0 for the other states.
func (m *Metrics) StoreIntegrity(state string) {
	if m == nil {
		return
	}
	for _, st := range StoreIntegrityStates {
		v := 0.0
		if st == state {
			v = 1
		}
		m.storeIntegrity.WithLabelValues(st).Set(v)
	}
}

// StoreBuildStates are the state label values of StoreBuild
// (store.BuildStates; a test holds them equal).
var StoreBuildStates = []string{"waiting", "running", "retrying", "done"}

// StoreBuild records the state of a background build of the store: 1 for
// state, 0 for the others, and the work left.
func (m *Metrics) StoreBuild(build, state string, remaining int64) {
	if m == nil {
		return
	}
	for _, st := range StoreBuildStates {
		v := 0.0
		if st == state {
			v = 1
		}
		m.storeBuild.WithLabelValues(build, st).Set(v)
	}
	m.storeBuildLeft.WithLabelValues(build).Set(float64(remaining))
}

// StoreBuildFailed counts a failed step of a background build.
func (m *Metrics) StoreBuildFailed(build string) {
	if m == nil {
		return
	}
	m.storeBuildFailed.WithLabelValues(build).Inc()
}

// StoreAutoVacuumModes are the mode label values of StoreFile
// (store.AutoVacuumModes; a test holds them equal).
var StoreAutoVacuumModes = []string{"none", "full", "incremental"}

// StoreFile records the SQLite store's size, its free pages and its
// auto-vacuum mode (1 for mode, 0 for the others).
func (m *Metrics) StoreFile(size, free int64, mode string) {
	if m == nil {
		return
	}
	m.storeFileBytes.WithLabelValues().Set(float64(size))
	m.storeFreeBytes.WithLabelValues().Set(float64(free))
	for _, v := range StoreAutoVacuumModes {
		x := 0.0
		if v == mode {
			x = 1
		}
		m.storeAutoVacuum.WithLabelValues(v).Set(x)
	}
}

// PostureScore records the latest score of a profile.
func (m *Metrics) PostureScore(profile string, v float64) {
	if m == nil {
		return
	}
	m.postureScore.WithLabelValues(profile).Set(v)
}

// CheckPassing records whether a posture check passed.
func (m *Metrics) CheckPassing(check string, ok bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	m.checkPassing.WithLabelValues(check).Set(v)
}

// StatusClass maps an HTTP status to its class label; 0 is "error".
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// endpointFamily keeps the endpoint label in its fixed set.
func endpointFamily(e string) string {
	switch e {
	case "logs", "token":
		return e
	default:
		return "management"
	}
}

// Leadership records whether this instance leads its org and which
// instance does ("" while nobody holds the lease).
func (m *Metrics) Leadership(leading bool, leader string) {
	if m == nil {
		return
	}
	m.haLeader.Reset()
	v := 0.0
	if leading {
		v = 1
	}
	m.haLeader.WithLabelValues(leader).Set(v)
}

// buildRevision is the VCS revision the binary was built from ("unknown"
// when the build did not stamp it, e.g. go test or -buildvcs=false).
func buildRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && kv.Value != "" {
				return kv.Value
			}
		}
	}
	return "unknown"
}
