package oktasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func benchEvents(n int, start time.Time) []json.RawMessage {
	raws := make([]json.RawMessage, n)
	for i := range raws {
		raws[i] = ev(fmt.Sprintf("bench-%07d", i), start.Add(time.Duration(i)*time.Millisecond), "user.session.start")
	}
	return raws
}

// BenchmarkPollFullPages serves 1000-event polling pages through the
// handler (no network): the simulator's side of a 1000–2000 ev/s load test.
func BenchmarkPollFullPages(b *testing.B) {
	clk := newFakeClock(t0)
	s := New(Options{Token: testToken, Clock: clk.Now, RateLimitPerMinute: 1 << 30, PrincipalShare: 1})
	const total = 50_000
	if err := s.Add(benchEvents(total, t0.Add(-time.Hour))...); err != nil {
		b.Fatal(err)
	}
	first := "/api/v1/logs?limit=1000&sortOrder=ASCENDING&since=" + url.QueryEscape(t0.Add(-2*time.Hour).Format(time.RFC3339))
	next := first
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Authorization", "SSWS "+testToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
		bytes += int64(w.Body.Len())
		next = first
		for _, l := range w.Result().Header.Values("Link") {
			if u, ok := parseNext(l); ok && (i+1)%(total/1000) != 0 {
				next = u
			}
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
	b.SetBytes(bytes / int64(b.N))
}

func parseNext(l string) (string, bool) {
	const suffix = `>; rel="next"`
	if len(l) > len(suffix) && l[len(l)-len(suffix):] == suffix {
		u, err := url.Parse(l[1 : len(l)-len(suffix)])
		if err != nil {
			return "", false
		}
		return u.RequestURI(), true
	}
	return "", false
}

// BenchmarkAdd measures appending events (validation + compaction).
func BenchmarkAdd(b *testing.B) {
	raws := benchEvents(1000, t0)
	s := New(Options{Token: testToken, Clock: newFakeClock(t0).Now})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Add(raws...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFilteredPoll measures a filtered bounded query over 50k events.
func BenchmarkFilteredPoll(b *testing.B) {
	s := New(Options{Token: testToken, Clock: newFakeClock(t0).Now, RateLimitPerMinute: 1 << 30, PrincipalShare: 1})
	if err := s.Add(benchEvents(50_000, t0.Add(-time.Hour))...); err != nil {
		b.Fatal(err)
	}
	u := "/api/v1/logs?limit=1000&filter=" + url.QueryEscape(`eventType eq "user.session.end"`) +
		"&since=" + url.QueryEscape(t0.Add(-2*time.Hour).Format(time.RFC3339)) + "&until=" + url.QueryEscape(t0.Format(time.RFC3339))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "SSWS "+testToken)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.ReportMetric(float64(b.N)*50_000/b.Elapsed().Seconds(), "scanned-events/s")
}
