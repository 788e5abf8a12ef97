package posture

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// RenderTable writes a report as a terminal table: a summary line, one row
// per check, then the failing/erroring findings.
func RenderTable(w io.Writer, r Report) error {
	s := r.Summary()
	bw := &errWriter{w: w}
	fmt.Fprintf(bw, "Okta posture  profile=%s  engine=%s  evaluated=%s  score=%.1f/100 (over %d scored checks)\n",
		r.Profile, r.Engine, r.EvaluatedAt.Format("2006-01-02T15:04:05Z07:00"), r.Score, s.Scored)
	for _, g := range r.Gaps {
		fmt.Fprintf(bw, "missing %s (inputs %s): %d check(s) in error\n", g.Scope, strings.Join(g.Inputs, ", "), len(g.Checks))
	}
	fmt.Fprintf(bw, "pass %d · fail %d · partial %d · error %d (not scored) · manual %d · not_applicable %d\n\n",
		s.Pass, s.Fail, s.Partial, s.Error, s.Manual, s.NotApplicable)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSEVERITY\tCHECK\tTITLE\tFINDINGS")
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d (%d failing)\n", strings.ToUpper(string(c.Status)), c.Severity, c.ID, c.Title, len(c.Findings), c.Failing())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	first := true
	for _, c := range r.Checks {
		for _, f := range c.Findings {
			if f.Status != Fail && f.Status != Error && f.Status != Partial {
				continue
			}
			if first {
				fmt.Fprintln(bw, "\nFindings needing attention:")
				first = false
			}
			fmt.Fprintf(bw, "  [%s] %s  %s\n      observed: %s\n      expected: %s\n", strings.ToUpper(string(f.Status)), c.ID, f.Resource, formatObserved(f.Observed), f.Expected)
		}
	}
	return bw.err
}

func formatObserved(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "-"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
