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
	Score       float64   `json:"score"`
	Profile     string    `json:"profile"`
	EvaluatedAt time.Time `json:"evaluatedAt"`
	Checks      []struct {
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
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "No posture evaluation yet: it runs at start and every hour (or POST posture/refresh)."})
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
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, Custom: map[string]any{"score": rep.Score, "profile": rep.Profile, "evaluatedAt": rep.EvaluatedAt}}
	return data.Frames{f}, nil
}

// postureMissingScopes lists OAuth scopes named by errors in the latest
// posture report.
func (d *Datasource) postureMissingScopes(ctx context.Context) []string {
	st, err := d.ready()
	if err != nil {
		return nil
	}
	rec, ok, err := st.LatestPostureReport(ctx, d.settings.PostureProfile)
	if err != nil || !ok {
		return nil
	}
	var rep postureReport
	if json.Unmarshal(rec.JSON, &rep) != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range rep.Checks {
		if c.Status != "error" {
			continue
		}
		for _, fd := range c.Findings {
			s := fmt.Sprint(fd.Observed) + " " + fd.Expected
			for _, w := range strings.Fields(s) {
				w = strings.Trim(w, `"'.,;:()`)
				if strings.HasPrefix(w, "okta.") && strings.Count(w, ".") == 2 && !seen[w] {
					seen[w] = true
					out = append(out, w)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
