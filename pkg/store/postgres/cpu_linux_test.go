package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// backendsCPU is pgtest.BackendsCPU (the pipeline's benchmarks read it too).
func backendsCPU(ctx context.Context, conn *pgx.Conn) (time.Duration, bool) {
	return pgtest.BackendsCPU(ctx, conn)
}
