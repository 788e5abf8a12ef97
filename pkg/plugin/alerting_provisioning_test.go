package plugin_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"

	"gopkg.in/yaml.v3"
)

// grafanaInterpolate is what Grafana's file provisioning does to every
// string it reads through its values types (pkg/services/provisioning/values,
// interpolateValue): "$$" is a literal "$"; every other "$NAME" or "${NAME}"
// is replaced by the environment variable (empty when unset) via
// os.ExpandEnv. Rule titles, labels and annotations and contact-point
// settings go through it; query models do not (Grafana uses their raw value).
func grafanaInterpolate(s string) string {
	parts := strings.Split(s, "$$")
	for i, p := range parts {
		parts[i] = os.ExpandEnv(p)
	}
	return strings.Join(parts, "$")
}

// grafanaTemplateValue and grafanaTemplateData mirror the data Grafana's
// alerting hands to label and annotation templates
// (pkg/services/ngalert/state/template: Data{Labels, Values, Value}).
type grafanaTemplateValue struct {
	Labels map[string]string
	Value  float64
}

type grafanaTemplateData struct {
	Labels map[string]string
	Values map[string]grafanaTemplateValue
	Value  string
}

// grafanaExpand renders a label or annotation template as Grafana does:
// the $labels/$values/$value variables are declared in front of it and
// missing keys are errors.
func grafanaExpand(tmpl string, d grafanaTemplateData) (string, error) {
	full := "{{- $labels := .Labels -}}{{- $values := .Values -}}{{- $value := .Value -}}" + tmpl
	t, err := template.New("rule").Option("missingkey=error").Parse(full)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

type provisionedRule struct {
	UID         string            `yaml:"uid"`
	Title       string            `yaml:"title"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	Data        []struct {
		RefID string         `yaml:"refId"`
		Model map[string]any `yaml:"model"`
	} `yaml:"data"`
}

// provisionedGroup is a rule group of provisioning/alerting/*.yaml.
type provisionedGroup struct {
	Name   string            `yaml:"name"`
	Folder string            `yaml:"folder"`
	Rules  []provisionedRule `yaml:"rules"`
	file   string
}

func loadProvisionedGroups(t *testing.T) []provisionedGroup {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "provisioning", "alerting", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no alerting provisioning files: %v", err)
	}
	var out []provisionedGroup
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []provisionedGroup `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			g.file = filepath.Base(f)
			out = append(out, g)
		}
	}
	return out
}

func loadProvisionedRules(t *testing.T) []provisionedRule {
	t.Helper()
	var out []provisionedRule
	for _, g := range loadProvisionedGroups(t) {
		out = append(out, g.Rules...)
	}
	if len(out) < 4 {
		t.Fatalf("only %d provisioned rules", len(out))
	}
	return out
}

// ruleInstance is what one alert instance of a rule looks like after
// provisioning and evaluation: its labels and annotations rendered for a
// series labelled by the query's groupBy (detector) and profile.
func ruleInstance(t *testing.T, r provisionedRule, seriesLabels map[string]string) (labels, annotations map[string]string) {
	t.Helper()
	values := map[string]grafanaTemplateValue{}
	for _, d := range r.Data {
		values[d.RefID] = grafanaTemplateValue{Labels: seriesLabels, Value: 3}
	}
	data := grafanaTemplateData{Labels: seriesLabels, Values: values, Value: "[ var='B' value=3 ]"}
	render := func(what string, in map[string]string) map[string]string {
		out := map[string]string{}
		for k, raw := range in {
			v, err := grafanaExpand(grafanaInterpolate(raw), data)
			if err != nil {
				t.Errorf("rule %s: %s %s = %q fails after provisioning: %v", r.UID, what, k, grafanaInterpolate(raw), err)
				continue
			}
			out[k] = v
		}
		return out
	}
	labels = render("label", r.Labels)
	// The rule's own labels join the series' labels on the instance.
	for k, v := range seriesLabels {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	return labels, render("annotation", r.Annotations)
}

func TestProvisionedRulesSurviveGrafanaInterpolation(t *testing.T) {
	// An environment variable named like a template variable must not
	// change anything either.
	t.Setenv("labels", "ENV-LEAK")
	t.Setenv("values", "ENV-LEAK")
	for _, r := range loadProvisionedRules(t) {
		if got := grafanaInterpolate(r.Title); got != r.Title {
			t.Errorf("rule %s: title %q becomes %q when provisioned", r.UID, r.Title, got)
		}
		series := map[string]string{"profile": "baseline"}
		for _, d := range r.Data {
			if g, _ := d.Model["groupBy"].(string); g != "" {
				series[g] = "impossible_travel"
			}
		}
		labels, ann := ruleInstance(t, r, series)
		if _, grouped := series["detector"]; grouped && labels["detector"] != "impossible_travel" {
			t.Errorf("rule %s: detector label is %q after provisioning, want the series' detector", r.UID, labels["detector"])
		}
		for k, v := range labels {
			if strings.Contains(v, "{{") || strings.Contains(v, "ENV-LEAK") || v == "" {
				t.Errorf("rule %s: label %s renders as %q", r.UID, k, v)
			}
		}
		if strings.Contains(r.Annotations["summary"], "detector") && !strings.Contains(ann["summary"], "impossible_travel") {
			t.Errorf("rule %s: summary %q lost the detector", r.UID, ann["summary"])
		}
		for k, v := range ann {
			if strings.Contains(v, "no value") || strings.Contains(v, "ENV-LEAK") {
				t.Errorf("rule %s: annotation %s renders as %q", r.UID, k, v)
			}
		}
	}
}

// The checker itself catches the bug it is there for.
func TestGrafanaInterpolationBreaksDollarLabels(t *testing.T) {
	broken := grafanaInterpolate("{{ $labels.detector }}")
	if broken != "{{ .detector }}" {
		t.Fatalf("interpolation gave %q", broken)
	}
	if _, err := grafanaExpand(broken, grafanaTemplateData{Labels: map[string]string{"detector": "x"}}); err == nil {
		t.Fatal("the broken template rendered")
	}
	if got, err := grafanaExpand(grafanaInterpolate("{{ $$labels.detector }}"), grafanaTemplateData{Labels: map[string]string{"detector": "x"}}); err != nil || got != "x" {
		t.Fatalf("escaped $$: %q %v", got, err)
	}
}

type route struct {
	Receiver       string     `yaml:"receiver"`
	ObjectMatchers [][]string `yaml:"object_matchers"`
	GroupBy        []string   `yaml:"group_by"`
	GroupWait      string     `yaml:"group_wait"`
	RepeatInterval string     `yaml:"repeat_interval"`
	Continue       bool       `yaml:"continue"`
	Routes         []route    `yaml:"routes"`
}

var matcherOps = map[string]func(v, want string) bool{
	"=":  func(v, w string) bool { return v == w },
	"!=": func(v, w string) bool { return v != w },
	"=~": func(v, w string) bool { return regexp.MustCompile("^(?:" + w + ")$").MatchString(v) },
	"!~": func(v, w string) bool { return !regexp.MustCompile("^(?:" + w + ")$").MatchString(v) },
}

func (r route) matches(t *testing.T, labels map[string]string) bool {
	for _, m := range r.ObjectMatchers {
		if len(m) != 3 || matcherOps[m[1]] == nil {
			t.Fatalf("bad matcher %v", m)
		}
		if !matcherOps[m[1]](labels[m[0]], m[2]) {
			return false
		}
	}
	return true
}

// resolve walks the tree as Alertmanager does (first matching child wins
// unless it says continue; a node without receiver inherits its parent's)
// and returns the receiving route.
func (r route) resolve(t *testing.T, labels map[string]string) route {
	for _, c := range r.Routes {
		if c.matches(t, labels) {
			if c.Receiver == "" {
				c.Receiver = r.Receiver
			}
			return c.resolve(t, labels)
		}
	}
	return r
}

func TestAlertsRouteToOktaguardContactPoints(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "provisioning", "alerting", "oktaguard-notifications.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "$") {
		t.Fatal("the notification file must not contain $ (Grafana's provisioning expands it)")
	}
	var doc struct {
		ContactPoints []struct {
			Name      string `yaml:"name"`
			Receivers []struct {
				UID      string            `yaml:"uid"`
				Type     string            `yaml:"type"`
				Settings map[string]string `yaml:"settings"`
			} `yaml:"receivers"`
		} `yaml:"contactPoints"`
		Policies []route `yaml:"policies"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	points := map[string]bool{"grafana-default-email": true}
	for _, cp := range doc.ContactPoints {
		points[cp.Name] = true
		for _, rc := range cp.Receivers {
			if rc.Type == "webhook" && !strings.Contains(rc.Settings["url"], ".invalid/") {
				t.Errorf("contact point %s: webhook %q is not an obvious placeholder", cp.Name, rc.Settings["url"])
			}
		}
	}
	if len(doc.Policies) != 1 {
		t.Fatalf("%d policy trees, want 1", len(doc.Policies))
	}
	tree := doc.Policies[0]
	var check func(r route)
	check = func(r route) {
		if r.Receiver != "" && !points[r.Receiver] {
			t.Errorf("route receiver %q is not a contact point", r.Receiver)
		}
		for _, c := range r.Routes {
			check(c)
		}
	}
	check(tree)

	want := map[string]string{"critical": "oktaguard-page", "high": "oktaguard-triage", "medium": "oktaguard-triage"}
	for sev, recv := range want {
		got := tree.resolve(t, map[string]string{"source": "oktaguard", "severity": sev, "detector": "mfa_fatigue"})
		if got.Receiver != recv {
			t.Errorf("severity %s routes to %s, want %s", sev, got.Receiver, recv)
		}
	}
	if got := tree.resolve(t, map[string]string{"severity": "critical"}); got.Receiver != "grafana-default-email" {
		t.Errorf("alerts of other sources route to %s, want the default", got.Receiver)
	}
	// Every provisioned rule's instances reach an oktaguard contact point,
	// one notification group per detector.
	for _, r := range loadProvisionedRules(t) {
		labels, _ := ruleInstance(t, r, map[string]string{"detector": "impossible_travel", "profile": "baseline"})
		got := tree.resolve(t, labels)
		if !strings.HasPrefix(got.Receiver, "oktaguard-") {
			t.Errorf("rule %s (labels %v) routes to %s", r.UID, labels, got.Receiver)
		}
		sub := tree.Routes[0]
		grouped := false
		for _, g := range sub.GroupBy {
			grouped = grouped || g == "detector"
		}
		if !grouped {
			t.Errorf("the source=oktaguard route does not group by detector: %v", sub.GroupBy)
		}
	}
}

// The dashboards and the alert rules land in one folder, named by title on
// both sides: a folderUid on the dashboards' provider would clash on first
// start with the folder the alert provisioning creates by title (or the
// reverse), and the rules' dashboard links would point into another folder.
func TestDashboardsAndRulesShareOneFolderByTitle(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "provisioning", "dashboards", "oktaguard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Providers []map[string]any `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &dash); err != nil || len(dash.Providers) != 1 {
		t.Fatalf("dashboard provisioning: %d providers, %v", len(dash.Providers), err)
	}
	p := dash.Providers[0]
	folder, _ := p["folder"].(string)
	if folder == "" {
		t.Fatal("the dashboard provider names no folder")
	}
	if _, ok := p["folderUid"]; ok {
		t.Errorf("the dashboard provider sets folderUid %v: name the folder by title only", p["folderUid"])
	}
	groups := loadProvisionedGroups(t)
	if len(groups) == 0 {
		t.Fatal("no alert rule groups")
	}
	for _, g := range groups {
		if g.Folder != folder {
			t.Errorf("%s: rule group %s is in folder %q, the dashboards in %q", g.file, g.Name, g.Folder, folder)
		}
	}
}
