//go:build mage

// Magefile: the Grafana plugin SDK's build targets (build:linux, build:darwin,
// ..., buildAll, coverage, ...) plus oktaguard's own targets.
//
//	go run github.com/magefile/mage -v            # build the plugin backend for every platform into dist/
//	go run github.com/magefile/mage -v testAll    # the README's test command (.ci/test)
package main

import (
	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
	"github.com/magefile/mage/sh"
)

func init() {
	// plugin.json lives at the repository root, not in src/.
	_ = build.SetBeforeBuildCallback(func(cfg build.Config) (build.Config, error) {
		cfg.PluginJSONPath = "."
		cfg.EnableCGo = false
		return cfg, nil
	})
}

// Default builds the plugin backend for every platform Grafana supports.
var Default = build.BuildAll

// CLI builds the oktaguard command (exporter, replay, posture, sim, demo) into bin/.
func CLI() error {
	env := map[string]string{"CGO_ENABLED": "0"}
	return sh.RunWithV(env, "go", "build", "-o", "bin/oktaguard", "./cmd/oktaguard")
}

// Demo runs the demo on built-in defaults (simulated org → detections → metrics).
func Demo() error {
	return sh.RunV("go", "run", "./cmd/oktaguard", "demo")
}

// TestAll runs every test: Go (race), fuzz smoke, frontend, promtool, compose.
func TestAll() error {
	return sh.RunV("./.ci/test")
}
