package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/posture"
)

func absDir(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("config %s: %w", path, err)
	}
	return filepath.Dir(abs), nil
}

// cmdPosture reads the org's configuration once, evaluates it against a
// profile and prints the report.
func cmdPosture(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("posture", stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	profile := fs.String("profile", "", "posture profile: baseline or stig (default: posture.profile of the config)")
	format := fs.String("format", "table", "output format: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := requireConfig(*cfgPath); err != nil {
		return err
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("%w: --format %q: use table or json", errUsage, *format)
	}
	s, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	name := s.Posture.Profile
	if *profile != "" {
		name = *profile
	}
	prof, err := posture.ProfileByName(name)
	if err != nil {
		return fmt.Errorf("%w: --profile: %v", errUsage, err)
	}
	c, err := okta.NewClient(ctx, s.Okta)
	if err != nil {
		return err
	}
	snap, err := okta.FetchSnapshot(ctx, c)
	if err != nil {
		return err
	}
	rep := posture.Evaluate(snap, prof)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writePostureTable(stdout, rep)
}

var statusOrder = map[posture.Status]int{posture.Fail: 0, posture.Partial: 1, posture.Error: 2, posture.Manual: 3, posture.Pass: 4, posture.NotApplicable: 5}
var severityOrder = map[posture.Severity]int{posture.Critical: 0, posture.High: 1, posture.Medium: 2, posture.Low: 3, posture.Info: 4}

func writePostureTable(w io.Writer, rep posture.Report) error {
	checks := append([]posture.CheckResult(nil), rep.Checks...)
	sort.SliceStable(checks, func(i, j int) bool {
		a, b := checks[i], checks[j]
		if statusOrder[a.Status] != statusOrder[b.Status] {
			return statusOrder[a.Status] < statusOrder[b.Status]
		}
		if severityOrder[a.Severity] != severityOrder[b.Severity] {
			return severityOrder[a.Severity] < severityOrder[b.Severity]
		}
		return a.ID < b.ID
	})
	sum := rep.Summary()
	fmt.Fprintf(w, "Okta posture — profile %s — score %.1f / 100 — %d pass, %d fail, %d partial, %d error, %d manual, %d n/a\n\n",
		rep.Profile, rep.Score, sum.Pass, sum.Fail, sum.Partial, sum.Error, sum.Manual, sum.NotApplicable)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tSEVERITY\tCHECK\tFAILING\tTITLE")
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", strings.ToUpper(string(c.Status)), c.Severity, c.ID, c.Failing(), c.Title)
	}
	return tw.Flush()
}
