package plugin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/store"
	"github.com/oktaguard/oktaguard/pkg/store/storetest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

var healthUIDs int // a fresh data source (and store) per case

// checkHealth runs CheckHealth on a data source built from jsonData (the
// apiToken secret unless secure is given) and disposes of it.
func checkHealth(t *testing.T, jsonData map[string]any, secure map[string]string) *backend.CheckHealthResult {
	t.Helper()
	healthUIDs++
	jsonData["storagePath"] = t.TempDir()
	raw, err := json.Marshal(jsonData)
	if err != nil {
		t.Fatal(err)
	}
	if secure == nil {
		secure = map[string]string{"apiToken": secretToken}
	}
	d := newDatasource(NewRegistry(prometheus.NewRegistry()), backend.DataSourceInstanceSettings{
		UID: fmt.Sprintf("health-%d", healthUIDs), JSONData: raw, DecryptedSecureJSONData: secure})
	defer d.Dispose()
	start := time.Now()
	res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the check took %s: it must report the cause, not wait out retries", took)
	}
	if strings.Contains(res.Message, secretToken) || strings.Contains(string(res.JSONDetails), secretToken) {
		t.Fatalf("health result leaks the token: %q", res.Message)
	}
	return res
}

// TestHealthMessagePerFailureClass: every failure class of "Save & test"
// gets its own message, naming the cause and what to do, at once.
func TestHealthMessagePerFailureClass(t *testing.T) {
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler()) // certificate no one trusts
	defer tlsSrv.Close()
	limited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Limit", "120")
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", "4102444800") // far in the future
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`))
	}))
	defer limited.Close()
	refused := closedPort(t)

	cases := []struct {
		name    string
		orgURL  string
		want    string
		wantAny []string
	}{
		{"dns", "https://oktaguard-health-test.invalid", `Cannot resolve the Okta domain "oktaguard-health-test.invalid"`, nil},
		{"tls", tlsSrv.URL, "TLS handshake with Okta failed (", []string{"certificate", "x509"}},
		{"unreachable", "https://" + refused, "Okta is unreachable from the Grafana server (", []string{"refused"}},
		{"rate limited", limited.URL, "Okta rate-limited the check (HTTP 429)", nil},
		{"plain http to a remote host", "http://example.okta.com", "Okta org URL refused (", []string{"http"}},
		{"url with a path", "https://example.okta.com/admin", "Okta org URL refused (", []string{"path"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := checkHealth(t, map[string]any{"orgUrl": c.orgURL}, nil)
			if res.Status != backend.HealthStatusError {
				t.Fatalf("status %v, want error: %q", res.Status, res.Message)
			}
			if !strings.Contains(res.Message, c.want) {
				t.Fatalf("message %q\nwant it to contain %q", res.Message, c.want)
			}
			if strings.Contains(res.Message, "timed out") {
				t.Errorf("message blames a timeout: %q", res.Message)
			}
			if len(c.wantAny) > 0 && !containsAny(res.Message, c.wantAny) {
				t.Errorf("message %q names none of %q", res.Message, c.wantAny)
			}
		})
	}
}

// TestHealthInvalidScopeNamesNoWrongScope: when the token endpoint refuses
// the requested scopes as a whole, the message says so instead of naming
// okta.logs.read.
func TestHealthInvalidScopeNamesNoWrongScope(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/oauth2/v1/token" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_scope","error_description":"One or more scopes are not configured for the authorization server resource."}`))
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	res := checkHealth(t, map[string]any{"orgUrl": srv.URL, "authType": "oauth", "clientId": "0oa-health-test",
		"scopes": []string{"okta.logs.read", "okta.policies.read"}}, map[string]string{"privateKey": pemKey})
	if res.Status != backend.HealthStatusError {
		t.Fatalf("status %v: %q", res.Status, res.Message)
	}
	if !strings.Contains(res.Message, "refused the OAuth scopes") || !strings.Contains(res.Message, "not configured for the authorization server") {
		t.Fatalf("message %q", res.Message)
	}
	if strings.Contains(res.Message, "lacks the scope okta.logs.read") {
		t.Fatalf("message blames okta.logs.read: %q", res.Message)
	}
	for _, line := range strings.Split(pemKey, "\n")[1:3] {
		if strings.Contains(res.Message, line) {
			t.Fatal("message leaks the private key")
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestHealthListsRejectedInputs: an IP list with bad lines still loads
// its good ones, and "Save & test" warns with each rejected line
// (file:line); a list with no valid line is an error.
func TestHealthListsRejectedInputs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/logs" {
			_, _ = w.Write([]byte(`[]`))
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	dir := t.TempDir()
	list := filepath.Join(dir, "suspicious.txt")
	if err := os.WriteFile(list, []byte("198.51.100.7\n300.1.1.1\n1.2.3.4/99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := checkHealth(t, map[string]any{"orgUrl": srv.URL, "ipLists": map[string]any{"suspicious": []string{list}}}, nil)
	want := "ipLists.suspicious " + list + ": 2 lines ignored (" + list + ":2: not an IP, CIDR, IP range or AS number; " + list + `:3: bad CIDR "1.2.3.4/99")`
	if res.Status != backend.HealthStatusUnknown || !strings.Contains(res.Message, " Enrichment inputs rejected (1): "+want+".") {
		t.Fatalf("status %v, message %q\nwant a warning with %q", res.Status, res.Message, want)
	}
	var det healthDetails
	if err := json.Unmarshal(res.JSONDetails, &det); err != nil {
		t.Fatal(err)
	}
	if len(det.InputProblems) != 1 || det.InputProblems[0] != want {
		t.Fatalf("details inputProblems %q", det.InputProblems)
	}

	bad := filepath.Join(dir, "all-bad.txt")
	if err := os.WriteFile(bad, []byte("300.1.1.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = checkHealth(t, map[string]any{"orgUrl": srv.URL, "ipLists": map[string]any{"suspicious": []string{bad}}}, nil)
	if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "enrich: suspicious list: ip list "+bad+": no valid line (1 bad lines; first: "+bad+":1: not an IP, CIDR, IP range or AS number)") {
		t.Fatalf("a list with no valid line: status %v, message %q", res.Status, res.Message)
	}
}

// TestHealthNamesBrokenGeoIPDatabase: a GeoIP file that exists but is not
// a MaxMind database (here: an empty one, and text) fails "Save & test"
// with the database and file named (docs/operations.md, Troubleshooting),
// not a pipeline that runs without it.
func TestHealthNamesBrokenGeoIPDatabase(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	for _, c := range []struct{ name, content string }{{"empty", ""}, {"text", "not a database"}} {
		db := filepath.Join(dir, c.name+".mmdb")
		if err := os.WriteFile(db, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		res := checkHealth(t, map[string]any{"orgUrl": srv.URL, "geoipAsnDB": db}, nil)
		want := "cannot start ingestion: pipeline: enrich: geoip asn database " + db + ": "
		if res.Status != backend.HealthStatusError || !strings.Contains(res.Message, want) {
			t.Errorf("%s database: status %v, message %q\nwant an error with %q", c.name, res.Status, res.Message, want)
		}
	}
}

// TestHealthNamesDamagedStore: a store with damaged pages opens (its
// integrity check runs after the open), and "Save & test" then fails
// naming the file and the damage.
func TestHealthNamesDamagedStore(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "oktaguard-health-damaged.db")
	storetest.CorruptSQLite(t, path)
	raw, _ := json.Marshal(map[string]any{"orgUrl": srv.URL, "storagePath": dir})
	d := newDatasource(NewRegistry(prometheus.NewRegistry()), backend.DataSourceInstanceSettings{
		UID: "health-damaged", JSONData: raw, DecryptedSecureJSONData: map[string]string{"apiToken": secretToken}})
	defer d.Dispose()
	var res *backend.CheckHealthResult
	testwait.Until(t, time.Minute, "the health check to report the damage", func() bool {
		var err error
		res, err = d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return !strings.Contains(string(res.JSONDetails), `"storeIntegrity":"checking"`)
	})
	want := "The store is damaged: store " + path + ": store is corrupt: quick_check found: "
	if res.Status != backend.HealthStatusError || !strings.HasPrefix(res.Message, want) {
		t.Fatalf("status %v, message %q\nwant an error starting %q", res.Status, res.Message, want)
	}
	var det healthDetails
	if err := json.Unmarshal(res.JSONDetails, &det); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(det.StoreIntegrity, "corrupt: store "+path) {
		t.Fatalf("details storeIntegrity %q", det.StoreIntegrity)
	}
}

// A background build's health line names its state, the work left, the
// failures in a row and the last error.
func TestHealthBuildLine(t *testing.T) {
	at := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	got := buildLine(store.Build{Name: "geo_sets", State: store.BuildRetrying, Remaining: 90, Unit: "hours", Failures: 3,
		LastError: "permission denied", LastErrorAt: at})
	want := "geo_sets: retrying, 90 hours left, 3 failures in a row; last error at 2026-12-04T06:00:00Z: permission denied"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := buildLine(store.Build{Name: "geo_sets", State: store.BuildWaiting, Remaining: 96, Unit: "hours"}); got != "geo_sets: waiting, 96 hours left (the org's leader builds)" {
		t.Fatalf("waiting: %q", got)
	}
}
