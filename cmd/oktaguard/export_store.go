package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// exportPage is the page size of the export scan (below the store's
// default query limit).
const exportPage = 20000

// exportEvents writes every stored event's raw JSON, oldest first, one per
// line. It scans published-time windows and halves a window whenever it
// holds a full page, so nothing is skipped or repeated.
func exportEvents(ctx context.Context, cfgPath string, w io.Writer) error {
	s, err := loadOffline(cfgPath)
	if err != nil {
		return err
	}
	// Read-only: an intact store on read-only media or owned by another
	// user can be exported, and no credentials are needed.
	st, err := store.OpenReadOnly(ctx, s.Storage.Path)
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	if stats.Events == 0 {
		return nil
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	n, err := exportWindow(ctx, st, stats.MinPublished.Truncate(time.Millisecond), stats.MaxPublished.Truncate(time.Millisecond), bw)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	if n != stats.Events {
		return fmt.Errorf("export wrote %d events but the store holds %d (was it written to meanwhile?)", n, stats.Events)
	}
	return nil
}

// exportWindow exports events with published in [from, to] (inclusive,
// millisecond resolution).
func exportWindow(ctx context.Context, st store.Backend, from, to time.Time, w *bufio.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rows, err := st.QueryEvents(ctx, store.EventQuery{From: from, To: to, Limit: exportPage})
	if err != nil {
		return 0, err
	}
	if len(rows) >= exportPage && to.Sub(from) >= 2*time.Millisecond {
		mid := from.Add(to.Sub(from) / 2).Truncate(time.Millisecond)
		a, err := exportWindow(ctx, st, from, mid, w)
		if err != nil {
			return a, err
		}
		b, err := exportWindow(ctx, st, mid.Add(time.Millisecond), to, w)
		return a + b, err
	}
	if len(rows) >= exportPage {
		return 0, fmt.Errorf("more than %d events share the millisecond %s", exportPage, from.Format(time.RFC3339Nano))
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Published.Before(rows[j].Published) })
	for _, r := range rows {
		w.Write(r.Raw)
		w.WriteByte('\n')
	}
	return int64(len(rows)), nil
}
