package plugin

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// slowOkta is an Okta org whose System Log page hangs until released: a
// pipeline polling it takes its whole shutdown grace to stop.
type slowOkta struct {
	srv     *httptest.Server
	held    chan struct{} // closed when the first System Log request hangs
	release chan struct{}
	once    sync.Once
}

func newSlowOkta(t *testing.T) *slowOkta {
	o := &slowOkta{held: make(chan struct{}), release: make(chan struct{})}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/api/v1/logs") {
			o.once.Do(func() { close(o.held) })
			select {
			case <-o.release:
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte("[]"))
	}))
	t.Cleanup(func() {
		select {
		case <-o.release:
		default:
			close(o.release)
		}
		o.srv.Close()
	})
	return o
}

func registrySettings(t *testing.T, uid, orgURL string) Settings {
	t.Helper()
	s, err := LoadSettings(backend.DataSourceInstanceSettings{UID: uid, Name: uid,
		JSONData:                []byte(`{"orgUrl":"` + orgURL + `","pollInterval":"5s","backfill":"1h","storagePath":"` + t.TempDir() + `"}`),
		DecryptedSecureJSONData: map[string]string{"apiToken": "00registry-test-token"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A data source whose old pipeline is slow to stop (its Okta page hangs)
// must not block another data source's start, nor the registry.
func TestRegistryStartDoesNotWaitForAnotherDataSourcesStop(t *testing.T) {
	slow := newSlowOkta(t)
	fast := newSlowOkta(t)
	close(fast.release) // answers at once
	// The data sources' stores live under the test's temporary root, whose
	// removal t.TempDir registers at its first call; cleanups run last
	// registered first, so the root is made before the registry's Close is
	// registered: the pipelines stop (and their stores close) before their
	// files are removed, not while.
	_ = t.TempDir()
	g := NewRegistry(prometheus.NewRegistry())
	t.Cleanup(g.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	a := registrySettings(t, "slow-a", slow.srv.URL)
	if _, err := g.start(a, logger); err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline never requested the System Log")
	}

	// Settings of A saved: the replacement stops A, which hangs on its page.
	replaced := make(chan error, 1)
	go func() {
		_, err := g.start(a, logger)
		replaced <- err
	}()
	testwait.Until(t, 10*time.Second, "the old runner to leave the registry while the registry lock is free", func() bool {
		if !g.mu.TryLock() {
			return false
		}
		defer g.mu.Unlock()
		return g.active[a.UID] == nil
	})

	// Meanwhile data source B starts, and the registry answers.
	b := registrySettings(t, "fast-b", fast.srv.URL)
	started := make(chan error, 1)
	go func() {
		_, err := g.start(b, logger)
		started <- err
	}()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("data source B's start waited for data source A's old pipeline to stop")
	}
	select {
	case <-replaced:
		t.Fatal("A's replacement finished while A's old page still hangs: the test proves nothing")
	default:
	}

	// Releasing A's page lets the handover finish with A running again.
	close(slow.release)
	select {
	case err := <-replaced:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("A's replacement never finished")
	}
	g.mu.Lock()
	n := len(g.active)
	g.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d active runners, want A and B", n)
	}
}
