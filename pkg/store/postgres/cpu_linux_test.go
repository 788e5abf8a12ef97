package postgres

import (
	"context"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendsCPU is pgtest.BackendsCPU (the pipeline's benchmarks read it too).
func backendsCPU(ctx context.Context, conn *pgx.Conn) (time.Duration, bool) {
	return pgtest.BackendsCPU(ctx, conn)
}
