package pipeline

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/oktaguard/oktaguard/pkg/config"
	"github.com/oktaguard/oktaguard/pkg/okta"
	"github.com/oktaguard/oktaguard/pkg/oktasim"
)

const testToken = "00SIM-test-token-Zq93kfL2mPx8"

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startSim(t *testing.T, opts oktasim.Options) (*oktasim.Server, string) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.RateLimitPerMinute == 0 {
		opts.RateLimitPerMinute = 100000
	}
	sim := oktasim.New(opts)
	// Served through Handler on our own listener (oktasim's Start/Close
	// pair races on its server field under -race).
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

var cities = []struct {
	city, country string
	lat, lon      float64
	ip            string
}{
	{"Berlin", "Germany", 52.52, 13.40, "198.51.100.%d"},
	{"Paris", "France", 48.85, 2.35, "203.0.113.%d"},
	{"Chicago", "United States", 41.88, -87.63, "192.0.2.%d"},
}

// genEvents makes n System Log events with published spread evenly over
// [from, to), in an Okta-shaped JSON layout.
func genEvents(seed uint64, n int, from, to time.Time) []json.RawMessage {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]json.RawMessage, 0, n)
	span := to.Sub(from)
	types := []string{"user.session.start", "user.authentication.sso", "policy.evaluate_sign_on", "user.session.end"}
	for i := 0; i < n; i++ {
		pub := from.Add(time.Duration(float64(span) * float64(i) / float64(n)))
		u := r.IntN(40)
		c := cities[u%len(cities)]
		ev := map[string]any{
			"uuid":           fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", seed, i>>16, i&0xfff, u, r.Uint64()&0xffffffffffff),
			"published":      pub.UTC().Format("2006-01-02T15:04:05.000Z"),
			"eventType":      types[r.IntN(len(types))],
			"version":        "0",
			"severity":       "INFO",
			"displayMessage": "User login to Okta",
			"actor":          map[string]any{"id": fmt.Sprintf("00u%d", u), "type": "User", "alternateId": fmt.Sprintf("user%d@example.com", u), "displayName": fmt.Sprintf("User %d", u)},
			"client": map[string]any{
				"userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
				"zone":      "null", "device": "Computer",
				"ipAddress": fmt.Sprintf(c.ip, 1+u),
				"geographicalContext": map[string]any{"city": c.city, "country": c.country,
					"geolocation": map[string]any{"lat": c.lat, "lon": c.lon}},
			},
			"outcome":               map[string]any{"result": "SUCCESS"},
			"target":                nil,
			"transaction":           map[string]any{"type": "WEB", "id": fmt.Sprintf("tx%d", i)},
			"authenticationContext": map[string]any{"externalSessionId": fmt.Sprintf("idx%d", u)},
			"debugContext":          map[string]any{"debugData": map[string]any{"threatSuspected": "false"}},
		}
		b, _ := json.Marshal(ev)
		out = append(out, b)
	}
	return out
}

func testSettings(t testing.TB, url, dir string) config.Settings {
	s := config.Defaults()
	s.Okta.OrgURL = url
	s.Okta.APIToken = testToken
	s.Okta.PageLimit = 100
	s.Okta.PollInterval = 50 * time.Millisecond
	s.Okta.RequestTimeout = 2 * time.Second
	s.Okta.MaxAttempts = 6
	s.Storage.Path = filepath.Join(dir, "oktaguard.db")
	s.BaseDir = dir
	s.Posture.Enabled = false
	return s
}

func fastOkta() []okta.Option {
	return []okta.Option{okta.WithRetryBackoff(10*time.Millisecond, 200*time.Millisecond)}
}

func newTestPipeline(t *testing.T, s config.Settings, logs *syncBuffer) *Pipeline {
	t.Helper()
	p, err := New(s, Options{
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OktaOptions: fastOkta(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runUntil runs p until cond holds, then stops it and returns Run's
// error. It fails the test when the pipeline makes no progress (events
// stored, duplicates dropped, events rejected, backfill progress) for
// timeout: a stall, not slowness, is the failure. On a 2-core machine
// shared with other jobs, under -race, a page can take seconds, and a
// fixed total deadline failed tests whose pipeline was merely slow
// (TestKillBeforeCommitThenRestart stopped with all 500 events stored and
// the final short page not yet polled). A hard cap of 10 x timeout bounds
// a pipeline that keeps changing without ever satisfying cond.
func runUntil(t *testing.T, p *Pipeline, timeout time.Duration, cond func(Status) bool) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	progress := func(st Status) [4]float64 {
		return [4]float64{float64(st.EventsIngested), float64(st.Duplicates), float64(st.Rejected), st.BackfillProgress}
	}
	start := time.Now()
	last, lastAt := progress(p.Status()), start
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			cancel()
			return err
		case now := <-tick.C:
			st := p.Status()
			if cond(st) {
				cancel()
				return <-done
			}
			if pr := progress(st); pr != last {
				last, lastAt = pr, now
			}
			if now.Sub(lastAt) > timeout || now.Sub(start) > 10*timeout {
				cancel()
				err := <-done
				t.Fatalf("condition not reached: no progress for %s (%s in all); status %+v (run err %v)",
					now.Sub(lastAt).Round(time.Millisecond), now.Sub(start).Round(time.Millisecond), p.Status(), err)
			}
		}
	}
}

// storedUUIDs reads the uuids of the events table directly from the
// SQLite file.
func storedUUIDs(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT uuid FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// assertExactlyOnce checks that the store holds exactly the simulator's
// events: same count, same uuid set, no duplicates.
func assertExactlyOnce(t *testing.T, sim *oktasim.Server, dbPath string) {
	t.Helper()
	want := sim.UUIDs()
	got := storedUUIDs(t, dbPath)
	slices.Sort(want)
	slices.Sort(got)
	if len(got) != len(want) {
		t.Fatalf("stored %d events, simulator has %d", len(got), len(want))
	}
	if !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("uuid sets differ at %d: stored %s, simulator %s", i, got[i], want[i])
			}
		}
	}
}

func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	if strings.Contains(s, testToken) {
		t.Fatalf("%s contains the API token", where)
	}
	if strings.Contains(strings.ToLower(s), "authorization") && strings.Contains(s, "SSWS ") {
		t.Fatalf("%s contains an Authorization header", where)
	}
}

func allStored(sim *oktasim.Server) func(Status) bool {
	return func(st Status) bool { return st.BackfillDone && st.EventsIngested >= int64(sim.EventCount()) }
}
