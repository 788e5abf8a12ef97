package postgres

import (
	"context"
	"fmt"

	"github.com/oktaguard/oktaguard/pkg/store"
)

// CountVolume counts the org's events matching q per bucket and level with
// one GROUP BY over the rows QueryEvents would read (the same conditions,
// free text included), as the SQLite store does (store.Store.CountVolume).
func (s *Store) CountVolume(ctx context.Context, q store.VolumeQuery) ([]store.VolumePoint, error) {
	lo, hi, iv, err := store.VolumeBuckets(q, s.cfg.MaxBuckets)
	if err != nil {
		return nil, err
	}
	w := s.where()
	eventWhere(w, q.EventQuery, lo, hi)
	if q.Text != "" {
		if err := s.textConds(ctx, w, q.Text); err != nil {
			return nil, err
		}
	}
	// #nosec G201 G202 -- iv is an integer; the conditions are code-built with every value a bound $n argument
	rows, err := s.pool.Query(ctx, fmt.Sprintf("SELECT published - mod(published, %d), severity, COUNT(*) FROM events%s GROUP BY 1, 2",
		iv, w.sql()), w.args...)
	if err != nil {
		return nil, fmt.Errorf("store: logs volume: %w", err)
	}
	defer rows.Close()
	return store.ScanVolume(rows, iv)
}
