package store

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/oktaguard/oktaguard/pkg/event"
)

// TestCommitGrowth (opt-in: OKTAGUARD_STORE_GROWTH=<events>) logs the
// commit rate as the store grows, for sizing page and cache settings.
// OKTAGUARD_STORE_GROWTH_PAGE and _CACHE set the page size and writer cache (MB).
func TestCommitGrowth(t *testing.T) {
	total, _ := strconv.Atoi(os.Getenv("OKTAGUARD_STORE_GROWTH"))
	if total == 0 {
		t.Skip("set OKTAGUARD_STORE_GROWTH=300000 to run")
	}
	page, _ := strconv.Atoi(os.Getenv("OKTAGUARD_STORE_GROWTH_PAGE"))
	cache, _ := strconv.Atoi(os.Getenv("OKTAGUARD_STORE_GROWTH_CACHE"))
	ctx := context.Background()
	s, err := OpenWithOptions(ctx, filepath.Join(t.TempDir(), "g.db"), Options{pageSize: page, WriterCacheMB: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	step := 30 * 24 * time.Hour / time.Duration(total)
	begin := benchEnd.Add(-30 * 24 * time.Hour)
	var busy time.Duration
	cpu0 := processCPU()
	for n := 0; n < total; n += 1000 {
		evs := make([]event.Event, 1000)
		for j := range evs {
			evs[j] = benchEvent(rng, n+j, begin.Add(time.Duration(n+j)*step))
		}
		st := time.Now()
		if _, err := s.Commit(ctx, Batch{Events: evs}); err != nil {
			t.Fatal(err)
		}
		busy += time.Since(st)
		if (n+1000)%50000 == 0 {
			t.Logf("%7d events: last 50k at %.0f events/s (commit time only), process cpu %s", n+1000, 50000/busy.Seconds(), processCPU()-cpu0)
			busy = 0
			cpu0 = processCPU()
		}
	}
}
