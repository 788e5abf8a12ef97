package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// Pair is a primary and a hot standby streaming from it (asynchronous
// replication, PostgreSQL's default), two throwaway clusters of this
// machine's PostgreSQL server binaries: a database failover, for real.
type Pair struct {
	t       testing.TB
	bin     string
	dir     string
	Primary Server
	Standby Server
}

// Server is one cluster of a Pair.
type Server struct {
	Data string
	Port int
}

// DSN is a single-host DSN of the server's postgres database.
func (s Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Replicated starts a Pair. It needs what DSN needs (a test server is
// configured, else it skips, or fails in CI) and the server binaries
// (initdb, pg_ctl, pg_basebackup: Debian's postgresql package) on this
// machine, whose absence fails the test. As root the clusters run as the
// "postgres" user, as .ci/postgres.sh runs its own. Both are stopped and
// removed at cleanup.
func Replicated(t testing.TB) *Pair {
	t.Helper()
	DSN(t)
	bin := serverBin(t)
	dir, err := os.MkdirTemp("", "oktaguard-pg-pair-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Pair{t: t, bin: bin, dir: dir,
		Primary: Server{Data: filepath.Join(dir, "primary"), Port: freePort(t)},
		Standby: Server{Data: filepath.Join(dir, "standby"), Port: freePort(t)}}
	t.Cleanup(func() {
		for _, s := range []Server{p.Standby, p.Primary} {
			p.run("pg_ctl", "-D", s.Data, "stop", "-m", "immediate") //nolint:errcheck // may be stopped already
		}
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil { // #nosec G302 -- the clusters' user must reach its directories
		t.Fatal(err)
	}
	if u, err := runAs(); err == nil && u != nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.must("initdb", "-D", p.Primary.Data, "-A", "trust", "-U", "postgres")
	p.Start(p.Primary)
	p.must("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Primary.Port), "-U", "postgres",
		"-D", p.Standby.Data, "-R", "-X", "stream", "-c", "fast")
	p.Start(p.Standby)
	return p
}

// FailoverDSN lists both servers and asks for the writable one, as the
// operations guide tells a deployment on a replicated server to do.
func (p *Pair) FailoverDSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		p.Primary.Port, p.Standby.Port)
}

// Start starts a stopped server of the pair.
func (p *Pair) Start(s Server) {
	p.t.Helper()
	p.must("pg_ctl", "-D", s.Data, "-w", "-t", "60", "-l", s.Data+".log", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=100", s.Port, p.dir), "start")
}

// Stop stops a server: mode "fast" (a clean shutdown) or "immediate" (a
// crash: no shutdown checkpoint, what was not replicated stays behind).
func (p *Pair) Stop(s Server, mode string) {
	p.t.Helper()
	p.must("pg_ctl", "-D", s.Data, "-w", "stop", "-m", mode)
}

// Promote makes the standby a primary and waits until it accepts writes.
func (p *Pair) Promote() {
	p.t.Helper()
	p.must("pg_ctl", "-D", p.Standby.Data, "-w", "-t", "60", "promote")
}

// WaitReplayed waits until the standby has replayed everything the
// primary has written so far.
func (p *Pair) WaitReplayed(timeout time.Duration) {
	p.t.Helper()
	ctx := context.Background()
	pc, err := pgx.Connect(ctx, p.Primary.DSN())
	if err != nil {
		p.t.Fatal(err)
	}
	defer pc.Close(ctx)
	var lsn string
	if err := pc.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		p.t.Fatal(err)
	}
	sc, err := pgx.Connect(ctx, p.Standby.DSN())
	if err != nil {
		p.t.Fatal(err)
	}
	defer sc.Close(ctx)
	var qerr error
	if !testwait.For(timeout, func() bool {
		var done bool
		qerr = sc.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&done)
		return qerr != nil || done
	}) || qerr != nil {
		p.t.Fatalf("the standby did not replay the primary's WAL up to %s within %s (%v)", lsn, timeout, qerr)
	}
}

func (p *Pair) must(tool string, args ...string) {
	p.t.Helper()
	if out, err := p.run(tool, args...); err != nil {
		p.t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// run runs a server binary, as the "postgres" user when this is root
// (initdb and postgres refuse to run as root).
func (p *Pair) run(tool string, args ...string) ([]byte, error) {
	path := filepath.Join(p.bin, tool)
	cmd := exec.Command(path, args...) // #nosec G204 -- the server's own binaries, with arguments of this test
	if u, err := runAs(); err != nil {
		return nil, err
	} else if u != nil {
		cmd = exec.Command("runuser", append([]string{"-u", u.Username, "--", path}, args...)...) // #nosec G204 -- as above
	}
	return cmd.CombinedOutput()
}

// runAs is the user the servers of a test run as: nil for this
// process's own, "postgres" when this is root (initdb, postgres and
// pgbouncer refuse to run as root).
func runAs() (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, the clusters need the postgres user (Debian's postgresql package makes it): %w", err)
	}
	return u, nil
}

// serverBin is the newest of Debian's /usr/lib/postgresql/<version>/bin,
// or the directory of an initdb on PATH.
func serverBin(t testing.TB) string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_basebackup")); err == nil {
			return dirs[i]
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(path)
	}
	t.Fatalf("%s is set but no PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are on this machine: apt-get install postgresql", EnvDSN)
	return ""
}

// freePort is a loopback TCP port free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
