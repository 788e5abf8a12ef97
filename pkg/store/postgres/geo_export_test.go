package postgres

import (
	"context"
	"time"
)

// WaitGeoBuild runs the geo sets' build of s to its end, as the org's
// leader would (package postgres_test's benchmarks measure the panels once
// it is done), and returns the first failed step's error. It takes the
// org's lease for the build and gives it up afterwards.
func WaitGeoBuild(ctx context.Context, s *Store) error {
	if s.geoBuild == nil {
		return nil
	}
	const holder = "geo-build"
	if _, err := s.Lead(ctx, holder, 10*time.Minute); err != nil {
		return err
	}
	defer s.Resign(context.WithoutCancel(ctx), holder) //nolint:errcheck // a stale lease expires
	return s.geoBuild.wait(ctx, true)
}
