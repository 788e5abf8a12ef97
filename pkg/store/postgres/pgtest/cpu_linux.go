package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// BackendsCPU sums the CPU time (utime + stime) of the database's client
// backends other than conn's own, read from /proc: ok is false unless the
// server runs on this machine. Run it alone on its database: every other
// client backend of the database is counted too.
func BackendsCPU(ctx context.Context, conn *pgx.Conn) (time.Duration, bool) {
	m, ok := BackendsCPUByPID(ctx, conn)
	var sum time.Duration
	for _, d := range m {
		sum += d
	}
	return sum, ok
}

// BackendsCPUByPID is BackendsCPU per backend; one that ended between the
// list and its /proc read is left out.
func BackendsCPUByPID(ctx context.Context, conn *pgx.Conn) (map[int32]time.Duration, bool) {
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
		AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	if err != nil {
		return nil, false
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, false
	}
	out := make(map[int32]time.Duration, len(pids))
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if errors.Is(err, fs.ErrNotExist) {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, false
		}
		line := string(b)
		f := strings.Fields(line[strings.LastIndexByte(line, ')')+1:]) // f[0] is field 3 (state)
		if len(f) < 13 {
			return nil, false
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out[pid] = time.Duration(u+s) * 10 * time.Millisecond // clock ticks of USER_HZ = 100
	}
	return out, true
}
