// Package plugintest drives the built plugin binary the way Grafana does:
// it starts the executable through the go-plugin handshake (gRPC, protocol
// 2) and calls QueryData, CheckHealth, CallResource, RunStream and
// CollectMetrics over the real protocol.
package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// PluginID is the plugin's id (contract).
const PluginID = "oktaguard-okta-datasource"

// DemoTag is the build tag that links the Okta simulator into the plugin
// (demo mode). Production builds (mage build:linux) go without it.
const DemoTag = "oktaguard_demo"

var (
	buildMu sync.Mutex
	built   = map[string]string{} // tags -> executable
	dirs    []string
)

// Build compiles ./pkg (the plugin's main package) as the demo build
// (-tags oktaguard_demo, so demo mode works) once per test process and
// returns the executable's path.
func Build() (string, error) { return build(DemoTag) }

// BuildProduction compiles ./pkg as the released plugin is built: no
// build tags, no simulator.
func BuildProduction() (string, error) { return build("") }

func build(tags string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[tags]; ok {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "oktaguard-plugin-bin-")
	if err != nil {
		return "", err
	}
	dirs = append(dirs, dir)
	path := filepath.Join(dir, "gpx_oktaguard")
	cmd := exec.Command("go", "build", "-tags", tags, "-o", path, "./pkg") // #nosec G204 -- test harness: builds this repository's plugin with the test's own build tags
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags %q ./pkg: %w\n%s", tags, err, out)
	}
	built[tags] = path
	return path, nil
}

// RemoveBuilds deletes every executable Build and BuildProduction made.
func RemoveBuilds() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
	dirs, built = nil, map[string]string{}
}

func repoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate the repository root")
	}
	// pkg/plugin/plugintest/harness.go → root
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..")), nil
}

// Plugin is a running plugin process and its gRPC clients.
type Plugin struct {
	client      *goplugin.Client
	Data        pluginv2.DataClient
	Diagnostics pluginv2.DiagnosticsClient
	Resource    pluginv2.ResourceClient
	Stream      pluginv2.StreamClient
	Logs        *SafeBuffer
}

// SafeBuffer collects the plugin's stderr (its logs) for assertions.
type SafeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start launches the plugin binary with extra environment variables.
func Start(binary string, env ...string) (*Plugin, error) {
	logs := &SafeBuffer{}
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), env...)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		Plugins: goplugin.PluginSet{
			"data":        &grpcplugin.DataGRPCPlugin{},
			"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
			"resource":    &grpcplugin.ResourceGRPCPlugin{},
			"stream":      &grpcplugin.StreamGRPCPlugin{},
		},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Stderr:           logs,
		SyncStderr:       logs,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.MultiWriter(logs), Level: hclog.Warn}),
		StartTimeout:     30 * time.Second,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("plugin handshake: %w (logs: %s)", err, logs.String())
	}
	p := &Plugin{client: client, Logs: logs}
	for name, dst := range map[string]any{"data": &p.Data, "diagnostics": &p.Diagnostics, "resource": &p.Resource, "stream": &p.Stream} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			client.Kill()
			return nil, fmt.Errorf("dispense %s: %w", name, err)
		}
		switch d := dst.(type) {
		case *pluginv2.DataClient:
			*d = raw.(pluginv2.DataClient)
		case *pluginv2.DiagnosticsClient:
			*d = raw.(pluginv2.DiagnosticsClient)
		case *pluginv2.ResourceClient:
			*d = raw.(pluginv2.ResourceClient)
		case *pluginv2.StreamClient:
			*d = raw.(pluginv2.StreamClient)
		}
	}
	return p, nil
}

// Exited reports whether the plugin process has exited.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Kill stops the plugin process.
func (p *Plugin) Kill() { p.client.Kill() }

// DataSource is one configured data source instance as Grafana sends it.
type DataSource struct {
	UID         string
	Name        string
	JSONData    map[string]any
	Secure      map[string]string
	LastUpdated time.Time
	// User is the signed-in Grafana user Grafana puts in the plugin
	// context of a request (nil: none, as for background requests).
	User *User
}

// User is a Grafana user and their org role (Viewer, Editor, Admin).
type User struct {
	Login, Role string
}

// As returns a copy of the data source whose requests come from a user.
func (d DataSource) As(login, role string) DataSource {
	d.User = &User{Login: login, Role: role}
	return d
}

// PluginContext builds the protobuf plugin context for the data source.
func (d DataSource) PluginContext() *pluginv2.PluginContext {
	jd, _ := json.Marshal(d.JSONData)
	lu := d.LastUpdated
	if lu.IsZero() {
		lu = time.Unix(1700000000, 0)
	}
	var user *pluginv2.User
	if d.User != nil {
		user = &pluginv2.User{Login: d.User.Login, Name: d.User.Login, Email: d.User.Login + "@example.com", Role: d.User.Role}
	}
	return &pluginv2.PluginContext{
		User:     user,
		OrgId:    1,
		PluginId: PluginID,
		DataSourceInstanceSettings: &pluginv2.DataSourceInstanceSettings{
			Id:                      1,
			Uid:                     d.UID,
			Name:                    d.Name,
			JsonData:                jd,
			DecryptedSecureJsonData: d.Secure,
			LastUpdatedMS:           lu.UnixMilli(),
		},
		GrafanaConfig: map[string]string{},
	}
}

// Query is one query of a QueryData request.
type Query struct {
	RefID     string
	QueryType string // set on alert-rule queries; dashboards put it in the model
	Model     map[string]any
	From, To  time.Time
	Interval  time.Duration
	MaxPoints int64
}

// QueryData sends the queries; fromAlert sets the FromAlert header as the
// alerting engine does. It returns the decoded frames and error per refId.
func (p *Plugin) QueryData(ctx context.Context, ds DataSource, fromAlert bool, qs ...Query) (map[string]Result, error) {
	req := &pluginv2.QueryDataRequest{PluginContext: ds.PluginContext(), Headers: map[string]string{}}
	if fromAlert {
		req.Headers["FromAlert"] = "true"
	}
	for _, q := range qs {
		model, err := json.Marshal(q.Model)
		if err != nil {
			return nil, err
		}
		iv := q.Interval
		if iv == 0 {
			iv = time.Minute
		}
		mp := q.MaxPoints
		if mp == 0 {
			mp = 1000
		}
		req.Queries = append(req.Queries, &pluginv2.DataQuery{
			RefId: q.RefID, QueryType: q.QueryType, Json: model,
			IntervalMS: iv.Milliseconds(), MaxDataPoints: mp,
			TimeRange: &pluginv2.TimeRange{FromEpochMS: q.From.UnixMilli(), ToEpochMS: q.To.UnixMilli()},
		})
	}
	resp, err := p.Data.QueryData(ctx, req)
	if err != nil {
		return nil, err
	}
	out := map[string]Result{}
	for ref, r := range resp.Responses {
		res := Result{Error: r.Error, Status: int(r.Status)}
		if len(r.Frames) > 0 {
			frames, err := data.UnmarshalArrowFrames(r.Frames)
			if err != nil {
				return nil, fmt.Errorf("refId %s: decode frames: %w", ref, err)
			}
			res.Frames = frames
		}
		out[ref] = res
	}
	return out, nil
}

// Result is one refId's response.
type Result struct {
	Frames data.Frames
	Error  string
	Status int
}

// CheckHealth calls CheckHealth for the data source.
func (p *Plugin) CheckHealth(ctx context.Context, ds DataSource) (*pluginv2.CheckHealthResponse, error) {
	return p.Diagnostics.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: ds.PluginContext()})
}

// CollectMetrics returns the plugin's Prometheus exposition text.
func (p *Plugin) CollectMetrics(ctx context.Context, ds DataSource) (string, error) {
	r, err := p.Diagnostics.CollectMetrics(ctx, &pluginv2.CollectMetricsRequest{PluginContext: ds.PluginContext()})
	if err != nil {
		return "", err
	}
	if r.Metrics == nil {
		return "", nil
	}
	return string(r.Metrics.Prometheus), nil
}

// CallResource calls a resource path and returns the status and body.
func (p *Plugin) CallResource(ctx context.Context, ds DataSource, method, path string, body []byte) (int, []byte, error) {
	u := path
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	stream, err := p.Resource.CallResource(ctx, &pluginv2.CallResourceRequest{
		PluginContext: ds.PluginContext(), Path: path, Method: method, Url: u, Body: body,
	})
	if err != nil {
		return 0, nil, err
	}
	status := 0
	var out []byte
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return status, out, err
		}
		if msg.Code != 0 {
			status = int(msg.Code)
		}
		out = append(out, msg.Body...)
	}
	return status, out, nil
}

// SubscribeStream asks the plugin whether a stream path may be subscribed.
func (p *Plugin) SubscribeStream(ctx context.Context, ds DataSource, path string) (*pluginv2.SubscribeStreamResponse, error) {
	return p.Stream.SubscribeStream(ctx, &pluginv2.SubscribeStreamRequest{PluginContext: ds.PluginContext(), Path: path})
}

// RunStream runs a stream and delivers each packet's frame to fn until
// ctx ends or fn returns false.
func (p *Plugin) RunStream(ctx context.Context, ds DataSource, path string, fn func(*data.Frame) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := p.Stream.RunStream(ctx, &pluginv2.RunStreamRequest{PluginContext: ds.PluginContext(), Path: path})
	if err != nil {
		return err
	}
	for {
		pkt, err := s.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var f data.Frame
		if err := json.Unmarshal(pkt.Data, &f); err != nil {
			return fmt.Errorf("stream packet: %w", err)
		}
		if !fn(&f) {
			return nil
		}
	}
}
