package plugin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Offline stand-ins for two Grafana tools that need the network here:
// the JSON schema of plugin.json (grafana/grafana
// docs/sources/developers/plugins/plugin.schema.json, AGPL-3.0, so its
// rules are written out here rather than vendored) and the dashboard
// linter (grafana/dashboard-linter rules named below).

var (
	pluginIDRe   = regexp.MustCompile(`^[0-9a-z]+\-([0-9a-z]+\-)?(app|panel|datasource)$`)
	grafanaDepRe = regexp.MustCompile(`^(<=|>=|<|>|=|~|\^)?([0-9]+)(\.[0-9x\*]+)(\.?[0-9x\*]+)?(\s(<=|>=|<|=>)?([0-9]+)(\.[0-9x]+)(\.?[0-9x]+)?)?(\-[0-9]+)?$`)
)

// pluginJSONKeys are the top-level properties the schema allows
// (additionalProperties: false), as of the schema copy in
// grafana/plugin-validator 0.45.6 (config/plugin.schema.json).
var pluginJSONKeys = map[string]bool{
	"$schema": true, "alerting": true, "annotations": true, "autoEnabled": true, "backend": true, "buildMode": true,
	"builtIn": true, "category": true, "dependencies": true, "docsPath": true, "enterpriseFeatures": true,
	"executable": true, "extensions": true, "hideFromList": true, "iam": true, "id": true, "includes": true,
	"info": true, "languages": true, "logs": true, "metrics": true, "mixed": true, "multiValueFilterOperators": true,
	"name": true, "pascalName": true, "preload": true, "queryOptions": true, "roles": true, "routes": true,
	"skipDataQuery": true, "state": true, "streaming": true, "suggestions": true, "tracing": true, "type": true,
}

// infoKeys and dependencyKeys are what info and dependencies may hold
// (additionalProperties: false there too); links and screenshots are
// {name, url} and {name, path}.
var (
	infoKeys = map[string]bool{"author": true, "build": true, "description": true, "keywords": true, "links": true,
		"logos": true, "screenshots": true, "updated": true, "version": true}
	dependencyKeys = map[string]bool{"extensions": true, "grafanaDependency": true, "grafanaVersion": true, "plugins": true}
)

func onlyKeys(t *testing.T, what string, m map[string]any, allowed map[string]bool) {
	t.Helper()
	for k := range m {
		if !allowed[k] {
			t.Errorf("plugin.json: %s has unknown property %q", what, k)
		}
	}
}

func TestPluginJSONAgainstSchemaRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "plugin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	for k := range p {
		if !pluginJSONKeys[k] {
			t.Errorf("plugin.json: unknown property %q", k)
		}
	}
	for _, k := range []string{"type", "name", "id", "info", "dependencies"} {
		if p[k] == nil {
			t.Errorf("plugin.json: required %q missing", k)
		}
	}
	if id, _ := p["id"].(string); !pluginIDRe.MatchString(id) {
		t.Errorf("plugin.json: id %q does not match %s", id, pluginIDRe)
	}
	switch p["type"] {
	case "app", "datasource", "panel", "renderer", "secretsmanager":
	default:
		t.Errorf("plugin.json: type %v", p["type"])
	}
	if p["backend"] == true {
		if ex, _ := p["executable"].(string); ex == "" {
			t.Error("plugin.json: backend plugins need executable")
		}
	}
	info, _ := p["info"].(map[string]any)
	onlyKeys(t, "info", info, infoKeys)
	deps0, _ := p["dependencies"].(map[string]any)
	onlyKeys(t, "dependencies", deps0, dependencyKeys)
	for _, k := range []string{"keywords", "logos", "version", "updated"} {
		if info[k] == nil {
			t.Errorf("plugin.json: info.%s missing", k)
		}
	}
	if kw, _ := info["keywords"].([]any); len(kw) == 0 {
		t.Error("plugin.json: info.keywords must have at least one entry")
	}
	if a, _ := info["author"].(map[string]any); a == nil || a["name"] == "" {
		t.Error("plugin.json: info.author.name missing")
	}
	src := filepath.Join(root, "src")
	logos, _ := info["logos"].(map[string]any)
	for _, k := range []string{"small", "large"} {
		path, _ := logos[k].(string)
		if _, err := os.Stat(filepath.Join(src, path)); path == "" || err != nil {
			t.Errorf("plugin.json: info.logos.%s %q is not a file under src/", k, path)
		}
	}
	for _, l := range asList(info["links"]) {
		onlyKeys(t, "a link", l, map[string]bool{"name": true, "url": true})
		if l["name"] == nil || l["url"] == nil {
			t.Errorf("plugin.json: link %v needs name and url", l)
		}
	}
	shots := asList(info["screenshots"])
	if len(shots) < 4 {
		t.Errorf("plugin.json: %d screenshots, the catalog page wants the editors and panels (npm run screenshots)", len(shots))
	}
	for _, s := range shots {
		onlyKeys(t, "a screenshot", s, map[string]bool{"name": true, "path": true})
		path, _ := s["path"].(string)
		if s["name"] == nil || path == "" {
			t.Errorf("plugin.json: screenshot %v needs name and path", s)
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, path))
		if err != nil {
			t.Errorf("plugin.json: screenshot %s is not a file under src/", path)
			continue
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 4096 {
			t.Errorf("plugin.json: screenshot %s is not a PNG image of some size (%d bytes)", path, len(b))
		}
	}
	deps, _ := p["dependencies"].(map[string]any)
	if gd, _ := deps["grafanaDependency"].(string); !grafanaDepRe.MatchString(gd) {
		t.Errorf("plugin.json: dependencies.grafanaDependency %q does not match the schema's pattern", gd)
	}
	for _, inc := range asList(p["includes"]) {
		switch inc["type"] {
		case "dashboard", "page", "panel", "datasource":
		default:
			t.Errorf("plugin.json: include type %v", inc["type"])
		}
		if inc["type"] == "dashboard" {
			path, _ := inc["path"].(string)
			if _, err := os.Stat(filepath.Join(root, path)); err != nil {
				t.Errorf("plugin.json: included dashboard %q does not exist", path)
			}
		}
	}
}

func asList(v any) []map[string]any {
	var out []map[string]any
	l, _ := v.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// unitPanels are the panel types the linter's panel-units-rule covers
// (plus tables and pie/bar charts, whose counts need a unit too).
var unitPanels = map[string]bool{"stat": true, "singlestat": true, "graph": true, "table": true, "timeseries": true,
	"gauge": true, "bargauge": true, "piechart": true}

// targetPanels must have at least one query (panel-no-targets-rule) and
// query the templated data source (panel-datasource-rule).
var targetPanels = map[string]bool{"stat": true, "singlestat": true, "graph": true, "table-old": true,
	"timeseries": true, "gauge": true}

// grafanaUnits are the Grafana unit ids the bundled dashboards may use; a
// unit outside Grafana's list is as bad as none (panel-units-rule), so a
// new one is added here after checking it is one of Grafana's.
var grafanaUnits = map[string]bool{"none": true, "string": true, "short": true, "percent": true, "percentunit": true,
	"s": true, "ms": true, "dtdurations": true, "dateTimeAsIso": true, "dateTimeFromNow": true, "bool": true}

func TestDashboardLintRules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		name := filepath.Base(f)
		uid, _ := d["uid"].(string)
		if uid == "" || len(uid) > 40 {
			t.Errorf("%s: uid %q (1..40 characters)", name, uid)
		}
		if other, dup := uids[uid]; dup {
			t.Errorf("%s: uid %q also used by %s", name, uid, other)
		}
		uids[uid] = name
		// Provisioned dashboards are read-only: edits belong in the file.
		if d["editable"] != false {
			t.Errorf("%s: editable must be false", name)
		}
		ids := map[float64]bool{}
		var walk func(ps []map[string]any)
		walk = func(ps []map[string]any) {
			for _, p := range ps {
				walk(asList(p["panels"]))
				id, _ := p["id"].(float64)
				if ids[id] {
					t.Errorf("%s: panel id %v repeats", name, id)
				}
				ids[id] = true
				typ, _ := p["type"].(string)
				if typ == "row" {
					continue
				}
				// panel-title-description-rule
				if p["title"] == "" || p["title"] == nil || p["description"] == "" || p["description"] == nil {
					t.Errorf("%s: panel %v %q lacks a title or description", name, id, p["title"])
				}
				// panel-units-rule
				if unitPanels[typ] {
					fc, _ := p["fieldConfig"].(map[string]any)
					def, _ := fc["defaults"].(map[string]any)
					if u, _ := def["unit"].(string); u == "" {
						t.Errorf("%s: %s panel %v %q has no unit", name, typ, id, p["title"])
					} else if !grafanaUnits[u] {
						t.Errorf("%s: %s panel %v %q has unit %q, not a Grafana unit id", name, typ, id, p["title"], u)
					}
					for _, o := range asList(fc["overrides"]) {
						for _, prop := range asList(o["properties"]) {
							if u, _ := prop["value"].(string); prop["id"] == "unit" && !grafanaUnits[u] {
								t.Errorf("%s: panel %v %q overrides unit %q, not a Grafana unit id", name, id, p["title"], u)
							}
						}
					}
				}
				// panel-no-targets-rule, panel-datasource-rule
				if targetPanels[typ] && len(asList(p["targets"])) == 0 {
					t.Errorf("%s: %s panel %v %q has no targets", name, typ, id, p["title"])
				}
				if ds, _ := p["datasource"].(map[string]any); ds["uid"] != "${datasource}" && ds["uid"] != "$datasource" {
					t.Errorf("%s: panel %v %q uses data source %v, not the templated ${datasource}", name, id, p["title"], p["datasource"])
				}
				for _, tg := range asList(p["targets"]) {
					if tg["refId"] == nil {
						t.Errorf("%s: panel %v has a target without refId", name, id)
					}
				}
			}
		}
		walk(asList(d["panels"]))
		tmpl, _ := d["templating"].(map[string]any)
		hasDS := false
		for _, v := range asList(tmpl["list"]) {
			switch v["type"] {
			case "datasource":
				// template-datasource-rule: the only data source variable
				// is named "datasource" and labelled "Data source" (the
				// linter's warning, an error with --strict).
				hasDS = true
				if v["name"] != "datasource" || v["label"] != "Data source" {
					t.Errorf("%s: data source variable %v labelled %v, want datasource / \"Data source\"", name, v["name"], v["label"])
				}
			case "query":
				// template-on-time-change-reload-rule: refresh 2 (on time range change)
				if v["refresh"] != float64(2) {
					t.Errorf("%s: query variable %v refreshes %v, want 2 (on time range change)", name, v["name"], v["refresh"])
				}
			}
		}
		if !hasDS {
			t.Errorf("%s: no datasource variable", name)
		}
	}
}
