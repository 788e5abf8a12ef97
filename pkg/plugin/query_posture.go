package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// postureReport is the part of the stored report JSON the frames need.
type postureReport struct {
	Score       float64      `json:"score"`
	Profile     string       `json:"profile"`
	EvaluatedAt time.Time    `json:"evaluatedAt"`
	Engine      string       `json:"engine"`
	Partial     bool         `json:"partial"`
	Gaps        []postureGap `json:"gaps"`
	Inputs      []struct {
		Resource string `json:"resource"`
		State    string `json:"state"`
	} `json:"inputs"`
	Checks []struct {
		ID          string            `json:"id"`
		Title       string            `json:"title"`
		Status      string            `json:"status"`
		Severity    string            `json:"severity"`
		Category    string            `json:"category"`
		Remediation string            `json:"remediation"`
		References  map[string]string `json:"references"`
		Findings    []struct {
			Resource string `json:"resource"`
			Status   string `json:"status"`
			Observed any    `json:"observed"`
			Expected string `json:"expected"`
		} `json:"findings"`
	} `json:"checks"`
}

func (d *Datasource) profile(q queryModel) string {
	if q.Profile != "" {
		return q.Profile
	}
	return d.settings.PostureProfile
}

// posture answers query type posture: the latest posture report, one row per check.
func (d *Datasource) posture(ctx context.Context, st store.Backend, q queryModel, dq backend.DataQuery) (data.Frames, error) {
	rec, ok, err := st.LatestPostureReport(ctx, d.profile(q))
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("posture")
	if !ok {
		// No report yet: say why instead of an empty frame.
		if prof := d.profile(q); prof != d.settings.PostureProfile {
			f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf("No posture report for profile %q: this data source evaluates profile %q (postureProfile setting).", prof, d.settings.PostureProfile)})
			return data.Frames{f}, nil
		}
		f.AppendNotices(d.postureNotices(nil)...)
		return data.Frames{f}, nil
	}
	var rep postureReport
	if err := json.Unmarshal(rec.JSON, &rep); err != nil {
		return nil, fmt.Errorf("stored posture report is unreadable: %w", err)
	}

	var id, title, category, severity, status, remediation, failing, stig, refs []string
	var nFind, nFail []int64
	for _, c := range rep.Checks {
		if q.Status != "" && c.Status != q.Status {
			continue
		}
		if q.Category != "" && !strings.EqualFold(c.Category, q.Category) {
			continue
		}
		if q.Check != "" && c.ID != q.Check {
			continue
		}
		var bad []string
		var nf int64
		for _, fd := range c.Findings {
			if fd.Status == "fail" || fd.Status == "error" {
				nf++
				bad = append(bad, fmt.Sprintf("%s: %v (expected %s)", fd.Resource, fd.Observed, fd.Expected))
			}
		}
		var rs []string
		for k, v := range c.References {
			if v != "" {
				rs = append(rs, k+": "+v)
			}
		}
		sort.Strings(rs)
		id, title, category, severity, status = append(id, c.ID), append(title, c.Title), append(category, c.Category), append(severity, c.Severity), append(status, c.Status)
		remediation, failing, stig, refs = append(remediation, c.Remediation), append(failing, strings.Join(bad, "; ")), append(stig, c.References["stig"]), append(refs, strings.Join(rs, ", "))
		nFind, nFail = append(nFind, int64(len(c.Findings))), append(nFail, nf)
	}
	f.Fields = append(f.Fields,
		named(data.NewField("id", nil, id), "Check"),
		named(data.NewField("title", nil, title), "Title"),
		named(data.NewField("category", nil, category), "Category"),
		named(data.NewField("severity", nil, severity), "Severity"),
		named(data.NewField("status", nil, status), "Status"),
		named(data.NewField("findings", nil, nFind), "Findings"),
		named(data.NewField("failing", nil, nFail), "Failing"),
		named(data.NewField("failingResources", nil, failing), "Failing resources"),
		named(data.NewField("remediation", nil, remediation), "Remediation"),
		named(data.NewField("stig", nil, stig), "STIG"),
		named(data.NewField("references", nil, refs), "References"),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, Custom: map[string]any{"score": rep.Score, "profile": rep.Profile, "evaluatedAt": rep.EvaluatedAt, "engine": rep.Engine, "partial": rep.Partial}}
	f.AppendNotices(d.postureNotices(&rep)...)
	return data.Frames{f}, nil
}

// postureGap is one missing permission of the latest report (posture.Gap).
type postureGap struct {
	Scope  string   `json:"scope"`
	Inputs []string `json:"inputs"`
	Checks []string `json:"checks"`
}

// latestPosture is the latest stored report of the data source's profile.
func (d *Datasource) latestPosture(ctx context.Context) (*postureReport, bool) {
	st, err := d.ready()
	if err != nil {
		return nil, false
	}
	rec, ok, err := st.LatestPostureReport(ctx, d.settings.PostureProfile)
	if err != nil || !ok {
		return nil, false
	}
	var rep postureReport
	if json.Unmarshal(rec.JSON, &rep) != nil {
		return nil, false
	}
	return &rep, true
}

// postureNotices explains what a posture frame cannot show by itself: no
// report yet (the first evaluation in progress, or why it failed), a
// partial report, missing permissions, a later evaluation that failed.
func (d *Datasource) postureNotices(rep *postureReport) []data.Notice {
	var out []data.Notice
	st := d.run.p.PostureStatus()
	if rep == nil {
		switch {
		case !st.Enabled:
			return []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "Posture evaluation is disabled for this data source."}}
		case st.Running:
			return []data.Notice{{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf("First evaluation in progress (started %s ago): the first posture report comes within a minute of connecting.",
				time.Since(st.Started).Round(time.Second))}}
		case st.LastError != "":
			return []data.Notice{{Severity: data.NoticeSeverityError, Text: fmt.Sprintf("The first posture evaluation failed at %s: %s. It is retried within a minute.",
				st.LastErrorAt.UTC().Format(time.RFC3339), st.LastError)}}
		}
		return []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "First evaluation in progress: it starts with the data source and reports within a minute of connecting."}}
	}
	if rep.Partial {
		var pending []string
		for _, in := range rep.Inputs {
			if in.State == "pending" {
				pending = append(pending, in.Resource)
			}
		}
		out = append(out, data.Notice{Severity: data.NoticeSeverityInfo, Text: fmt.Sprintf("First evaluation in progress: this report was published before every input was read (still reading %s); checks needing them show error until the complete report follows.",
			strings.Join(pending, ", "))})
	}
	if len(rep.Gaps) > 0 {
		out = append(out, data.Notice{Severity: data.NoticeSeverityWarning, Text: "Missing Okta permissions: " + gapText(rep.Gaps) + "."})
	}
	if st.LastError != "" && st.LastErrorAt.After(rep.EvaluatedAt) {
		out = append(out, data.Notice{Severity: data.NoticeSeverityWarning, Text: fmt.Sprintf("The latest posture evaluation failed at %s (%s); showing the report of %s.",
			st.LastErrorAt.UTC().Format(time.RFC3339), st.LastError, rep.EvaluatedAt.UTC().Format(time.RFC3339))})
	}
	return out
}

// gapText lists each missing scope with the checks it leaves in error.
func gapText(gaps []postureGap) string {
	parts := make([]string, 0, len(gaps))
	for _, g := range gaps {
		checks := "no check under this profile"
		if len(g.Checks) > 0 {
			checks = strings.Join(g.Checks, ", ")
		}
		parts = append(parts, fmt.Sprintf("%s (affects %s)", g.Scope, checks))
	}
	return strings.Join(parts, "; ")
}
