package orgsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestProfiles(t *testing.T) {
	for _, p := range Profiles() {
		if _, err := New(p); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if _, err := New("medium"); err == nil || !strings.Contains(err.Error(), "weak, strong, stig, mixed") {
		t.Fatalf("unknown profile: %v", err)
	}
}

func TestOktaShapes(t *testing.T) {
	org, _ := New("strong")
	res, body := get(t, org, "GET", "/api/v1/policies?type=ACCESS_POLICY")
	var pols []map[string]any
	if res.StatusCode != 200 || json.Unmarshal(body, &pols) != nil || len(pols) != 3 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	links := pols[0]["_links"].(map[string]any)
	if !strings.HasSuffix(links["rules"].(map[string]any)["href"].(string), "/api/v1/policies/"+PolicyAdminAccess+"/rules") {
		t.Fatalf("links %v", links)
	}
	_, body = get(t, org, "GET", "/api/v1/apps?filter="+`name+eq+"saasure"`)
	var apps []map[string]any
	_ = json.Unmarshal(body, &apps)
	if len(apps) != 1 || !strings.HasSuffix(apps[0]["_links"].(map[string]any)["accessPolicy"].(map[string]any)["href"].(string), "/api/v1/policies/"+PolicyAdminAccess) {
		t.Fatalf("apps %s", body)
	}
	_, body = get(t, org, "GET", "/api/v1/policies/"+PolicyAdminAccess+"/rules")
	var rules []struct {
		Actions struct {
			AppSignOn AppSignOnAction `json:"appSignOn"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(body, &rules); err != nil || len(rules) != 2 {
		t.Fatalf("rules %s", body)
	}
	vm := rules[0].Actions.AppSignOn.VerificationMethod
	if rules[0].Actions.AppSignOn.Access != "ALLOW" || vm == nil || vm.FactorMode != "2FA" || vm.Constraints[0].Possession.PhishingResistant != "REQUIRED" ||
		rules[1].Actions.AppSignOn.Access != "DENY" {
		t.Fatalf("rules %s", body)
	}
	_, body = get(t, org, "GET", "/api/v1/zones")
	if !strings.Contains(string(body), `"ipServiceCategories":{"include":["ALL_ANONYMIZERS"]}`) {
		t.Fatalf("zones %s", body)
	}
	if res, _ := get(t, org, "GET", "/api/v1/policies"); res.StatusCode != 400 {
		t.Fatalf("policies without type: %d", res.StatusCode)
	}
	if res, _ := get(t, org, "POST", "/api/v1/zones"); res.StatusCode != 405 {
		t.Fatalf("POST: %d", res.StatusCode)
	}
	if res, body := get(t, org, "GET", "/api/v1/nothing"); res.StatusCode != 404 || !strings.Contains(string(body), "E0000007") {
		t.Fatalf("404: %d %s", res.StatusCode, body)
	}
	if res, _ := get(t, org, "GET", "/api/v1/brands/bndDefault000001/pages/sign-in/customized"); res.StatusCode != 404 {
		t.Fatalf("uncustomized sign-in page: %d", res.StatusCode)
	}
}

func TestPagination(t *testing.T) {
	org, _ := New("strong")
	org.Mutate(func(s *State) { s.PageSize = 3 })
	srv := httptest.NewServer(org)
	defer srv.Close()
	next := srv.URL + "/api/v1/users?limit=200"
	var ids []string
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("no end")
		}
		res, err := http.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		var us []map[string]any
		_ = json.NewDecoder(res.Body).Decode(&us)
		res.Body.Close()
		if len(us) > 3 {
			t.Fatalf("page of %d over the cap", len(us))
		}
		for _, u := range us {
			ids = append(ids, u["id"].(string))
		}
		next = ""
		for _, l := range res.Header.Values("Link") {
			if strings.HasSuffix(l, `rel="next"`) {
				next = strings.TrimSuffix(strings.TrimPrefix(l[:strings.Index(l, ">")], "<"), ">")
			}
		}
	}
	if len(ids) != 10 {
		t.Fatalf("users %d", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

func TestRequiredScopeAndDeny(t *testing.T) {
	org, _ := New("strong")
	for path, want := range map[string]string{
		"/api/v1/policies":                                          "okta.policies.read",
		"/api/v1/users/00u1/roles":                                  "okta.roles.read",
		"/api/v1/users/00u1/factors":                                "okta.users.read",
		"/api/v1/iam/assignees/users":                               "okta.roles.read",
		"/api/v1/first-party-app-settings/admin-console":            "okta.apps.read",
		"/api/v1/brands/b/templates/email/PasswordChanged/settings": "okta.templates.read",
		"/api/v1/brands/b/pages/sign-in/customized":                 "okta.brands.read",
		"/api/v1/device-assurances":                                 "okta.deviceAssurance.read",
		"/api/v1/threats/configuration":                             "okta.threatInsights.read",
		"/api/v1/org/privacy/oktaSupport":                           "okta.orgs.read",
		"/api/v1/behaviors":                                         "okta.behaviors.read",
		"/api/v1/eventHooks":                                        "okta.eventHooks.read",
		"/.well-known/okta-organization":                            "",
	} {
		r := httptest.NewRequest("GET", path, nil)
		if got := org.RequiredScope(r); got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	if got := org.RequiredScope(httptest.NewRequest("POST", "/api/v1/zones", nil)); got != "okta.networkZones.manage" {
		t.Errorf("POST zones: %q", got)
	}
	org.DenyScope("okta.networkZones.read")
	res, _ := get(t, org, "GET", "/api/v1/zones")
	if res.StatusCode != 403 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `scope="okta.networkZones.read"`) {
		t.Fatalf("denied: %d %v", res.StatusCode, res.Header)
	}
}
