package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/okta"
)

// BenchmarkHandlePage measures one page through decode → dedup → enrich →
// detect → commit (SQLite on disk), without HTTP. Reports events/s.
func BenchmarkHandlePage(b *testing.B) {
	dir := b.TempDir()
	s := testSettings(b, "http://127.0.0.1:1", dir)
	p, err := New(s, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	const per = 1000
	now := time.Now()
	pages := make([]okta.Page, b.N)
	for i := range pages {
		evs := genEvents(uint64(1000+i), per, now.Add(-time.Duration(b.N-i)*time.Hour), now.Add(-time.Duration(b.N-i-1)*time.Hour))
		pages[i] = okta.Page{Events: evs, Next: fmt.Sprintf("http://127.0.0.1:1/api/v1/logs?after=%d", i), Limit: per, Full: true}
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.handlePage(ctx, pages[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}
