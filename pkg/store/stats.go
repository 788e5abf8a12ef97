package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Stats summarises the store.
type Stats struct {
	Events       int64
	MinPublished time.Time
	MaxPublished time.Time
	Alerts       int64
}

// Stats counts events and alerts and gives the stored time span.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	var minP, maxP sql.NullInt64
	// the event count comes from the event_types dictionary (exact, kept by
	// Commit and Prune) instead of a full index scan.
	if err := s.r.QueryRowContext(ctx, `SELECT (SELECT COALESCE(SUM(events), 0) FROM event_types),
		(SELECT MIN(published) FROM events), (SELECT MAX(published) FROM events)`).
		Scan(&st.Events, &minP, &maxP); err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM alerts").Scan(&st.Alerts); err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	st.MinPublished, st.MaxPublished = fromMS(minP.Int64), fromMS(maxP.Int64)
	return st, nil
}
