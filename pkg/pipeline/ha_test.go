package pipeline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/store/postgres"
	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// sprayEvents: every 3 hours a new source IP fails sign-in against 12
// users within a few minutes — one password_spray alert per burst.
func sprayEvents(bursts int, from time.Time) []json.RawMessage {
	var out []json.RawMessage
	for b := 0; b < bursts; b++ {
		at := from.Add(time.Duration(b) * 3 * time.Hour)
		for u := 0; u < 12; u++ {
			ev := map[string]any{
				"uuid":           fmt.Sprintf("5b2f0000-%04x-4000-8000-%012x", b, u),
				"published":      at.Add(time.Duration(u) * 10 * time.Second).UTC().Format("2006-01-02T15:04:05.000Z"),
				"eventType":      "user.session.start",
				"version":        "0",
				"severity":       "WARN",
				"displayMessage": "User login to Okta",
				"actor":          map[string]any{"id": fmt.Sprintf("00uspray%d", u), "type": "User", "alternateId": fmt.Sprintf("victim%d@example.com", u), "displayName": "Victim"},
				"client": map[string]any{"ipAddress": fmt.Sprintf("203.0.113.%d", 100+b), "userAgent": map[string]any{"rawUserAgent": "python-requests/2.31"},
					"geographicalContext": map[string]any{"city": "Lagos", "country": "Nigeria", "geolocation": map[string]any{"lat": 6.52, "lon": 3.37}}},
				"outcome":      map[string]any{"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
				"transaction":  map[string]any{"type": "WEB", "id": fmt.Sprintf("spray%d-%d", b, u)},
				"debugContext": map[string]any{"debugData": map[string]any{}},
			}
			raw, _ := json.Marshal(ev)
			out = append(out, raw)
		}
	}
	return out
}

func byPublished(evs []json.RawMessage) []json.RawMessage {
	pub := func(r json.RawMessage) string {
		var v struct{ Published string }
		json.Unmarshal(r, &v)
		return v.Published
	}
	sort.SliceStable(evs, func(i, j int) bool { return pub(evs[i]) < pub(evs[j]) })
	return evs
}

// TestHAHelperProcess is one instance of TestHAFailoverAfterKill9: it runs a
// pipeline on the shared PostgreSQL store and prints its role whenever it
// changes; with OKTAGUARD_HA_KILL_AT=N it SIGKILLs itself before committing
// page N once the file OKTAGUARD_HA_KILL_FILE exists.
func TestHAHelperProcess(t *testing.T) {
	if os.Getenv("OKTAGUARD_HA_HELPER") != "1" {
		t.Skip("helper process only")
	}
	var killAt int
	fmt.Sscan(os.Getenv("OKTAGUARD_HA_KILL_AT"), &killAt)
	killFile := os.Getenv("OKTAGUARD_HA_KILL_FILE")
	s := testSettings(t, os.Getenv("OKTAGUARD_SIM_URL"), t.TempDir())
	s.Storage.Driver, s.Storage.DSN = "postgres", os.Getenv("OKTAGUARD_HA_DSN")
	var batchEvents int
	fmt.Sscan(os.Getenv("OKTAGUARD_BATCH_EVENTS"), &batchEvents)
	p, err := New(s, Options{OktaOptions: fastOkta(), InstanceID: os.Getenv("OKTAGUARD_HA_ID"), BatchEvents: batchEvents, BeforeCommit: func(n int) {
		if killAt > 0 && n >= killAt {
			// hold the page until the test asks for the kill
			testwait.For(time.Hour, func() bool { _, err := os.Stat(killFile); return err == nil })
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never reached: kill(2) of oneself with SIGKILL does not return; never go on into the commit
		}
	}})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		// print every change of role until the run ends
		last := ""
		testwait.For(time.Hour, func() bool {
			st := p.Status()
			if r := st.Role + " " + st.Leader; st.Role != "" && r != last {
				fmt.Println("ROLE", r)
				last = r
			}
			return ctx.Err() != nil
		})
	}()
	p.Run(ctx)
	os.Exit(0)
}

// TestHAFailoverAfterKill9: two pipelines (separate processes) on one org
// and one PostgreSQL database. Exactly one leads; the leader is killed
// with SIGKILL between fetching a page and committing it; the follower
// takes over within 30 s (default lease) and the store ends with exactly
// the org's uuid set (0 lost, 0 duplicated) and every alert once.
func TestHAFailoverAfterKill9(t *testing.T) {
	dsn := pgtest.Schema(t)
	sim, url := startSim(t, oktasim.Options{})
	start := time.Now().Add(-72 * time.Hour)
	evs := append(genEvents(31, 1500, start, time.Now()), sprayEvents(20, start.Add(time.Hour))...)
	sim.Add(byPublished(evs)...)
	dir := t.TempDir()
	killFile := filepath.Join(dir, "kill")
	type proc struct {
		cmd   *exec.Cmd
		lines chan string
	}
	spawn := func(id string, killAt int) proc {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHAHelperProcess$")
		cmd.Env = append(os.Environ(), "OKTAGUARD_HA_HELPER=1", "OKTAGUARD_SIM_URL="+url, "OKTAGUARD_HA_DSN="+dsn,
			"OKTAGUARD_HA_ID="+id, fmt.Sprintf("OKTAGUARD_HA_KILL_AT=%d", killAt), "OKTAGUARD_HA_KILL_FILE="+killFile,
			"OKTAGUARD_BATCH_EVENTS=300", // commits of three pages: the leader dies with pages held
			// the helpers end by os.Exit or SIGKILL, so their t.TempDir is
			// never removed by the helper itself: it goes under dir
			"TMPDIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		lines := make(chan string, 100)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		return proc{cmd, lines}
	}
	waitLine := func(p proc, want string, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-p.lines:
				if !ok {
					t.Fatalf("instance exited before printing %q", want)
				}
				if strings.HasPrefix(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within %s", want, timeout)
			}
		}
	}
	a := spawn("instance-a", 5) // dies before committing its 5th page
	waitLine(a, "ROLE leader instance-a", 30*time.Second)
	b := spawn("instance-b", 0)
	waitLine(b, "ROLE follower instance-a", 30*time.Second)

	ro, err := postgres.Open(context.Background(), postgres.Config{DSN: dsn, Org: url})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	os.WriteFile(killFile, nil, 0o600)
	err = a.cmd.Wait()
	died := time.Now()
	if ws, ok := a.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("leader did not die of SIGKILL: %v", err)
	}
	before, _ := ro.Stats(context.Background())
	if before.Events == 0 || before.Events >= int64(len(evs)) {
		t.Fatalf("the leader committed %d of %d events before dying; the test needs a kill mid-ingestion", before.Events, len(evs))
	}
	waitLine(b, "ROLE leader instance-b", 30*time.Second)
	// the takeover is complete when the new leader commits its first page
	var now int64
	var statsErr error
	if !testwait.For(30*time.Second-time.Since(died), func() bool {
		st, err := ro.Stats(context.Background())
		now, statsErr = st.Events, err
		return err != nil || st.Events > before.Events
	}) {
		t.Fatalf("no page committed within 30 s of the leader's death (still %d events)", now)
	}
	if statsErr != nil {
		t.Fatal(statsErr)
	}
	took := time.Since(died)
	t.Logf("leader killed with %d of %d events committed; follower committed its first page %.1f s later", before.Events, len(evs), took.Seconds())
	if !testwait.For(60*time.Second, func() bool {
		st, _ := ro.Stats(context.Background())
		now = st.Events
		return st.Events == int64(len(evs))
	}) {
		t.Fatalf("store holds %d of %d events", now, len(evs))
	}
	// uuid set: every simulator uuid exactly once
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var total, distinct int64
	if err := conn.QueryRow(context.Background(), "SELECT COUNT(*), COUNT(DISTINCT uuid) FROM events WHERE org = $1", ro.OrgID()).Scan(&total, &distinct); err != nil {
		t.Fatal(err)
	}
	rows, _ := conn.Query(context.Background(), "SELECT uuid FROM events WHERE org = $1", ro.OrgID())
	stored, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, u := range sim.UUIDs() {
		want[u] = true
	}
	lost := len(want)
	for _, u := range stored {
		if want[u] {
			lost--
			delete(want, u)
		}
	}
	if total != int64(len(evs)) || distinct != total || lost != 0 {
		t.Fatalf("stored %d events (%d distinct), %d of the org's lost", total, distinct, lost)
	}
	// alerts: one per spray burst, none twice
	var alerts, alertIDs, sprays int64
	if err := conn.QueryRow(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT id), COUNT(*) FILTER (WHERE detector = 'password_spray')
		FROM alerts WHERE org = $1`, ro.OrgID()).Scan(&alerts, &alertIDs, &sprays); err != nil {
		t.Fatal(err)
	}
	var dupIncidents int64
	if err := conn.QueryRow(context.Background(), `SELECT COUNT(*) FROM (SELECT detector, ip, time FROM alerts WHERE org = $1
		GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d`, ro.OrgID()).Scan(&dupIncidents); err != nil {
		t.Fatal(err)
	}
	if sprays != 20 || alerts != alertIDs || dupIncidents != 0 {
		t.Fatalf("alerts: %d stored, %d distinct ids, %d password sprays (want 20), %d incidents stored twice", alerts, alertIDs, sprays, dupIncidents)
	}
	if took > 30*time.Second {
		t.Fatalf("takeover took %s", took)
	}
	// the helpers' temporary directories are under dir, removed with it
	// (they were left in the system's temporary directory, one per run)
	if made, _ := filepath.Glob(filepath.Join(dir, "TestHAHelperProcess*")); len(made) != 2 {
		t.Fatalf("helper temporary directories under %s: %q, want one per instance", dir, made)
	}
}
