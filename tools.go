//go:build tools

// Package tools pins modules that are used by build scripts, tests and
// generated code so that `go mod tidy` keeps them and their go.sum entries.
package tools

import (
	_ "github.com/VictoriaMetrics/fastcache"
	_ "github.com/grafana/grafana-plugin-sdk-go/backend"
	_ "github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	_ "github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	_ "github.com/grafana/grafana-plugin-sdk-go/backend/log"
	_ "github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	_ "github.com/grafana/grafana-plugin-sdk-go/build"
	_ "github.com/grafana/grafana-plugin-sdk-go/data"
	_ "github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	_ "github.com/hashicorp/go-plugin"
	_ "github.com/magefile/mage/mg"
	_ "github.com/maxmind/mmdbwriter"
	_ "github.com/maxmind/mmdbwriter/mmdbtype"
	_ "github.com/okta/okta-sdk-golang/v2/okta"
	_ "github.com/okta/okta-sdk-golang/v2/okta/query"
	_ "github.com/oschwald/maxminddb-golang"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/prometheus/client_golang/prometheus/testutil/promlint"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/prometheus/exporter-toolkit/web"
	_ "google.golang.org/grpc"
	_ "gopkg.in/yaml.v3"
	_ "modernc.org/sqlite"
)
