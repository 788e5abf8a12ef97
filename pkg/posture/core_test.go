package posture

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func pwPolicy(id, name string, system bool, minLen int) Policy {
	p := Policy{ID: id, Name: name, Type: PolicyPassword, Status: "ACTIVE", System: system,
		Settings: &PolicySettings{Password: &PasswordSettings{}}}
	p.Settings.Password.Complexity.MinLength = minLen
	return p
}

func TestWeakCustomPolicyDoesNotHideBehindDefault(t *testing.T) {
	s := Snapshot{Policies: map[string][]Policy{PolicyPassword: {
		pwPolicy("00p1", "Contractors", false, 8),
		pwPolicy("00p2", "Default Policy", true, 16),
	}}}
	base, _ := ProfileByName("baseline")
	r := EvaluateAt(s, base, now)
	c, _ := r.Check("okta.password.min_length")
	if c.Status != Fail || len(c.Findings) != 2 {
		t.Fatalf("status %s findings %+v", c.Status, c.Findings)
	}
	if c.Findings[0].Status != Fail || !strings.Contains(c.Findings[0].Resource, "Contractors") || c.Findings[1].Status != Pass {
		t.Fatalf("findings %+v", c.Findings)
	}
	// An INACTIVE weak policy is not evaluated.
	s.Policies[PolicyPassword][0].Status = "INACTIVE"
	c, _ = EvaluateAt(s, base, now).Check("okta.password.min_length")
	if c.Status != Pass || len(c.Findings) != 1 {
		t.Fatalf("inactive policy evaluated: %s %+v", c.Status, c.Findings)
	}
}

func TestFetchErrorNamesScopeAndIsNotScored(t *testing.T) {
	s := Snapshot{Policies: map[string][]Policy{PolicyPassword: {pwPolicy("00p2", "Default Policy", true, 16)}}}
	s.AddError(FetchError{Resource: ResAPITokens, Status: 403, Message: "insufficient_scope"})
	base, _ := ProfileByName("baseline")
	r := EvaluateAt(s, base, now)
	c, _ := r.Check("okta.api_tokens.hygiene")
	if c.Status != Error || !strings.Contains(c.Findings[0].Observed.(string), "okta.apiTokens.read") {
		t.Fatalf("api token check = %s %+v", c.Status, c.Findings)
	}
	// The error check does not enter the score: score equals the score of
	// the same report without it.
	var without []CheckResult
	for _, c := range r.Checks {
		if c.ID != "okta.api_tokens.hygiene" {
			without = append(without, c)
		}
	}
	if Score(without) != r.Score {
		t.Fatalf("error check changed the score: %v vs %v", Score(without), r.Score)
	}
	if r.Summary().Error == 0 {
		t.Fatal("summary lost the error")
	}
}

func TestScoreWeights(t *testing.T) {
	cs := []CheckResult{
		{Status: Pass, Severity: Critical},
		{Status: Fail, Severity: Low},
		{Status: Error, Severity: Critical},
		{Status: NotApplicable, Severity: High},
		{Status: Manual, Severity: Low},
		{Status: Fail, Severity: Info},
	}
	if got := Score(cs); got != 90.9 { // 10/(10+1)
		t.Fatalf("score = %v", got)
	}
	cs = append(cs, CheckResult{Status: Partial, Severity: High, credit: 0.5})
	if got := Score(cs); got != 78.1 { // (10+2.5)/16
		t.Fatalf("score with partial = %v", got)
	}
	if Score(nil) != 0 {
		t.Fatal("empty score")
	}
}

func TestDodOnlyNotApplicableOutsideStig(t *testing.T) {
	base, _ := ProfileByName("baseline")
	stig, _ := ProfileByName("stig")
	s := Snapshot{}
	for _, id := range []string{"okta.authn.okta_verify_fips", "okta.authn.smart_card_active", "okta.idp.smart_card_dod_ca", "okta.signin.dod_banner"} {
		if c, _ := EvaluateAt(s, base, now).Check(id); c.Status != NotApplicable {
			t.Errorf("%s baseline = %s", id, c.Status)
		}
		if c, _ := EvaluateAt(s, stig, now).Check(id); c.Status != Fail {
			t.Errorf("%s stig on empty org = %s", id, c.Status)
		}
	}
}

func TestDiffAndRegression(t *testing.T) {
	old := Report{Checks: []CheckResult{{ID: "a", Status: Pass, Findings: []Finding{{Resource: "p1", Status: Pass}, {Resource: "gone", Status: Fail}}},
		{ID: "b", Status: Error}, {ID: "c", Status: Fail}}}
	cur := Report{Checks: []CheckResult{{ID: "a", Status: Fail, Findings: []Finding{{Resource: "p1", Status: Pass}, {Resource: "p2", Status: Fail}}},
		{ID: "b", Status: Fail}, {ID: "c", Status: Pass}}}
	ch := Diff(old, cur)
	type k struct {
		check, res string
		from, to   Status
		reg        bool
	}
	want := []k{{"a", "", Pass, Fail, true}, {"a", "p2", "", Fail, true}, {"a", "gone", Fail, "", false}, {"b", "", Error, Fail, false}, {"c", "", Fail, Pass, false}}
	if len(ch) != len(want) {
		t.Fatalf("changes %+v", ch)
	}
	for i, w := range want {
		g := ch[i]
		if g.Check != w.check || g.Resource != w.res || g.From != w.from || g.To != w.to || g.Regression != w.reg {
			t.Errorf("change %d = %+v, want %+v", i, g, w)
		}
	}
	if len(Regressions(ch)) != 2 {
		t.Fatalf("regressions %+v", Regressions(ch))
	}
	if len(Diff(cur, cur)) != 0 {
		t.Fatal("diff of identical reports not empty")
	}
}

func TestReportJSONShapeAndTable(t *testing.T) {
	base, _ := ProfileByName("")
	r := EvaluateAt(Snapshot{Policies: map[string][]Policy{PolicyPassword: {pwPolicy("00p1", "Default Policy", true, 4)}}}, base, now)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	// The contract keys, plus the engine detected; inputs, gaps and
	// partial appear only when there is something to say.
	for _, k := range []string{"score", "profile", "evaluatedAt", "checks", "engine"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("missing %s", k)
		}
	}
	if len(m) != 5 || m["engine"] != EngineUnknown {
		t.Fatalf("unexpected top-level keys or engine: %v", m["engine"])
	}
	c0 := m["checks"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "title", "status", "severity", "category", "findings", "remediation", "references"} {
		if _, ok := c0[k]; !ok {
			t.Fatalf("check missing %s: %v", k, c0)
		}
	}
	var buf bytes.Buffer
	if err := RenderTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "okta.password.min_length") || !strings.Contains(out, "[FAIL] okta.password.min_length") || !strings.Contains(out, "profile=baseline") {
		t.Fatalf("table:\n%s", out)
	}
}
