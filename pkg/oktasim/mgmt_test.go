package oktasim

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeMgmt stands in for E7's orgsim: it echoes the principal and declares
// scopes for /api/v1/policies only.
type fakeMgmt struct{}

func (fakeMgmt) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/v1/nothing") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`[{"path":"` + r.URL.Path + `","principal":"` + PrincipalFromContext(r.Context()) + `"}]`))
}

func (fakeMgmt) RequiredScope(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/api/v1/policies") {
		return "okta.policies.read"
	}
	return ""
}

func TestMgmtDelegation(t *testing.T) {
	k1, _ := rsaKeys(t)
	e := newEnv(t, Options{Mgmt: fakeMgmt{}, EndpointLimits: map[string]int{"/api/v1/users": 8}})
	e.sim.RegisterOAuthClient("0oa1", &k1.PublicKey, "kid1", []string{"okta.logs.read", "okta.users.manage", "okta.policies.read"})

	// SSWS: full access, principal passed in the context.
	r := e.get(t, "/api/v1/policies?type=PASSWORD")
	if r.status != 200 || !strings.Contains(string(r.body), PrincipalForToken(testToken)) {
		t.Fatalf("ssws mgmt: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), testToken) {
		t.Fatal("token leaked into the principal label")
	}
	if r.header.Get("X-Rate-Limit-Limit") == "" || r.header.Get("X-Okta-Request-Id") == "" {
		t.Fatalf("mgmt without common headers: %v", r.header)
	}
	// Unauthenticated → 401 before the handler.
	if r := e.do(t, http.MethodGet, "/api/v1/policies", ""); r.status != 401 {
		t.Fatalf("no auth: %d", r.status)
	}

	onlyLogs := e.issue(t, k1, "0oa1", "okta.logs.read")
	withPolicies := e.issue(t, k1, "0oa1", "okta.policies.read")
	usersManage := e.issue(t, k1, "0oa1", "okta.users.manage")
	cases := []struct {
		name, method, path, token string
		status                    int
	}{
		{"declared scope missing", http.MethodGet, "/api/v1/policies", onlyLogs, 403},
		{"declared scope present", http.MethodGet, "/api/v1/policies", withPolicies, 200},
		{"table scope missing", http.MethodGet, "/api/v1/users", onlyLogs, 403},
		{"manage covers read", http.MethodGet, "/api/v1/users", usersManage, 200},
		{"manage for POST", http.MethodPost, "/api/v1/users", usersManage, 200},
		{"role read needs roles scope", http.MethodGet, "/api/v1/users/00u1/roles", usersManage, 403},
		{"no scope needed for unknown path", http.MethodGet, "/api/v1/nothing", onlyLogs, 204},
	}
	for _, tc := range cases {
		r := e.do(t, tc.method, tc.path, "Bearer "+tc.token)
		if r.status != tc.status {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
		if tc.status == 403 && !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Errorf("%s: no insufficient_scope header", tc.name)
		}
	}
	// EndpointLimits: /api/v1/users has a bucket of 8 → ceiling 4 per principal.
	e.sim.AddToken("t2")
	codes := []int{}
	for i := 0; i < 5; i++ {
		codes = append(codes, e.do(t, http.MethodGet, "/api/v1/users", "SSWS t2").status)
	}
	if codes[0] != 200 || codes[3] != 200 || codes[4] != 429 {
		t.Fatalf("users bucket: %v", codes)
	}
	st := e.sim.Stats()
	if st.ByEndpoint["/api/v1/policies"] == 0 || st.ByEndpoint["/api/v1/users"] == 0 || st.ByEndpoint[tokenPath] != 3 {
		t.Fatalf("per-endpoint stats %v", st.ByEndpoint)
	}
}

func TestRequiredScopeFor(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/v1/logs", "okta.logs.read"},
		{"GET", "/api/v1/policies", "okta.policies.read"},
		{"GET", "/api/v1/policies/00p1/rules", "okta.policies.read"},
		{"PUT", "/api/v1/policies/00p1", "okta.policies.manage"},
		{"GET", "/api/v1/authenticators", "okta.authenticators.read"},
		{"GET", "/api/v1/zones", "okta.networkZones.read"},
		{"GET", "/api/v1/iam/roles", "okta.roles.read"},
		{"GET", "/api/v1/groups/00g1/roles", "okta.roles.read"},
		{"GET", "/api/v1/groups", "okta.groups.read"},
		{"GET", "/api/v1/apps", "okta.apps.read"},
		{"GET", "/api/v1/idps", "okta.idps.read"},
		{"GET", "/api/v1/usersX", ""},
		{"GET", "/unknown", ""},
	} {
		if got := RequiredScopeFor(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: %q want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestLoggerNeverLogsSecrets(t *testing.T) {
	k1, _ := rsaKeys(t)
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), nil))
	e := newEnv(t, Options{Logger: logger})
	e.sim.RegisterOAuthClient("0oa1", &k1.PublicKey, "kid1", []string{"okta.logs.read"})
	e.get(t, "/api/v1/logs?limit=5")
	e.do(t, http.MethodGet, "/api/v1/logs", "SSWS wrong-secret-token")
	at := e.issue(t, k1, "0oa1", "okta.logs.read")
	e.do(t, http.MethodGet, "/api/v1/logs", "Bearer "+at)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if strings.Count(out, "oktasim request") != 4 {
		t.Fatalf("want 4 log lines, got:\n%s", out)
	}
	for _, secret := range []string{testToken, "wrong-secret-token", at, "client_assertion", "eyJ"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log output contains a secret (%.8s...):\n%s", secret, out)
		}
	}
	if !strings.Contains(out, PrincipalForToken(testToken)) || !strings.Contains(out, "status=401") {
		t.Fatalf("log lines lack principal/status:\n%s", out)
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
