package plugin

import (
	"reflect"
	"strings"
	"testing"
)

func TestAlertStatusFilter(t *testing.T) {
	cases := []struct {
		model     string
		fromAlert bool
		want      []string
	}{
		{`{"queryType":"alerts"}`, false, []string{"open", "acknowledged"}},
		{`{"queryType":"alerts","status":"all"}`, false, nil},
		{`{"queryType":"alerts","status":"Resolved, dismissed"}`, false, []string{"resolved", "dismissed"}},
		{`{"queryType":"timeseries","source":"alerts"}`, false, nil},
		{`{"queryType":"timeseries","source":"alerts"}`, true, []string{"open"}},
		{`{"queryType":"timeseries","groupBy":"detector"}`, true, []string{"open"}},
		{`{"queryType":"timeseries","source":"alerts","status":"all"}`, true, nil},
		{`{"queryType":"timeseries","source":"alerts","status":"acknowledged"}`, true, []string{"acknowledged"}},
		{`{"queryType":"timeseries"}`, true, nil}, // events
		{`{"queryType":"alert_history"}`, false, nil},
	}
	for _, c := range cases {
		q, err := parseQuery([]byte(c.model), "")
		if err != nil {
			t.Fatalf("%s: %v", c.model, err)
		}
		q.fromAlert = c.fromAlert
		if got := q.alertStatuses(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s (fromAlert %v): %v, want %v", c.model, c.fromAlert, got, c.want)
		}
	}
	for in, want := range map[string]string{
		`{"queryType":"alerts","status":"closed"}`:                      `status "closed" is unknown`,
		`{"queryType":"alerts","status":"pass"}`:                        `status "pass" is unknown`,
		`{"queryType":"posture","status":"open"}`:                       `status "open" is unknown (pass`,
		`{"queryType":"timeseries","source":"alerts","status":"maybe"}`: `status "maybe" is unknown`,
	} {
		if _, err := parseQuery([]byte(in), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
	if _, err := parseQuery([]byte(`{"queryType":"posture","status":"fail"}`), ""); err != nil {
		t.Fatalf("posture status: %v", err)
	}
}
