package plugin_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
)

// writeScreenshotFrames runs the queries and resource calls the catalog
// screenshots show (screenshots/README.md) through the running plugin and
// checks each answers with data. With OKTAGUARD_SCREENSHOT_FRAMES=<dir> it
// writes them there as the frontend receives them (frames in the
// data-frame JSON wire format, resources as returned), for the harness page
// to render with the real editors and @grafana/ui panels.
func writeScreenshotFrames(t *testing.T, e *env) {
	dir := os.Getenv("OKTAGUARD_SCREENSHOT_FRAMES")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.waitPosture(t, e.ds)
	queries := map[string]map[string]any{
		"activity-logs":  {"queryType": "activity", "format": "logs", "limit": 200},
		"activity-table": {"queryType": "activity", "limit": 200},
		"logs-volume":    {"queryType": "logs_volume"},
		"alerts":         {"queryType": "alerts", "limit": 200},
		"posture":        {"queryType": "posture"},
	}
	for name, model := range queries {
		r := e.query(t, e.ds, false, plugintest.Query{RefID: "A", Model: model, MaxPoints: 200})["A"]
		if r.Error != "" || len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
			t.Fatalf("%s: error %q, %d frames", name, r.Error, len(r.Frames))
		}
		b, err := json.Marshal(r.Frames)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, path := range map[string]string{"detectors": "detectors", "actors": "actors", "event-types": "event-types"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		status, body, err := e.p.CallResource(ctx, e.ds, "GET", path, nil)
		cancel()
		if err != nil || status != 200 || len(body) < 10 {
			t.Fatalf("resource %s: %d %v %.200s", path, status, err, body)
		}
		if err := os.WriteFile(filepath.Join(dir, "resource-"+name+".json"), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta, _ := json.Marshal(map[string]any{"from": e.from.UnixMilli(), "to": e.to.UnixMilli()})
	if err := os.WriteFile(filepath.Join(dir, "range.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
}
