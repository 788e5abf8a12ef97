package plugin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/enrich/mmdbtest"
	"github.com/oktaguard/oktaguard/pkg/metrics"
)

// TestHealthGeoIPSaysWhatIsInUse: a good ASN database replaced by a
// truncated copy of a newer one. "Save & test" must not say the file is
// loaded (it said "loaded <path>" from a stat of the file): it names the
// database still in use (its build date), the failed reload with its time
// and error, warns, and the failure is counted in
// oktaguard_geoip_reload_failures_total. Fails on the stat-based health.
func TestHealthGeoIPSaysWhatIsInUse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	asn := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	if err := os.WriteFile(asn, mmdbtest.ASN(t, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"orgUrl": srv.URL, "geoipAsnDB": asn, "storagePath": t.TempDir()})
	reg := prometheus.NewRegistry()
	d := newDatasource(NewRegistry(reg), backend.DataSourceInstanceSettings{
		UID: "health-geoip", JSONData: raw, DecryptedSecureJSONData: map[string]string{"apiToken": secretToken}})
	defer d.Dispose()
	check := func() (*backend.CheckHealthResult, map[string]string) {
		t.Helper()
		res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var det healthDetails
		if err := json.Unmarshal(res.JSONDetails, &det); err != nil {
			t.Fatalf("details %s: %v", res.JSONDetails, err)
		}
		return res, det.GeoIP
	}
	res, geo := check()
	inUse := "in use: " + asn + " (GeoLite2-ASN built 2026-11-24T00:00:00Z, file modified "
	if res.Status != backend.HealthStatusOk || !strings.HasPrefix(geo["asn"], inUse) || strings.Contains(geo["asn"], "failed") {
		t.Fatalf("good database: status %v, geoip %q, message %q", res.Status, geo, res.Message)
	}

	newer := mmdbtest.ASN(t, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err := os.WriteFile(asn, newer[:len(newer)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(asn, later, later)
	before := time.Now().UTC().Truncate(time.Second)
	for range 2 { // the same broken file checked twice: one failed reload
		res, geo = check()
	}
	line := geo["asn"]
	if !strings.HasPrefix(line, inUse) || !strings.Contains(line, "; last reload failed at ") ||
		!strings.Contains(line, ", the database above stays in use: enrich: geoip asn database "+asn+": ") {
		t.Fatalf("after a failed reload geoip.asn = %q\nwant the database in use (built 2026-11-24) and the failure", line)
	}
	at, err := time.Parse(time.RFC3339, strings.SplitN(strings.SplitN(line, "; last reload failed at ", 2)[1], ",", 2)[0])
	if err != nil || at.Before(before) || at.After(time.Now()) {
		t.Fatalf("failure time in %q: %v (want %s..now)", line, err, before)
	}
	if res.Status != backend.HealthStatusUnknown || !strings.Contains(res.Message, " GeoIP asn database: "+line+".") {
		t.Fatalf("status %v, message %q: want a warning naming the failed reload", res.Status, res.Message)
	}
	if v, err := metrics.CounterValue(reg, "oktaguard_geoip_reload_failures_total", "database", "asn"); err != nil || v != 1 {
		t.Fatalf("oktaguard_geoip_reload_failures_total{database=asn} = %v (%v), want 1", v, err)
	}
}

// TestHealthAnonymousIPDatabase: the data source takes the Anonymous-IP
// database the CLI has (geoip.anonymousDB) as jsonData.geoipAnonymousDB:
// "Save & test" names it in use with its build date, says when it is not
// configured, and fails naming the field and the file when the file is
// missing. Before, the plugin had no such setting.
func TestHealthAnonymousIPDatabase(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	anon := filepath.Join(dir, "GeoIP2-Anonymous-IP.mmdb")
	if err := os.WriteFile(anon, mmdbtest.Anonymous(t, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)), 0o600); err != nil {
		t.Fatal(err)
	}
	geoip := func(res *backend.CheckHealthResult) map[string]string {
		t.Helper()
		var det healthDetails
		if err := json.Unmarshal(res.JSONDetails, &det); err != nil {
			t.Fatalf("details %s: %v", res.JSONDetails, err)
		}
		return det.GeoIP
	}
	res := checkHealth(t, map[string]any{"orgUrl": srv.URL, "geoipAnonymousDB": anon}, nil)
	inUse := "in use: " + anon + " (GeoIP2-Anonymous-IP built 2026-11-24T00:00:00Z, file modified "
	if g := geoip(res); res.Status != backend.HealthStatusOk || !strings.HasPrefix(g["anonymous"], inUse) {
		t.Fatalf("status %v, geoip %q, message %q\nwant anonymous %q...", res.Status, g, res.Message, inUse)
	}
	res = checkHealth(t, map[string]any{"orgUrl": srv.URL}, nil)
	if g := geoip(res); !strings.HasPrefix(g["anonymous"], "not configured") {
		t.Fatalf("without the setting: geoip %q", g)
	}
	missing := filepath.Join(dir, "missing.mmdb")
	res = checkHealth(t, map[string]any{"orgUrl": srv.URL, "geoipAnonymousDB": missing}, nil)
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "geoipAnonymousDB") || !strings.Contains(res.Message, missing) {
		t.Fatalf("a missing file: status %v, message %q", res.Status, res.Message)
	}
}
