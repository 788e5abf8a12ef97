// Command gpx_oktaguard is the oktaguard Grafana backend data source.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/plugin"
)

func main() {
	reg := plugin.NewRegistry(prometheus.DefaultRegisterer)
	defer reg.Close()
	if err := datasource.Manage(plugin.PluginID, plugin.NewFactory(reg), datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
