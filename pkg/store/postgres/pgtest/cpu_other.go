//go:build !linux

package pgtest

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// BackendsCPU needs /proc (Linux): ok is always false here.
func BackendsCPU(context.Context, *pgx.Conn) (time.Duration, bool) { return 0, false }

// BackendsCPUByPID needs /proc (Linux): ok is always false here.
func BackendsCPUByPID(context.Context, *pgx.Conn) (map[int32]time.Duration, bool) { return nil, false }
