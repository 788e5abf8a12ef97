package detect

// Registration of the rule pack: every Rule of the themed lists becomes a
// detector of its own in the engine's registry.

import (
	"fmt"
	"strings"
)

// ---- registration ----

var severities = map[string]bool{SeverityInfo: true, SeverityLow: true, SeverityMedium: true, SeverityHigh: true, SeverityCritical: true}

// ruleSets are the themed rule lists (one per rules_<theme>.go file), in
// registration order.
var ruleSets = [][]*Rule{adminRules, persistenceRules, policyRules, tamperingRules, mfaRules, credentialRules, sessionRules, threatRules}

// Rules returns the rule pack in registration order.
func Rules() []*Rule {
	var out []*Rule
	for _, set := range ruleSets {
		out = append(out, set...)
	}
	return out
}

func init() {
	for _, r := range Rules() {
		if err := r.validate(); err != nil {
			panic(err) // a broken rule definition is a programming error caught by every test
		}
		registry = append(registry, r.registration())
	}
}

func (r *Rule) validate() error {
	if r.ID == "" || r.Title == "" || len(r.MITRE) == 0 || r.Description == "" || len(r.FalsePositives) == 0 || len(r.On) == 0 {
		return fmt.Errorf("rule %q: id, title, MITRE, description, false positives and patterns are required", r.ID)
	}
	if !severities[r.Severity] {
		return fmt.Errorf("rule %s: bad severity %q", r.ID, r.Severity)
	}
	names := map[string]bool{}
	for i := range r.On {
		p := &r.On[i]
		if p.Name == "" || names[p.Name] || strings.Contains(p.Name, "/") {
			return fmt.Errorf("rule %s: pattern %d needs a unique name without '/' (it starts the pattern's state keys)", r.ID, i)
		}
		names[p.Name] = true
		if (len(p.Steps) > 0 || p.Count > 0) && p.Window <= 0 {
			return fmt.Errorf("rule %s/%s: sequences and thresholds need a window", r.ID, p.Name)
		}
		if len(p.Steps) == 1 && p.Quiet <= 0 {
			return fmt.Errorf("rule %s/%s: a sequence needs at least two steps (or one and a quiet period)", r.ID, p.Name)
		}
	}
	return nil
}

func (r *Rule) registration() Registration {
	params := append([]Param{{Name: "severity", Default: "", Doc: "override the severity of every alert of the rule (info, low, medium, high, critical); empty keeps the rule's own"}}, r.Params...)
	return Registration{
		Info:   Info{ID: r.ID, Title: r.Title, Severity: r.Severity, MITRE: r.MITRE, Description: r.Description},
		Params: params,
		Rearm:  r.Rearm,
		New: func(p Params) (Detector, error) {
			sev := strings.ToLower(p.String("severity"))
			if sev != "" && !severities[sev] {
				return nil, fmt.Errorf("params.severity: %q is not one of info, low, medium, high, critical", sev)
			}
			d := &ruleDetector{r: r, p: p, sev: sev, pats: make([]patState, len(r.On))}
			for i := range r.On {
				d.pats[i].init(&r.On[i], p)
			}
			d.buildGate()
			d.numberMatches()
			return d, nil
		},
	}
}
