//go:build !oktaguard_demo

package plugin

import (
	"errors"
	"time"
)

// Production builds carry no Okta simulator: demo mode needs a demo build
// of the plugin (demo.go, -tags oktaguard_demo).

type demoOrg struct {
	URL, Token string
	Lists      map[string][]string
}

func (*demoOrg) Close() {}

var errNoDemo = errors.New("demo mode is not available in this build of the plugin: it carries no Okta simulator. " +
	"Use the demo build (go run github.com/magefile/mage buildDemo, as docker-compose does) or untick demo and set the org URL and credentials")

func startDemoOrg(time.Time) (*demoOrg, error) { return nil, errNoDemo }
