package postgres

import "context"

// WaitGeoBuild waits for the geo sets' build of s (package postgres_test's
// benchmarks measure the panels once it is done).
func WaitGeoBuild(ctx context.Context, s *Store) error { return s.waitGeoBuild(ctx) }
