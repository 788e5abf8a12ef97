//go:build !linux

package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

func backendsCPU(context.Context, *pgx.Conn) (time.Duration, bool) { return 0, false }
