package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/oktasim"
	"github.com/oktaguard/oktaguard/pkg/oktasim/orgsim"
	"github.com/oktaguard/oktaguard/pkg/posture"
	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// waitPosture waits (with a deadline) until cond holds for the posture
// status while the pipeline runs.
func waitPosture(t *testing.T, p *Pipeline, timeout time.Duration, what string, cond func(PostureStatus) bool) {
	t.Helper()
	if !testwait.For(timeout, func() bool { return cond(p.PostureStatus()) }) {
		t.Fatalf("%s not reached in %s: %+v", what, timeout, p.PostureStatus())
	}
}

// The first evaluation publishes a report at PostureFirstReport even when
// an input is still being read (here a slow behaviors endpoint), in
// parallel with the backfill, then the complete report.
func TestFirstPostureReportBeforeSlowInputs(t *testing.T) {
	org, err := orgsim.New("strong")
	if err != nil {
		t.Fatal(err)
	}
	sim, url := startSim(t, oktasim.Options{Mgmt: org, DefaultLimit: 100000})
	sim.Add(genEvents(21, 300, time.Now().Add(-time.Hour), time.Now())...)
	if err := sim.Inject(oktasim.Fault{Kind: oktasim.FaultSlow, Path: "/api/v1/behaviors", Delay: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	s := testSettings(t, url, t.TempDir())
	s.Posture.Enabled = true
	s.Posture.Profile = "baseline"
	logs := &syncBuffer{}
	p, err := New(s, Options{Logger: slog.New(slog.NewTextHandler(logs, nil)), OktaOptions: fastOkta(), PostureFirstReport: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if st := p.PostureStatus(); st.HasReport || st.Running || !st.Enabled {
		t.Fatalf("before start: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitPosture(t, p, 10*time.Second, "partial first report", func(st PostureStatus) bool { return st.HasReport })
	rep, _ := p.LatestPosture()
	if !rep.Partial {
		t.Fatalf("first report is not partial (the slow input was read already?)")
	}
	c, _ := rep.Check("okta.detection.behavior_rules")
	if c.Status != posture.Error || !strings.Contains(c.Findings[0].Observed.(string), "still being read") {
		t.Fatalf("behavior_rules in the partial report: %s %+v", c.Status, c.Findings)
	}
	// What was read is evaluated; what was not is an error saying so
	// (never a fail). How much was read by then depends on the machine.
	for _, c := range rep.Checks {
		switch c.Status {
		case posture.Fail, posture.Partial:
			t.Fatalf("%s = %s in the partial report of a strong org", c.ID, c.Status)
		case posture.Error:
			// every error finding of the check is an input still being read
			// (a check may also carry findings on resources already read)
			errs := 0
			for _, f := range c.Findings {
				if f.Status != posture.Error {
					continue
				}
				errs++
				if obs, _ := f.Observed.(string); !strings.Contains(obs, "still being read") {
					t.Fatalf("%s: %+v", c.ID, f)
				}
			}
			if errs == 0 {
				t.Fatalf("%s is an error with no error finding: %+v", c.ID, c.Findings)
			}
		}
	}
	if st := p.PostureStatus(); !st.Running || !st.Partial {
		t.Fatalf("status while completing: %+v", st)
	}
	waitPosture(t, p, 20*time.Second, "complete report", func(st PostureStatus) bool { return st.HasReport && !st.Partial && !st.Running })
	rep, _ = p.LatestPosture()
	if c, _ := rep.Check("okta.detection.behavior_rules"); c.Status != posture.Pass {
		t.Fatalf("behavior_rules in the complete report: %s", c.Status)
	}
	if bad := failing(rep); len(bad) > 0 {
		t.Fatalf("strong org, complete report fails %v", bad)
	}
	// Both were stored: the latest stored one is the complete report.
	rec, ok, err := p.Store().LatestPostureReport(context.Background(), "baseline")
	if err != nil || !ok || strings.Contains(string(rec.JSON), `"partial":true`) {
		t.Fatalf("latest stored report: ok=%v err=%v partial=%v", ok, err, strings.Contains(string(rec.JSON), `"partial":true`))
	}
}

func failing(r posture.Report) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == posture.Fail || c.Status == posture.Error || c.Status == posture.Partial {
			out = append(out, c.ID)
		}
	}
	return out
}

// A failed evaluation is reported by PostureStatus (the posture frame's
// notice says why), and ingestion goes on.
func TestPostureFailureReported(t *testing.T) {
	org, err := orgsim.New("strong")
	if err != nil {
		t.Fatal(err)
	}
	org.FailPath("/api/v1/policies", 401)
	_, url := startSim(t, oktasim.Options{Mgmt: org, DefaultLimit: 100000})
	s := testSettings(t, url, t.TempDir())
	s.Posture.Enabled = true
	p := newTestPipeline(t, s, &syncBuffer{})
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitPosture(t, p, 10*time.Second, "failure", func(st PostureStatus) bool { return st.LastError != "" })
	st := p.PostureStatus()
	if st.HasReport || st.LastErrorAt.IsZero() || !strings.Contains(st.LastError, "API token invalid or revoked") {
		t.Fatalf("status %+v", st)
	}
}

// TestFollowerRefusesPostureRefresh: two instances on one store; the one
// that follows refuses a direct posture refresh (the plugin's
// posture/refresh resource) instead of calling Okta and writing a report
// that only the leader may write.
func TestFollowerRefusesPostureRefresh(t *testing.T) {
	org, err := orgsim.New("strong")
	if err != nil {
		t.Fatal(err)
	}
	sim, url := startSim(t, oktasim.Options{Mgmt: org, DefaultLimit: 100000})
	sim.Add(genEvents(22, 50, time.Now().Add(-time.Hour), time.Now())...)
	s := testSettings(t, url, t.TempDir())
	s.Posture.Enabled = true
	s.Posture.Profile = "baseline"
	open := func(id string) *Pipeline {
		p, err := New(s, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OktaOptions: fastOkta(), InstanceID: id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	leader, follower := open("leader"), open("follower")
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	for _, p := range []*Pipeline{leader, follower} {
		ch := make(chan error, 1)
		done = append(done, ch)
		go func() { ch <- p.Run(ctx) }()
		// the first one leads before the second starts (the roles are
		// checked below, so a timeout here shows there)
		testwait.For(10*time.Second, func() bool { return p.Status().Role != "" })
	}
	defer func() {
		cancel()
		for _, ch := range done {
			<-ch
		}
	}()
	if l, f := leader.Status(), follower.Status(); l.Role != RoleLeader || f.Role != RoleFollower || f.Leader != "leader" {
		t.Fatalf("roles: leader %q, follower %q (leader %q)", l.Role, f.Role, f.Leader)
	}
	_, err = follower.RefreshPosture(ctx)
	if !errors.Is(err, ErrFollower) || !strings.Contains(err.Error(), "leader leads") {
		t.Fatalf("follower's RefreshPosture: %v, want ErrFollower naming the leader", err)
	}
	if _, ok := follower.LatestPosture(); ok {
		t.Fatal("the follower evaluated posture")
	}
	waitPosture(t, leader, 20*time.Second, "the leader's report", func(st PostureStatus) bool { return st.HasReport && !st.Running })
}
