package posture

import "sort"

// Change is one difference between two reports: a check's status (Resource
// empty) or one finding's status changed, appeared or disappeared. From is
// "" for a new check/finding, To is "" for one that went away.
type Change struct {
	Check      string   `json:"check"`
	Title      string   `json:"title,omitempty"`
	Severity   Severity `json:"severity,omitempty"`
	Resource   string   `json:"resource,omitempty"`
	From       Status   `json:"from"`
	To         Status   `json:"to"`
	Regression bool     `json:"regression"`
}

// rank orders the comparable statuses; non-comparable ones (error, manual,
// not_applicable) return -1.
func rank(s Status) int {
	switch s {
	case Pass:
		return 2
	case Partial:
		return 1
	case Fail:
		return 0
	}
	return -1
}

// isRegression: the new status is worse than the old one (pass → partial →
// fail), or a new finding/check appears failing. A move from error,
// manual or not_applicable is not a regression (the old state was unknown).
func isRegression(from, to Status) bool {
	rt := rank(to)
	if rt < 0 {
		return false
	}
	if from == "" {
		return to == Fail || to == Partial
	}
	rf := rank(from)
	return rf >= 0 && rt < rf
}

// Diff compares two reports of the same org: check-level changes first, then
// finding-level ones, in check-registry order.
func Diff(old, cur Report) []Change {
	var out []Change
	oldChecks := map[string]CheckResult{}
	for _, c := range old.Checks {
		oldChecks[c.ID] = c
	}
	seen := map[string]bool{}
	add := func(c CheckResult, res string, from, to Status) {
		if from == to {
			return
		}
		out = append(out, Change{Check: c.ID, Title: c.Title, Severity: c.Severity, Resource: res, From: from, To: to, Regression: isRegression(from, to)})
	}
	for _, c := range cur.Checks {
		seen[c.ID] = true
		o, had := oldChecks[c.ID]
		if !had {
			add(c, "", "", c.Status)
		} else {
			add(c, "", o.Status, c.Status)
		}
		of := map[string]Status{}
		for _, f := range o.Findings {
			of[f.Resource] = f.Status
		}
		nf := map[string]bool{}
		for _, f := range c.Findings {
			nf[f.Resource] = true
			add(c, f.Resource, of[f.Resource], f.Status)
		}
		var gone []string
		for r := range of {
			if !nf[r] {
				gone = append(gone, r)
			}
		}
		sort.Strings(gone)
		for _, r := range gone {
			add(c, r, of[r], "")
		}
	}
	for _, c := range old.Checks {
		if !seen[c.ID] {
			add(c, "", c.Status, "")
		}
	}
	return out
}

// Regressions filters a diff to its regressions.
func Regressions(changes []Change) []Change {
	var out []Change
	for _, c := range changes {
		if c.Regression {
			out = append(out, c)
		}
	}
	return out
}
