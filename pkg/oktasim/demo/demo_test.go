package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

func TestStartServesHistoryWindowAndLiveTraffic(t *testing.T) {
	now := time.Now().UTC()
	org, err := Start(Options{Users: 40, History: 3 * 24 * time.Hour, Now: now, Tick: 50 * time.Millisecond, Token: "demo-test-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer org.Close()
	if org.Sim.EventCount() == 0 {
		t.Fatal("no history loaded")
	}
	window := now.Add(-3 * 24 * time.Hour)
	for _, l := range org.History.Labels {
		if l.Start.Before(window) || l.End.After(now) {
			t.Fatalf("label %s outside the served window: %v..%v", l.Scenario, l.Start, l.End)
		}
	}
	if len(org.History.Labels) == 0 {
		t.Fatal("a demo history with attacks must carry labelled attacks in the window")
	}
	for _, k := range []string{"anonymous", "suspicious", "risky", "trusted"} {
		if len(org.Lists[k]) == 0 {
			t.Errorf("ip list %s is empty", k)
		}
	}
	// A bounded query returns only events inside the window.
	req, _ := http.NewRequest("GET", org.URL+"/api/v1/logs?limit=1000&since="+window.Add(-time.Hour).Format(time.RFC3339)+"&until="+window.Format(time.RFC3339), nil)
	req.Header.Set("Authorization", "SSWS "+org.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(page) != 0 {
		t.Fatalf("status %d, %d events before the window", resp.StatusCode, len(page))
	}
	// Without the token: 401.
	resp, err = http.Get(org.URL + "/api/v1/logs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated request: status %d", resp.StatusCode)
	}
	// Management API of the posture profile is mounted.
	req, _ = http.NewRequest("GET", org.URL+"/api/v1/policies?type=PASSWORD", nil)
	req.Header.Set("Authorization", "SSWS "+org.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("policies: status %d", resp.StatusCode)
	}
	before := org.Sim.EventCount()
	org.Close()
	org.Close() // idempotent
	if org.Sim.EventCount() < before {
		t.Fatal("event count went down")
	}
}

// FirstLiveAttack starts the quick attacks that long after Now; their
// events reach the simulator as the clock passes them.
func TestFirstLiveAttackStartsQuickAttacks(t *testing.T) {
	now := time.Now().UTC()
	org, err := Start(Options{Users: 40, History: 24 * time.Hour, Now: now, Tick: 50 * time.Millisecond, Token: "demo-test-token", FirstLiveAttack: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer org.Close()
	labels := org.LiveLabels()
	started := map[string]bool{}
	var fastpass string
	for _, l := range labels {
		if l.Start.Before(now.Add(100 * time.Millisecond).Truncate(time.Millisecond)) { // events carry milliseconds
			t.Errorf("live label %s starts at %v, before Now+FirstLiveAttack", l.Scenario, l.Start)
		}
		started[l.Detector] = true
		if l.Detector == "fastpass_phishing" {
			fastpass = l.EventIDs[0]
		}
	}
	for _, k := range QuickAttacks {
		if !started[k] {
			t.Errorf("quick attack %s not started (labels %+v)", k, labels)
		}
	}
	// The FastPass event (at Now+300ms) is served within seconds.
	var getErr error
	testwait.Until(t, 30*time.Second, "the injected FastPass event "+fastpass+" to be served", func() bool {
		req, _ := http.NewRequest("GET", org.URL+"/api/v1/logs?limit=1000&since="+now.Format(time.RFC3339Nano), nil)
		req.Header.Set("Authorization", "SSWS "+org.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			getErr = err
			return true
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), fastpass)
	})
	if getErr != nil {
		t.Fatal(getErr)
	}
	if err := (&Org{}).InjectAttacks(now); err == nil {
		t.Fatal("InjectAttacks without live traffic accepted")
	}
}
