package plugin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// Through the plugin's gRPC protocol, with an API token whose admin role
// cannot read users, roles, API tokens or log streams: every posture query
// from the moment the data source connects returns rows or a notice
// (never an empty frame with no word), the first report comes within 60 s
// with only the checks needing what is missing in error, the frame says
// which permissions are missing, and health is OK saying the same.
func TestPosturePartialPermissionsOverGRPC(t *testing.T) {
	e := newEnv(t, "posture-readonly", 60, 24*time.Hour, func(o *demo.Options) { o.Posture = "readonly-admin" })
	start := time.Now()
	var rows, polls int
	var firstNotice string
	testwait.Until(t, 60*time.Second, "a posture report after connecting", func() bool {
		r := e.query(t, e.ds, false, plugintest.Query{RefID: "P", Model: map[string]any{"queryType": "posture"}})["P"]
		polls++
		if r.Error != "" {
			t.Fatalf("posture query: %s", r.Error)
		}
		if len(r.Frames) != 1 {
			t.Fatalf("posture query returned %d frames", len(r.Frames))
		}
		f := r.Frames[0]
		rows = f.Rows()
		if rows == 0 {
			if f.Meta == nil || len(f.Meta.Notices) == 0 {
				t.Fatalf("poll %d after %s: empty posture frame without a notice", polls, time.Since(start).Round(time.Millisecond))
			}
			if firstNotice == "" {
				firstNotice = f.Meta.Notices[0].Text
			}
		}
		return rows > 0
	})
	t.Logf("first posture report after %s (%d polls; notice before it: %q)", time.Since(start).Round(time.Millisecond), polls, firstNotice)
	if firstNotice != "" && !strings.Contains(firstNotice, "First evaluation in progress") {
		t.Fatalf("notice before the first report: %q", firstNotice)
	}

	// The complete report: exactly the checks reading users, roles and API
	// tokens error (log offload is decided by the plugin's own ingestion).
	var errs []string
	var notices []string
	testwait.Until(t, 60*time.Second, "the complete report to follow the partial one", func() bool {
		r := e.query(t, e.ds, false, plugintest.Query{RefID: "P", Model: map[string]any{"queryType": "posture", "status": "error"}})["P"]
		f := r.Frames[0]
		errs, notices = nil, nil
		for i := 0; i < f.Rows(); i++ {
			v, _ := f.Fields[0].ConcreteAt(i)
			errs = append(errs, v.(string))
		}
		if f.Meta != nil {
			for _, n := range f.Meta.Notices {
				notices = append(notices, n.Text)
			}
		}
		partial, _ := f.Meta.Custom.(map[string]any)["partial"].(bool)
		return !partial
	})
	want := map[string]bool{"okta.users.mfa_coverage": true, "okta.users.dormant": true, "okta.admins.dormant": true, "okta.admins.mfa": true,
		"okta.admins.stale_password": true, "okta.admins.super_admin_count": true, "okta.admins.privileged_count": true,
		"okta.api_tokens.network_restricted": true, "okta.api_tokens.not_super_admin": true, "okta.api_tokens.hygiene": true}
	for _, id := range errs {
		if !want[id] && id != "okta.logging.log_offload" {
			t.Errorf("unexpected error check %s", id)
		}
		delete(want, id)
	}
	if len(want) > 0 {
		t.Errorf("checks that should error but do not: %v", want)
	}
	joined := strings.Join(notices, " | ")
	for _, sc := range []string{"okta.users.read", "okta.roles.read", "okta.apiTokens.read", "okta.logStreams.read"} {
		if !strings.Contains(joined, sc) {
			t.Errorf("frame notices %q do not name %s", joined, sc)
		}
	}

	h := e.health(t, e.ds)
	if h.Status != "OK" || !strings.Contains(h.Message, "missing okta.apiTokens.read (affects okta.api_tokens.") ||
		!strings.Contains(h.Message, "okta.users.read (affects okta.users.mfa_coverage") {
		t.Fatalf("health %s: %s", h.Status, h.Message)
	}
	p, _ := h.Details["posture"].(map[string]any)
	gaps, _ := p["missingPermissions"].([]any)
	if p["state"] != "ok" || p["engine"] != "identity_engine" || len(gaps) != 4 {
		t.Fatalf("health details posture: %v", p)
	}
	if ms, _ := h.Details["missingScopes"].([]any); len(ms) != 4 {
		t.Fatalf("health details missingScopes: %v", h.Details["missingScopes"])
	}
	assertNoSecretInPosture(t, joined+h.Message)

	// A profile this data source does not evaluate: a notice says so.
	r := e.query(t, e.ds, false, plugintest.Query{RefID: "S", Model: map[string]any{"queryType": "posture", "profile": "stig"}})["S"]
	if f := r.Frames[0]; f.Rows() != 0 || f.Meta == nil || len(f.Meta.Notices) != 1 || !strings.Contains(f.Meta.Notices[0].Text, `evaluates profile "baseline"`) {
		t.Fatalf("stig query: rows %d meta %+v", f.Rows(), f.Meta)
	}
}

func assertNoSecretInPosture(t *testing.T, s string) {
	t.Helper()
	if strings.Contains(s, testToken) {
		t.Fatal("token leaked into posture notices or health")
	}
}
