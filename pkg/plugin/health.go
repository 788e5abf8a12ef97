package plugin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/pipeline"
	"github.com/oktaguard/oktaguard/pkg/store"
)

// healthDetails is CheckHealth's JSON details (shown by Grafana and used
// by tests and support).
type healthDetails struct {
	OrgURL             string            `json:"orgUrl,omitempty"`
	AuthType           string            `json:"authType,omitempty"`
	Demo               bool              `json:"demo,omitempty"`
	BackfillProgress   float64           `json:"backfillProgress"`
	BackfillDone       bool              `json:"backfillDone"`
	LastPollSuccess    string            `json:"lastPollSuccess,omitempty"`
	LagSeconds         float64           `json:"lagSeconds"`
	RateLimitLimit     int               `json:"rateLimitLimit"`
	RateLimitRemaining int               `json:"rateLimitRemaining"`
	RateLimitBudget    int               `json:"rateLimitBudget"`
	EventsIngested     int64             `json:"eventsIngested"`
	Alerts             int64             `json:"alerts"`
	LastError          string            `json:"lastError,omitempty"`
	MissingScopes      []string          `json:"missingScopes,omitempty"`
	GeoIP              map[string]string `json:"geoip,omitempty"`
	// InputProblems are the rejected enrichment inputs, one line each:
	// IP-list files with bad lines (file:line samples), failed list or
	// GeoIP reloads, undecodable GeoIP records.
	InputProblems []string       `json:"inputProblems,omitempty"`
	PostureScore  *float64       `json:"postureScore,omitempty"`
	Posture       *healthPosture `json:"posture,omitempty"`
	// HA: "leader" or "follower", the instance that leads and this one.
	Role     string `json:"role,omitempty"`
	Leader   string `json:"leader,omitempty"`
	Instance string `json:"instance,omitempty"`
	// ReadOnly: the store may only be read (the user's privileges, a
	// read-only session or a hot standby); the instance never leads.
	ReadOnly bool   `json:"readOnly,omitempty"`
	Storage  string `json:"storage,omitempty"` // backend and location, never a password
	// StoreIntegrity is the SQLite store's integrity check, run in the
	// background after the open: checking, ok, corrupt or stopped, with
	// the error of the last two ("" for PostgreSQL).
	StoreIntegrity string `json:"storeIntegrity,omitempty"`
	// StoreBuilds are the store's background builds (PostgreSQL's geo
	// sets after a migration), one line each: name, state, work left,
	// failures in a row and the last error (never a secret).
	StoreBuilds []string `json:"storeBuilds,omitempty"`
}

// healthPosture is the posture part of the health details.
type healthPosture struct {
	// State: disabled, in_progress (no report yet), failed (no report;
	// Error says why), partial (published before every input was read),
	// ok.
	State       string       `json:"state"`
	Error       string       `json:"error,omitempty"`
	Engine      string       `json:"engine,omitempty"`
	EvaluatedAt string       `json:"evaluatedAt,omitempty"`
	Gaps        []postureGap `json:"missingPermissions,omitempty"`
}

// CheckHealth makes a real call to Okta with the configured credentials
// and reports ingestion progress. Messages are written for an admin.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	if d.settingsErr != nil {
		msg := d.settingsErr.Error()
		if errors.Is(d.settingsErr, okta.ErrOrgURL) {
			msg = healthMessage(d.settingsErr, d.settings)
		}
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	p := d.run.p
	det := healthDetails{OrgURL: p.Client().OrgURL().String(), AuthType: d.settings.AuthType, Demo: d.settings.Demo}
	if d.settings.Demo {
		det.OrgURL = "demo (in-process simulator)"
	}
	// The real call: one System Log request with the configured credentials,
	// a single attempt so that its failure is reported as it is.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var page []json.RawMessage
	_, callErr := p.Client().GetRawOnce(cctx, "/api/v1/logs?limit=1&sortOrder=DESCENDING", &page)

	p.CheckInputs() // a GeoIP or list file changed since the last check is reported as it is
	st := p.Status()
	det.GeoIP = geoipStatus(d.settings, st)
	det.BackfillProgress, det.BackfillDone = st.BackfillProgress, st.BackfillDone
	if !st.LastPollSuccess.IsZero() {
		det.LastPollSuccess = st.LastPollSuccess.UTC().Format(time.RFC3339)
	}
	det.LagSeconds = st.Lag.Seconds()
	det.RateLimitLimit, det.RateLimitRemaining, det.RateLimitBudget = st.RateLimitLimit, st.RateLimitRemaining, st.RateLimitBudget
	det.EventsIngested, det.Alerts, det.LastError = st.EventsIngested, st.Alerts, st.LastError
	det.InputProblems = st.InputProblems
	if st.PostureProfile != "" {
		v := st.PostureScore
		det.PostureScore = &v
	}
	rep, hasRep := d.latestPosture(ctx)
	det.Posture = d.healthPosture(rep, hasRep)
	det.MissingScopes = missingScopes(callErr, det.Posture.Gaps)
	det.Role, det.Leader, det.Instance, det.ReadOnly = st.Role, st.Leader, st.Instance, st.ReadOnly
	det.Storage = p.Store().Describe()
	in := st.StoreIntegrity
	det.StoreIntegrity = in.State
	if in.Err != nil {
		det.StoreIntegrity += ": " + in.Err.Error()
	}
	for _, b := range st.StoreBuilds {
		det.StoreBuilds = append(det.StoreBuilds, buildLine(b))
	}
	body, _ := json.Marshal(det)

	if in.State == store.IntegrityCorrupt {
		// ingestion stops (commits are refused) and queries may fail
		// wherever they read a damaged page
		msg := "The store is damaged: " + in.Err.Error() + "."
		if callErr != nil {
			msg += " " + healthMessage(callErr, d.settings)
		}
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg, JSONDetails: body}, nil
	}

	if callErr != nil {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: healthMessage(callErr, d.settings), JSONDetails: body}, nil
	}
	msg := "Connected to Okta. "
	if st.BackfillDone {
		msg += fmt.Sprintf("Backfill complete; lag %s.", st.Lag.Round(time.Second))
	} else {
		msg += fmt.Sprintf("Backfill %.0f%% done.", st.BackfillProgress*100)
	}
	if !st.LastPollSuccess.IsZero() {
		msg += fmt.Sprintf(" Last successful poll %s ago.", time.Since(st.LastPollSuccess).Round(time.Second))
	}
	if st.RateLimitLimit > 0 {
		msg += fmt.Sprintf(" Rate limit: %d of %d remaining this minute (budget %d/min).", st.RateLimitRemaining, st.RateLimitLimit, st.RateLimitBudget)
	}
	switch st.Role {
	case "follower":
		leader := st.Leader
		if leader == "" {
			leader = "no instance yet (taking over)"
		}
		msg += fmt.Sprintf(" HA: this instance follows; %s leads (ingests and evaluates posture); queries are served from the shared store.", leader)
		if st.ReadOnly {
			msg += " Its store is read-only (a user that may only read, or a hot standby): it serves queries and never leads."
		}
	case "leader":
		if strings.HasPrefix(det.Storage, "postgres") {
			msg += " HA: this instance leads the org."
		}
	}
	// Partial posture permissions do not fail a connection that ingests:
	// the message says what is missing and which checks it costs.
	status := backend.HealthStatusOk
	if g := det.Posture.Gaps; len(g) > 0 {
		msg += " Posture checks cannot read everything: missing " + gapText(g) + "; those checks report error until the permission is granted."
	}
	switch det.Posture.State {
	case "in_progress":
		msg += " First posture evaluation in progress."
	case "failed":
		msg += " Posture evaluation failed: " + det.Posture.Error + "."
	}
	for _, g := range st.GeoIP {
		if g.Error != "" {
			status = backend.HealthStatusUnknown
			msg += fmt.Sprintf(" GeoIP %s database: %s.", g.Kind, det.GeoIP[g.Kind])
		}
	}
	switch in.State {
	case store.IntegrityChecking:
		msg += fmt.Sprintf(" Store integrity check running since %s (the store is in use meanwhile).", in.Started.UTC().Format(time.RFC3339))
	case store.IntegrityStopped:
		status = backend.HealthStatusUnknown
		msg += " " + in.Err.Error() + "."
	}
	// A failing background build does not stop ingestion nor change any
	// answer (queries over the days not built read raw rows, slower), but
	// it needs the admin while it fails.
	for _, b := range st.StoreBuilds {
		if b.State == store.BuildRetrying {
			status = backend.HealthStatusUnknown
			msg += " Store background build failing (retrying): " + buildLine(b) + "."
		}
	}
	// Rejected enrichment inputs do not stop ingestion, but what the admin
	// configured is not all in use: a warning naming each one.
	if n := len(st.InputProblems); n > 0 {
		status = backend.HealthStatusUnknown
		msg += fmt.Sprintf(" Enrichment inputs rejected (%d): %s.", n, strings.Join(st.InputProblems, " | "))
	}
	return &backend.CheckHealthResult{Status: status, Message: msg, JSONDetails: body}, nil
}

// buildLine is a background build's state in one line.
func buildLine(b store.Build) string {
	line := fmt.Sprintf("%s: %s, %d %s left", b.Name, b.State, b.Remaining, b.Unit)
	if b.State == store.BuildWaiting {
		line += " (the org's leader builds)"
	}
	if b.Failures > 0 {
		line += fmt.Sprintf(", %d failures in a row", b.Failures)
	}
	if b.LastError != "" {
		line += fmt.Sprintf("; last error at %s: %s", b.LastErrorAt.UTC().Format(time.RFC3339), b.LastError)
	}
	return line
}

// healthMessage turns a failed Okta call into a friendly, secret-free
// message per failure class.
func healthMessage(err error, s Settings) string {
	var apiErr *okta.APIError
	errors.As(err, &apiErr)
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unkAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, okta.ErrOrgURL):
		return "Okta org URL refused (" + orgURLReason(err) + "). Use https://<your-org>.okta.com (plain http is only allowed to a loopback address)."
	case errors.Is(err, okta.ErrUnauthorized):
		if s.AuthType == "oauth" {
			return "Okta rejected the OAuth service app's credentials: check the client id, that the public key registered in Okta matches the private key, and that DPoP is not required for the app."
		}
		return "Okta rejected the API token (invalid, expired or revoked). Create a new token in Security → API → Tokens and save it here."
	case errors.Is(err, okta.ErrInsufficientScope) && apiErr != nil && apiErr.Code == "invalid_scope":
		// the token endpoint refused the whole request: Okta does not say which scope
		return "Okta refused the OAuth scopes this data source requests (invalid_scope" + summarySuffix(apiErr) + "): grant every scope in the list to the service app (Okta API Scopes tab), or remove the ones it should not have, and save again."
	case errors.Is(err, okta.ErrInsufficientScope):
		scope := ""
		if apiErr != nil {
			scope = apiErr.Scope
		}
		if scope == "" {
			scope = okta.LogsScope
		}
		return fmt.Sprintf("The OAuth service app lacks the scope %s: grant it in Okta (Okta API Scopes tab) and save again.", scope)
	case errors.Is(err, okta.ErrDPoP):
		return "The OAuth service app requires DPoP, which this plugin does not send: untick \"Require Demonstrating Proof of Possession\" for the app in Okta."
	case errors.Is(err, okta.ErrForbidden):
		return "Okta refused access to the System Log: the token's admin needs a read-only administrator role (or the app the okta.logs.read scope)."
	case errors.Is(err, okta.ErrRateLimited):
		return "Okta rate-limited the check (HTTP 429): the org's System Log rate limit is used up for this minute, by ingestion or by other clients of the same org. Try again after the reset; if it persists, lower the rate-limit share of the data sources and tools sharing the org."
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("Cannot resolve the Okta domain %q: check the org URL and the DNS of the Grafana server.", dnsErr.Name)
	case errors.As(err, &certErr), errors.As(err, &unkAuth), errors.As(err, &hostErr), strings.Contains(err.Error(), "tls:"), strings.Contains(err.Error(), "x509:"):
		return "TLS handshake with Okta failed (" + tlsReason(err) + "): check the org URL and any TLS-intercepting proxy between Grafana and Okta."
	case errors.Is(err, context.DeadlineExceeded), isNetErr(err):
		return "Okta is unreachable from the Grafana server (" + shortCause(err) + "): check the network path, proxy and firewall."
	default:
		return "Okta call failed: " + err.Error()
	}
}

// orgURLReason is the validation message without the sentinel's prefix.
func orgURLReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, okta.ErrOrgURL.Error()+": "); i >= 0 {
		return msg[i+len(okta.ErrOrgURL.Error())+2:]
	}
	return msg
}

// summarySuffix is ": <Okta's error summary>" when Okta sent one.
func summarySuffix(e *okta.APIError) string {
	if e.Summary == "" {
		return ""
	}
	return ": " + e.Summary
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, okta.ErrRetriesExhausted)
}

func tlsReason(err error) string {
	s := err.Error()
	if i := strings.Index(s, "x509: "); i >= 0 {
		return s[i:]
	}
	if i := strings.Index(s, "tls: "); i >= 0 {
		return s[i:]
	}
	return "certificate not accepted"
}

func shortCause(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return err.Error()
}

// missingScopes lists the OAuth scopes (or admin-role permissions) Okta
// refused: the health call's and the latest posture report's.
func missingScopes(callErr error, gaps []postureGap) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var apiErr *okta.APIError
	if errors.As(callErr, &apiErr) && errors.Is(callErr, okta.ErrInsufficientScope) {
		add(apiErr.Scope)
	}
	for _, g := range gaps {
		add(g.Scope)
	}
	return out
}

// healthPosture summarises the posture evaluation for the health check.
func (d *Datasource) healthPosture(rep *postureReport, hasRep bool) *healthPosture {
	st := d.run.p.PostureStatus()
	hp := &healthPosture{}
	switch {
	case !st.Enabled:
		hp.State = "disabled"
		return hp
	case !hasRep && st.LastError != "" && !st.Running:
		hp.State, hp.Error = "failed", st.LastError
		return hp
	case !hasRep:
		hp.State = "in_progress"
		return hp
	}
	hp.State, hp.Engine, hp.EvaluatedAt, hp.Gaps = "ok", rep.Engine, rep.EvaluatedAt.UTC().Format(time.RFC3339), rep.Gaps
	if rep.Partial {
		hp.State = "partial"
	}
	return hp
}

// geoipStatus reports each GeoIP database as in use (st.GeoIP, the
// pipeline's view), not the file on disk: after a failed reload the last database that
// loaded still answers, and the failure is named with its time and error.
func geoipStatus(s Settings, st pipeline.Status) map[string]string {
	out := map[string]string{}
	for name, p := range map[string]string{"city": s.GeoIPCityDB, "asn": s.GeoIPASNDB} {
		if p == "" {
			out[name] = "not configured (Okta's own geolocation is used)"
		}
	}
	if s.GeoIPAnonymousDB == "" {
		out["anonymous"] = "not configured (anonymizers are known from Okta's own flags and the anonymous IP list only)"
	}
	for _, d := range st.GeoIP {
		line := fmt.Sprintf("in use: %s (%s)", d.Path, d.InUse())
		if d.Error != "" {
			line += fmt.Sprintf("; last reload failed at %s, the database above stays in use: %s", d.ErrorAt.Format(time.RFC3339), d.Error)
		}
		out[d.Kind] = line
	}
	return out
}
