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
	// The first live attacks start two minutes in, so a new user sees a
	// live detection in Grafana soon after the backfill (not after the
	// 10 minutes of the round robin's first attack).
	return demo.Start(demo.Options{Now: now, FirstLiveAttack: 2 * time.Minute})
}
