package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
	"gopkg.in/yaml.v3"

	"github.com/oktaguard/oktaguard/pkg/plugin"
	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
)

const root = "../.."

// dashboardQuery is one query a bundled dashboard sends (panel target or
// annotation), with template variables already applied.
type dashboardQuery struct {
	where string
	model map[string]any
}

var varRe = regexp.MustCompile(`\$\{?(\w+)(?::\w+)?\}?`)

// interpolate applies the dashboard's variables the way the frontend's
// applyTemplateVariables does: the "All" value drops the filter.
func interpolate(m map[string]any, vars map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch k {
		case "datasource", "refId", "hide", "key":
			continue
		}
		s, ok := v.(string)
		if !ok {
			out[k] = v
			continue
		}
		s = varRe.ReplaceAllStringFunc(s, func(ref string) string {
			name := varRe.FindStringSubmatch(ref)[1]
			return vars[name]
		})
		if s == "" || s == "*" {
			continue
		}
		out[k] = s
	}
	return out
}

func loadDashboardQueries(t testing.TB, dir, dsUID string, vars map[string]string) []dashboardQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	if err != nil || len(files) < 3 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	var out []dashboardQuery
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID        string `json:"uid"`
			Title      string `json:"title"`
			Panels     []json.RawMessage
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Type  string `json:"type"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
			Annotations struct {
				List []struct {
					Name       string         `json:"name"`
					Datasource map[string]any `json:"datasource"`
					Target     map[string]any `json:"target"`
				} `json:"list"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s is not valid JSON: %v", f, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Fatalf("%s lacks uid or title", f)
		}
		hasDSVar := false
		for _, v := range d.Templating.List {
			if v.Type == "datasource" {
				hasDSVar = true
				if v.Query != plugin.PluginID {
					t.Errorf("%s: datasource variable %s selects %v, want %s", f, v.Name, v.Query, plugin.PluginID)
				}
			}
		}
		if !hasDSVar {
			t.Errorf("%s: no datasource template variable", f)
		}
		var walk func(raw []json.RawMessage)
		walk = func(raw []json.RawMessage) {
			for _, pr := range raw {
				var p struct {
					ID         int              `json:"id"`
					Title      string           `json:"title"`
					Type       string           `json:"type"`
					Datasource map[string]any   `json:"datasource"`
					Targets    []map[string]any `json:"targets"`
					Panels     []json.RawMessage
				}
				if err := json.Unmarshal(pr, &p); err != nil {
					t.Fatalf("%s: panel: %v", f, err)
				}
				walk(p.Panels)
				for _, tg := range p.Targets {
					ds, _ := tg["datasource"].(map[string]any)
					if ds == nil {
						ds = p.Datasource
					}
					if ds == nil || ds["type"] != plugin.PluginID {
						t.Errorf("%s panel %d %q: target datasource %v does not resolve to the plugin", f, p.ID, p.Title, ds)
						continue
					}
					if uid, _ := ds["uid"].(string); uid != "${datasource}" && uid != "$datasource" && uid != dsUID {
						t.Errorf("%s panel %d: datasource uid %q is neither the variable nor the provisioned uid", f, p.ID, uid)
					}
					out = append(out, dashboardQuery{where: filepath.Base(f) + " panel " + p.Title + " " + tg["refId"].(string), model: interpolate(tg, vars)})
				}
			}
		}
		walk(d.Panels)
		for _, a := range d.Annotations.List {
			if builtInAnnotation(a.Datasource) {
				continue
			}
			if a.Datasource["type"] != plugin.PluginID {
				t.Errorf("%s: annotation %q: datasource %v does not resolve to the plugin", f, a.Name, a.Datasource)
				continue
			}
			out = append(out, dashboardQuery{where: filepath.Base(f) + " annotation " + a.Name, model: interpolate(a.Target, vars)})
		}
	}
	return out
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			UID         string            `yaml:"uid"`
			Title       string            `yaml:"title"`
			Condition   string            `yaml:"condition"`
			Annotations map[string]string `yaml:"annotations"`
			Labels      map[string]string `yaml:"labels"`
			Data        []struct {
				RefID             string                 `yaml:"refId"`
				QueryType         string                 `yaml:"queryType"`
				DatasourceUID     string                 `yaml:"datasourceUid"`
				RelativeTimeRange struct{ From, To int } `yaml:"relativeTimeRange"`
				Model             map[string]any         `yaml:"model"`
			} `yaml:"data"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// builtInAnnotation is Grafana's own "Annotations & Alerts" entry, the only
// annotation of a bundled dashboard that is not the plugin's.
func builtInAnnotation(ds map[string]any) bool {
	return ds["type"] == "grafana" || ds["type"] == "datasource" || ds["uid"] == "-- Grafana --"
}

// replayProvisioning replays every dashboard query (with the logs volume
// and log context of each logs query), every dashboard query variable and
// every provisioned alert rule of the repository at dir through the
// running plugin; any error fails t.
func replayProvisioning(t testing.TB, e *env, dir string) {
	// The provisioned data source's uid is what dashboards and rules name.
	var dsFile struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "provisioning", "datasources", "oktaguard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &dsFile); err != nil || len(dsFile.Datasources) == 0 {
		t.Fatalf("datasource provisioning: %v", err)
	}
	provUID := dsFile.Datasources[0].UID
	if dsFile.Datasources[0].Type != plugin.PluginID {
		t.Fatalf("provisioned type %q", dsFile.Datasources[0].Type)
	}

	actor := e.org.History.Users[0].Login
	for _, vars := range []map[string]string{
		{"datasource": provUID, "actor": "*", "detector": "*", "severity": "*", "ip": "", "profile": "baseline", "status": "open,acknowledged", "user": actor},
		{"datasource": provUID, "actor": actor, "detector": "impossible_travel", "severity": "high", "ip": "198.51.100.1", "profile": "stig", "status": "dismissed", "user": ""},
	} {
		qs := loadDashboardQueries(t, dir, provUID, vars)
		if len(qs) < 20 {
			t.Fatalf("only %d dashboard queries found", len(qs))
		}
		logs := 0
		for _, q := range qs {
			r := e.query(t, e.ds, false, plugintest.Query{RefID: "A", Model: q.model})["A"]
			if r.Error != "" {
				t.Errorf("%s (%v): %s", q.where, q.model, r.Error)
			}
			// Explore and the Logs panel send more queries for a logs query:
			// the logs volume (supplementary) and the log context of a line.
			for _, sq := range logsCompanions(q.model, r) {
				logs++
				res := e.query(t, e.ds, false, plugintest.Query{RefID: "S", Model: sq.model, From: sq.from, To: sq.to})["S"]
				if res.Error != "" {
					t.Errorf("%s %s (%v): %s", q.where, sq.what, sq.model, res.Error)
					continue
				}
				// The histogram counts what the lines show: lines in the
				// range mean a level-labelled count above zero.
				if sq.what == "logs volume" && r.Error == "" && len(r.Frames) > 0 && r.Frames[0].Rows() > 0 && volumeTotal(res.Frames) == 0 {
					t.Errorf("%s logs volume (%v): no level-labelled count for %d lines", q.where, sq.model, r.Frames[0].Rows())
				}
			}
		}
		if logs == 0 {
			t.Error("no dashboard logs query to replay the logs volume and log context of")
		}
		t.Logf("variables %v: replayed %d dashboard queries and %d logs volume / log context queries", vars, len(qs), logs)
	}

	// Every query variable of the dashboards, as the variable editor's
	// query runs it (variables.ts variableValues: the plugin's resources).
	vqs := loadVariableQueries(t, dir)
	if len(vqs) < 3 {
		t.Fatalf("only %d variable queries found", len(vqs))
	}
	for _, v := range vqs {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		status, body, err := e.p.CallResource(ctx, e.ds, "GET", v.path, nil)
		cancel()
		var list []any
		var obj map[string][]any
		if err != nil || status != 200 || (json.Unmarshal(body, &list) != nil && json.Unmarshal(body, &obj) != nil) {
			t.Errorf("variable %s (GET %s): %d %v %.200s", v.where, v.path, status, err, body)
			continue
		}
		n := len(list)
		for _, l := range obj {
			n += len(l)
		}
		if n == 0 {
			t.Errorf("variable %s (GET %s) lists no values: %.200s", v.where, v.path, body)
		}
	}

	files, _ := filepath.Glob(filepath.Join(dir, "provisioning", "alerting", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no provisioned alert rules")
	}
	rules := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				rules++
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" || r.Annotations["__dashboardUid__"] == "" {
					t.Errorf("rule %s lacks summary, description or dashboard link", r.Title)
				}
				refs := map[string]bool{}
				for _, dq := range r.Data {
					refs[dq.RefID] = true
				}
				if !refs[r.Condition] {
					t.Errorf("rule %s: condition %s is not a refId", r.Title, r.Condition)
				}
				sent := 0
				for _, dq := range r.Data {
					if dq.DatasourceUID == "__expr__" {
						continue
					}
					if dq.DatasourceUID != provUID {
						t.Errorf("rule %s: datasourceUid %q does not resolve", r.Title, dq.DatasourceUID)
						continue
					}
					sent++
					now := time.Now()
					from := now.Add(-time.Duration(dq.RelativeTimeRange.From) * time.Second)
					to := now.Add(-time.Duration(dq.RelativeTimeRange.To) * time.Second)
					res := e.query(t, e.ds, true, plugintest.Query{RefID: dq.RefID, QueryType: dq.QueryType, Model: dq.Model, From: from, To: to})[dq.RefID]
					if res.Error != "" {
						t.Errorf("rule %s %s: %s", r.Title, dq.RefID, res.Error)
						continue
					}
					assertNumeric(t, res.Frames)
				}
				if sent == 0 {
					t.Errorf("rule %s queries nothing of the plugin", r.Title)
				}
			}
		}
	}
	if rules < 3 {
		t.Fatalf("only %d alert rules", rules)
	}
	t.Logf("replayed %d query variables and %d alert rules", len(vqs), rules)
}

// companion is a query Explore sends beside a logs query.
type companion struct {
	what     string
	model    map[string]any
	from, to time.Time
}

// logsCompanions are the queries the frontend derives from an activity logs
// query and its answer: the logs volume (datasource.ts getSupplementaryQuery:
// the activity filters without limit and format) and the log context before
// and after its first line (logContext.ts: same session, else same actor,
// 24 h either side).
func logsCompanions(model map[string]any, r plugintest.Result) []companion {
	if model["queryType"] != "activity" || model["format"] != "logs" {
		return nil
	}
	vol := map[string]any{"queryType": "logs_volume"}
	for k, v := range model {
		switch k {
		case "queryType", "limit", "format":
		default:
			vol[k] = v
		}
	}
	out := []companion{{what: "logs volume", model: vol}}
	if len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
		return out
	}
	f := r.Frames[0]
	ts, _ := f.FieldByName("timestamp")
	lf, _ := f.FieldByName("labels")
	if ts == nil || lf == nil {
		return out
	}
	var labels map[string]string
	_ = json.Unmarshal(lf.At(0).(json.RawMessage), &labels)
	at := ts.At(0).(time.Time)
	for _, key := range []string{"sessionId", "actor"} {
		if labels[key] == "" {
			continue
		}
		for _, dir := range []string{"backward", "forward"} {
			from, to := at.Add(-24*time.Hour), at
			if dir == "forward" {
				from, to = at, at.Add(24*time.Hour)
			}
			out = append(out, companion{what: "log context " + dir + " by " + key,
				model: map[string]any{"queryType": "activity", "format": "logs", key: labels[key], "limit": 50, "direction": dir},
				from:  from, to: to})
		}
		break
	}
	return out
}

// variableQuery is a dashboard query variable as the resource call that
// lists its values.
type variableQuery struct {
	where string
	path  string
}

// loadVariableQueries reads every query variable of the bundled dashboards
// (text form "actors:<search>" or the editor's {kind, arg}) and maps it to
// the resource the frontend calls (variables.ts variableValues).
func loadVariableQueries(t testing.TB, dir string) []variableQuery {
	t.Helper()
	textRe := regexp.MustCompile(`^\s*(detectors|actors|event-types)\s*(?::\s*(.*?)|\((.*)\))?\s*$`)
	files, _ := filepath.Glob(filepath.Join(dir, "dashboards", "*.json"))
	var out []variableQuery
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Templating struct {
				List []struct {
					Name       string         `json:"name"`
					Type       string         `json:"type"`
					Query      any            `json:"query"`
					Datasource map[string]any `json:"datasource"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			where := filepath.Base(f) + " $" + v.Name
			if v.Datasource["type"] != plugin.PluginID {
				t.Errorf("%s: query variable datasource %v does not resolve to the plugin", where, v.Datasource)
				continue
			}
			var kind, arg string
			switch q := v.Query.(type) {
			case string:
				m := textRe.FindStringSubmatch(q)
				if m == nil {
					t.Errorf("%s: %q is no variable query", where, q)
					continue
				}
				kind, arg = m[1], strings.TrimSpace(m[2]+m[3])
			case map[string]any:
				kind, _ = q["kind"].(string)
				arg, _ = q["arg"].(string)
			default:
				t.Errorf("%s: query %v", where, v.Query)
				continue
			}
			path := map[string]string{"detectors": "detectors", "actors": "actors?q=", "event-types": "event-types?prefix="}[kind]
			if path == "" {
				t.Errorf("%s: unknown kind %q", where, kind)
				continue
			}
			if kind != "detectors" {
				path += url.QueryEscape(arg)
			}
			out = append(out, variableQuery{where: where, path: path})
		}
	}
	return out
}

// volumeTotal is the sum of the logs volume frames' level-labelled counts.
func volumeTotal(fs data.Frames) float64 {
	total := 0.0
	for _, f := range fs {
		for _, fd := range f.Fields {
			if fd.Labels["level"] == "" {
				continue
			}
			for i := 0; i < fd.Len(); i++ {
				if v, ok := fd.ConcreteAt(i); ok {
					if n, ok := v.(float64); ok {
						total += n
					}
				}
			}
		}
	}
	return total
}

// errorRecorder is a testing.TB that records the replay's failures instead
// of failing the test, so a test can check that the replay catches them.
// Fatal ends the replay's goroutine, as it ends a test's.
type errorRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *errorRecorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *errorRecorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *errorRecorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// replayCatchesBrokenQueries replays a copy of the repository's dashboards
// and provisioning in which one logs panel query, one query variable and
// one alert rule query are broken: the replay must report each of them
// (the panel query, its logs volume, the variable and the rule), so a
// dashboard query that errors cannot pass it.
func replayCatchesBrokenQueries(t *testing.T, e *env) {
	dir := t.TempDir()
	for _, sub := range []string{"dashboards", "provisioning/datasources", "provisioning/alerting"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyGlob := func(pattern string, edit func(name string, b []byte) []byte) {
		files, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: %v", pattern, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, f)
			if err := os.WriteFile(filepath.Join(dir, rel), edit(filepath.Base(f), b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	same := func(_ string, b []byte) []byte { return b }
	copyGlob("provisioning/datasources/*.yaml", same)
	brokePanel, brokeVar, brokeRule := "", "", ""
	copyGlob("dashboards/*.json", func(name string, b []byte) []byte {
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		if brokePanel == "" {
			var walk func(ps []any)
			walk = func(ps []any) {
				for _, p := range ps {
					pm, _ := p.(map[string]any)
					sub, _ := pm["panels"].([]any)
					walk(sub)
					tgs, _ := pm["targets"].([]any)
					for _, tg := range tgs {
						m, _ := tg.(map[string]any)
						if brokePanel == "" && m["queryType"] == "activity" && m["format"] == "logs" {
							// An unknown log label: the activity query and its logs volume refuse it.
							m["exclude"] = []any{map[string]any{"key": "no-such-label", "value": "x"}}
							brokePanel = fmt.Sprintf("%s panel %s %s", name, pm["title"], m["refId"])
						}
					}
				}
			}
			ps, _ := d["panels"].([]any)
			walk(ps)
		}
		tmpl, _ := d["templating"].(map[string]any)
		vars, _ := tmpl["list"].([]any)
		for _, v := range vars {
			vm, _ := v.(map[string]any)
			if brokeVar == "" && vm["type"] == "query" {
				vm["query"] = "no-such-list"
				brokeVar = name + " $" + vm["name"].(string)
			}
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
	copyGlob("provisioning/alerting/*.yaml", func(name string, b []byte) []byte {
		if brokeRule != "" || !bytes.Contains(b, []byte("groupBy: detector")) {
			return b
		}
		brokeRule = name
		// A group-by the alerts series do not have: the rule's query errors.
		return bytes.Replace(b, []byte("groupBy: detector"), []byte("groupBy: no-such-group"), 1)
	})
	if brokePanel == "" || brokeVar == "" || brokeRule == "" {
		t.Fatalf("found nothing to break: panel %q, variable %q, rule %q", brokePanel, brokeVar, brokeRule)
	}

	rec := &errorRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		replayProvisioning(rec, e, dir)
	}()
	<-done
	all := strings.Join(rec.errs, "\n")
	for _, want := range []string{brokePanel + " (", brokePanel + " logs volume (", brokeVar + ": ", "no-such-group"} {
		if !strings.Contains(all, want) {
			t.Errorf("the replay did not report %q; it reported:\n%s", want, all)
		}
	}
	if len(rec.errs) < 4 {
		t.Errorf("the replay reported %d failures, want at least 4:\n%s", len(rec.errs), all)
	}
}
