//go:build mage

// Magefile: the Grafana plugin SDK's build targets (build:linux, build:darwin,
// ..., buildAll, coverage, ...) plus oktaguard's own targets.
//
//	go run github.com/magefile/mage -v build:linux   # the plugin backend for linux/amd64 into dist/ (+ go_plugin_build_manifest)
//	go run github.com/magefile/mage -v               # the plugin backend for every platform into dist/
//	go run github.com/magefile/mage -v buildDemo     # linux/amd64 backend WITH the Okta simulator (demo mode; docker-compose)
//	go run github.com/magefile/mage -v testAll       # the README's test command (.ci/test)
//
// Released builds carry no simulator: demo mode exists only in buildDemo's
// binary (build tag oktaguard_demo; see pkg/plugin/demo.go).
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

// BuildDemo builds the linux/amd64 backend with the in-process Okta
// simulator (jsonData.demo), for the docker-compose demo only. (The SDK's
// build passes its own -tags, so the demo tag cannot ride on GOFLAGS.)
func BuildDemo() error {
	env := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64"}
	return sh.RunWithV(env, "go", "build", "-tags", "oktaguard_demo,arrow_json_stdlib", "-ldflags", "-w -s",
		"-o", "dist/gpx_oktaguard_linux_amd64", "./pkg")
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
