//go:build oktaguard_demo

package plugin

import (
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
)

// Demo builds (-tags oktaguard_demo: `mage buildDemo`, docker-compose's
// demo and the plugin's own tests) link the Okta simulator; production
// builds (`mage build:linux`) do not (demo_stub.go).

// demoOrg is the in-process simulated org of a data source in demo mode
// (jsonData.demo = true): the docker-compose demo needs no Okta org.
type demoOrg = demo.Org

func startDemoOrg(now time.Time) (*demoOrg, error) {
	return demo.Start(demo.Options{Now: now})
}
