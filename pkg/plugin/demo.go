package plugin

import (
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim/demo"
)

// demoOrg is the in-process simulated org of a data source in demo mode
// (jsonData.demo = true): the docker-compose demo needs no Okta org.
type demoOrg = demo.Org

func startDemoOrg(now time.Time) (*demoOrg, error) {
	return demo.Start(demo.Options{Now: now})
}
