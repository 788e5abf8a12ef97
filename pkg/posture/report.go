package posture

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Status of a check or a finding.
type Status string

// Statuses (contract).
const (
	Pass          Status = "pass"
	Fail          Status = "fail"
	Error         Status = "error"
	NotApplicable Status = "not_applicable"
	Manual        Status = "manual"
	Partial       Status = "partial"
)

// Severity of a check.
type Severity string

// Severities, highest first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// SeverityWeights are the score weights. Info checks carry no weight.
var SeverityWeights = map[Severity]float64{Critical: 10, High: 5, Medium: 3, Low: 1, Info: 0}

// Finding is the result of one evaluated resource.
type Finding struct {
	Resource string          `json:"resource"`
	Status   Status          `json:"status"`
	Observed any             `json:"observed"`
	Expected string          `json:"expected"`
	Evidence json.RawMessage `json:"evidence,omitempty"`
}

// References anchors a check in external catalogues. Keys: stig,
// healthInsight, secureScore, mdi, prowler, howToHarden, other.
type References map[string]string

// CheckResult is one check in a Report.
type CheckResult struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Status      Status     `json:"status"`
	Severity    Severity   `json:"severity"`
	Category    string     `json:"category"`
	Findings    []Finding  `json:"findings"`
	Remediation string     `json:"remediation"`
	References  References `json:"references"`
	// Credit in [0,1] used by the score (1 pass, 0 fail, fraction for
	// partial); not part of the JSON.
	credit float64
}

// Failing counts findings with status fail.
func (c CheckResult) Failing() int {
	n := 0
	for _, f := range c.Findings {
		if f.Status == Fail {
			n++
		}
	}
	return n
}

// Report is one posture evaluation (JSON contract).
type Report struct {
	Score       float64       `json:"score"`
	Profile     string        `json:"profile"`
	EvaluatedAt time.Time     `json:"evaluatedAt"`
	Checks      []CheckResult `json:"checks"`
	// Engine is the org's engine detected for this report (EngineOIE,
	// EngineClassic, EngineUnknown) and how it was detected.
	Engine       string `json:"engine,omitempty"`
	EngineSource string `json:"engineSource,omitempty"`
	// Partial marks a report evaluated before every input was read (the
	// first evaluation's deadline); a complete one follows.
	Partial bool `json:"partial,omitempty"`
	// Inputs is how each input was read; Gaps the missing permissions and
	// the checks they cost.
	Inputs []InputStatus `json:"inputs,omitempty"`
	Gaps   []Gap         `json:"gaps,omitempty"`
}

// Check returns the result of a check id.
func (r Report) Check(id string) (CheckResult, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return CheckResult{}, false
}

// Summary counts checks per status.
type Summary struct {
	Total, Pass, Fail, Partial, Error, NotApplicable, Manual int
	// Scored is the number of checks that entered the score.
	Scored int
}

// Summary counts the report's checks per status.
func (r Report) Summary() Summary {
	var s Summary
	s.Total = len(r.Checks)
	for _, c := range r.Checks {
		switch c.Status {
		case Pass:
			s.Pass++
		case Fail:
			s.Fail++
		case Partial:
			s.Partial++
		case Error:
			s.Error++
		case NotApplicable:
			s.NotApplicable++
		case Manual:
			s.Manual++
		}
		if scored(c) {
			s.Scored++
		}
	}
	return s
}

func scored(c CheckResult) bool {
	if SeverityWeights[c.Severity] == 0 {
		return false
	}
	return c.Status == Pass || c.Status == Fail || c.Status == Partial
}

// Score computes 100 × Σ weight×credit / Σ weight over the checks that were
// evaluated (pass, fail, partial). error, manual and not_applicable checks
// are excluded; with nothing evaluated the score is 0.
func Score(checks []CheckResult) float64 {
	var num, den float64
	for _, c := range checks {
		if !scored(c) {
			continue
		}
		w := SeverityWeights[c.Severity]
		credit := c.credit
		switch c.Status {
		case Pass:
			credit = 1
		case Fail:
			credit = 0
		}
		num += w * credit
		den += w
	}
	if den == 0 {
		return 0
	}
	s := 100 * num / den
	return float64(int(s*10+0.5)) / 10
}

// Evaluate runs every registered check against the snapshot.
func Evaluate(snap Snapshot, profile Profile) Report {
	return EvaluateAt(snap, profile, time.Now().UTC())
}

// EvaluateAt is Evaluate with an explicit evaluation time (ages and
// dormancy are measured against it).
func EvaluateAt(snap Snapshot, profile Profile, now time.Time) Report {
	rep := Report{Profile: profile.Name, EvaluatedAt: now.UTC(), Checks: make([]CheckResult, 0, len(registry)),
		Engine: snap.Engine, EngineSource: snap.EngineSource, Partial: snap.Partial, Inputs: snap.Inputs}
	if rep.Engine == "" {
		rep.Engine = EngineUnknown
		if snap.Pipeline != "" || len(snap.Policies[PolicyAccess]) > 0 {
			rep.Engine = map[bool]string{true: EngineOIE, false: EngineClassic}[snap.IsOIE()]
		}
	}
	for _, c := range registry {
		rep.Checks = append(rep.Checks, runCheck(c, &snap, profile, now))
	}
	rep.Score = Score(rep.Checks)
	rep.Gaps = gaps(&snap, rep.Checks)
	return rep
}

// env is what a check function sees.
type env struct {
	s   *Snapshot
	p   Params
	dod bool
	now time.Time
}

// outcome is what a check function returns.
type outcome struct {
	findings []Finding
	// status overrides the roll-up when set.
	status Status
	credit float64
}

func runCheck(c Check, s *Snapshot, profile Profile, now time.Time) (res CheckResult) {
	res = CheckResult{ID: c.ID, Title: c.Title, Severity: c.Severity, Category: c.Category,
		Remediation: c.Remediation, References: c.References, Findings: []Finding{}}
	if res.References == nil {
		res.References = References{}
	}
	if c.DoDOnly && !profile.DoD {
		res.Status = NotApplicable
		res.Findings = append(res.Findings, Finding{Resource: "org", Status: NotApplicable,
			Observed: "profile " + profile.Name, Expected: "applies only in a DoD (stig) profile"})
		return res
	}
	if c.Engine != "" {
		if c.Engine == EngineOIE && s.IsClassic() {
			return naResult(res, "Classic Engine org: this applies only to Identity Engine orgs")
		}
		if c.Engine == EngineClassic && s.Engine == EngineOIE {
			return naResult(res, "Identity Engine org: this applies only to Classic Engine orgs")
		}
	}
	for _, need := range c.Needs {
		if why := s.AbsentReason(need); why != "" {
			return naResult(res, need+" not available in this org: "+why)
		}
	}
	var missing []string
	for _, need := range c.Needs {
		if e := s.Err(need); e != nil {
			missing = append(missing, e.String())
		}
	}
	if len(missing) > 0 {
		res.Status = Error
		res.Findings = append(res.Findings, Finding{Resource: "org", Status: Error,
			Observed: strings.Join(missing, "; "), Expected: "input readable"})
		return res
	}
	defer func() {
		// A check must never take the evaluation down: a panic on
		// unexpected data is reported as that check's error.
		if r := recover(); r != nil {
			res.Status = Error
			res.Findings = []Finding{{Resource: "org", Status: Error, Observed: fmt.Sprintf("check failed: %v", r), Expected: "evaluable input"}}
		}
	}()
	view := s
	if !c.OwnItemErrors {
		view = withoutUnreadPolicies(s, append(append([]string(nil), c.Needs...), c.Optional...))
	}
	out := c.eval(env{s: view, p: profile.Params, dod: profile.DoD, now: now})
	res.Findings = append(res.Findings, out.findings...)
	evalStatus, evalCredit := rollup(out)
	// What could not be read: optional inputs, and failed sub-reads of
	// every input the check reads.
	var unread []Finding
	for _, opt := range c.Optional {
		if e := s.Err(opt); e != nil {
			unread = append(unread, Finding{Resource: opt, Status: Error, Observed: e.String(), Expected: "input readable"})
		}
	}
	if !c.OwnItemErrors {
		for _, in := range append(append([]string(nil), c.Needs...), c.Optional...) {
			unread = append(unread, itemErrFindings(s.ItemErrs(in))...)
		}
	}
	res.Findings = append(res.Findings, unread...)
	res.Status, res.credit = evalStatus, evalCredit
	if len(unread) > 0 && out.status == "" {
		switch {
		case evalStatus == Fail && failsOnResource(out.findings):
			// decided by a resource that was read
		case evalStatus == Pass && c.AnySuffices:
			// one passing resource decides it
		default:
			res.Status, res.credit = Error, 0
		}
	}
	return res
}

// failsOnResource reports whether a finding fails on a resource of its
// own: an org-wide conclusion ("no such rule anywhere") is not decided
// when part of the input is missing.
func failsOnResource(fs []Finding) bool {
	for _, f := range fs {
		if f.Status == Fail && f.Resource != "org" {
			return true
		}
	}
	return false
}

// withoutUnreadPolicies is the snapshot a check sees when the settings or
// rules of some policies of the types it reads could not be read: those
// policies are left out (their error findings stand for them), so that
// their missing rules or settings are never judged.
func withoutUnreadPolicies(s *Snapshot, inputs []string) *Snapshot {
	drop := map[string]map[string]bool{}
	for _, in := range inputs {
		typ, ok := strings.CutPrefix(in, "policy_rules:")
		if !ok {
			typ, ok = strings.CutPrefix(in, "policies:")
		}
		if !ok {
			continue
		}
		for _, e := range s.ItemErrs(in) {
			if drop[typ] == nil {
				drop[typ] = map[string]bool{}
			}
			drop[typ][e.Item] = true
		}
	}
	if len(drop) == 0 {
		return s
	}
	c := s.Clone()
	for typ, ids := range drop {
		var kept []Policy
		for _, p := range c.Policies[typ] {
			if !ids[p.ID] {
				kept = append(kept, p)
			}
		}
		c.Policies[typ] = kept
	}
	return &c
}

// maxItemFindings caps the error findings of one input's failed sub-reads.
const maxItemFindings = 20

func itemErrFindings(errs []FetchError) []Finding {
	var out []Finding
	for i, e := range errs {
		if i == maxItemFindings {
			out = append(out, Finding{Resource: e.Resource, Status: Error,
				Observed: fmt.Sprintf("%d more %s sub-reads failed", len(errs)-maxItemFindings, e.Resource), Expected: "input readable"})
			break
		}
		out = append(out, Finding{Resource: e.Resource + " " + e.Item, Status: Error, Observed: e.String(), Expected: "input readable"})
	}
	return out
}

func naResult(res CheckResult, why string) CheckResult {
	res.Status = NotApplicable
	res.Findings = append(res.Findings, Finding{Resource: "org", Status: NotApplicable, Observed: why, Expected: "applicable input"})
	return res
}

// rollup derives a check status from its findings: any fail → fail; else
// any error → error; else any partial → partial; else any pass → pass; else
// manual if any manual; else not_applicable.
func rollup(o outcome) (Status, float64) {
	if o.status != "" {
		return o.status, o.credit
	}
	has := map[Status]int{}
	for _, f := range o.findings {
		has[f.Status]++
	}
	switch {
	case has[Fail] > 0:
		return Fail, 0
	case has[Error] > 0:
		return Error, 0
	case has[Partial] > 0:
		return Partial, 0.5
	case has[Pass] > 0:
		return Pass, 1
	case has[Manual] > 0:
		return Manual, 0
	}
	return NotApplicable, 0
}

// sortRules orders rules by priority (1 first); rules without a priority go last.
func sortRules(rs []PolicyRule) {
	sort.SliceStable(rs, func(i, j int) bool {
		pi, pj := rs[i].Priority, rs[j].Priority
		if pi == 0 {
			pi = 1 << 30
		}
		if pj == 0 {
			pj = 1 << 30
		}
		return pi < pj
	})
}
