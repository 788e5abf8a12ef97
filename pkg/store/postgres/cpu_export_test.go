package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/cpumeter"
)

// BenchCPU is the CPU meter of the query benchmarks (package postgres_test):
// this process's CPU time, and that of the database's client backends but
// conn's — the benchmark's pool, as long as no other client uses the
// database meanwhile.
func BenchCPU(ctx context.Context, conn *pgx.Conn) func() (time.Duration, time.Duration, bool) {
	return func() (time.Duration, time.Duration, bool) {
		server, ok := backendsCPU(ctx, conn)
		return cpumeter.Process(), server, ok
	}
}
