package plugin

import (
	"strings"
	"testing"
	"time"
)

func TestParseQueryTypeFromRequestWins(t *testing.T) {
	q, err := parseQuery([]byte(`{"queryType":"activity"}`), "timeseries")
	if err != nil || q.QueryType != "timeseries" {
		t.Fatalf("got %q %v", q.QueryType, err)
	}
	q, err = parseQuery([]byte(`{"queryType":"users"}`), "")
	if err != nil || q.QueryType != "users" || q.limit != DefaultLimit {
		t.Fatalf("got %+v %v", q, err)
	}
}

func TestParseQueryErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{`:                                     "not valid JSON",
		`{}`:                                    "queryType is missing",
		`{"queryType":"sql"}`:                   `unknown queryType "sql"`,
		`{"queryType":"activity","limit":0}`:    "limit 0 is out of range",
		`{"queryType":"activity","limit":1e12}`: "is not an integer",
		`{"queryType":"activity","limit":99999999}`:                           "out of range",
		`{"queryType":"activity","limit":-5}`:                                 "out of range",
		`{"queryType":"activity","outcome":"meh"}`:                            `outcome "MEH"`,
		`{"queryType":"alerts","severity":"high,urgent"}`:                     `severity "urgent"`,
		`{"queryType":"timeseries","groupBy":"ip"}`:                           `groupBy "ip"`,
		`{"queryType":"timeseries","groupBy":"detector","source":"events"}`:   "needs source alerts",
		`{"queryType":"timeseries","interval":"soon"}`:                        "not a duration",
		`{"queryType":"activity","format":"csv"}`:                             `format "csv"`,
		`{"queryType":"posture","status":"green"}`:                            `status "green"`,
		`{"queryType":"posture","profile":"nist"}`:                            `profile "nist"`,
		`{"queryType":"activity","actor":"` + strings.Repeat("a", 600) + `"}`: "longer than 512",
	} {
		if _, err := parseQuery([]byte(in), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.60s: error %v, want %q", in, err, want)
		}
	}
}

func TestParseQuerySourceInference(t *testing.T) {
	for in, want := range map[string]string{
		`{"queryType":"timeseries"}`:                      "events",
		`{"queryType":"timeseries","groupBy":"outcome"}`:  "events",
		`{"queryType":"timeseries","groupBy":"detector"}`: "alerts",
		`{"queryType":"timeseries","severity":"high"}`:    "alerts",
		`{"queryType":"timeseries","source":"alerts"}`:    "alerts",
	} {
		q, err := parseQuery([]byte(in), "")
		if err != nil || q.Source != want {
			t.Errorf("%s: source %q err %v, want %q", in, q.Source, err, want)
		}
	}
}

func TestBucket(t *testing.T) {
	from := time.Unix(0, 0)
	to := from.Add(7 * 24 * time.Hour)
	if d := bucket(queryModel{}, time.Minute, from, to, 1000); d < 10*time.Minute || d > 11*time.Minute {
		t.Fatalf("7 days at 1000 points should bucket ~10m, got %v", d)
	}
	if d := bucket(queryModel{interval: time.Hour}, time.Minute, from, to, 1000); d != time.Hour {
		t.Fatalf("explicit interval ignored: %v", d)
	}
	if d := bucket(queryModel{}, 0, from, from.Add(time.Hour), 1000); d != time.Minute {
		t.Fatalf("zero interval must default to 1m, got %v", d)
	}
}
