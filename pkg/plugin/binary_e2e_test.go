package plugin_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/plugin/plugintest"
)

// symbols lists the Go symbols of an executable (go tool nm).
func symbols(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm %s: %v\n%s", bin, err, out)
	}
	return string(out)
}

// The released plugin (built without tags, as mage build:linux does)
// carries no Okta simulator; the demo build does, and only it runs demo mode.
func TestProductionBinaryHasNoSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary twice")
	}
	prod, err := plugintest.BuildProduction()
	if err != nil {
		t.Fatal(err)
	}
	demo, err := plugintest.Build()
	if err != nil {
		t.Fatal(err)
	}
	const sim = "oktaguard/pkg/oktasim"
	ps, ds := symbols(t, prod), symbols(t, demo)
	if !strings.Contains(ps, "oktaguard/pkg/plugin.") {
		t.Fatal("the production symbol table lacks the plugin package: the check would prove nothing")
	}
	for _, line := range strings.Split(ps, "\n") {
		if strings.Contains(line, sim) {
			t.Fatalf("the production plugin binary links the simulator: %s", strings.TrimSpace(line))
		}
	}
	if !strings.Contains(ds, sim) {
		t.Fatal("the demo build has no simulator symbols: the check would prove nothing")
	}

	// Demo mode on the production binary is a clear error, not a crash.
	p, err := plugintest.Start(prod)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := p.CheckHealth(ctx, plugintest.DataSource{UID: "prod-demo", Name: "demo",
		JSONData: map[string]any{"demo": true, "storagePath": t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status.String() != "ERROR" || !strings.Contains(r.Message, "demo mode is not available in this build") {
		t.Fatalf("production demo health: %s %q", r.Status, r.Message)
	}
}
