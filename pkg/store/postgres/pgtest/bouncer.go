package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/testwait"
)

// Bouncer is a PgBouncer in transaction pooling mode in front of the test
// server (OKTAGUARD_TEST_PG_DSN): the connection pooler many PostgreSQL
// deployments put between their applications and the database, in the mode
// that gives a client's consecutive transactions to different server
// connections.
type Bouncer struct {
	base string // the test server's DSN
	port int
}

// StartBouncer starts one for the test, stopped at cleanup. It needs what
// DSN needs and the pgbouncer binary (Debian's pgbouncer package), whose
// absence fails the test. As root it runs as the "postgres" user.
func StartBouncer(t testing.TB) *Bouncer {
	t.Helper()
	base := DSN(t)
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Fatalf("%s is set but pgbouncer is not on this machine: apt-get install pgbouncer", EnvDSN)
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "oktaguard-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	u, err := runAs()
	if err != nil {
		t.Fatal(err)
	}
	// the directory and its files are the bouncer user's alone (0700,
	// 0600): the configuration holds the test server's password, if any
	owner := func(path string) {
		if u == nil {
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	owner(dir)
	b := &Bouncer{base: base, port: freePort(t)}
	upstream := fmt.Sprintf("host=%s port=%d user=%s", cfg.Host, cfg.Port, cfg.User)
	if cfg.Password != "" {
		upstream += " password=" + cfg.Password
	}
	ini := fmt.Sprintf(`[databases]
* = %s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
ignore_startup_parameters = extra_float_digits
logfile = %s
pidfile = %s
`, upstream, b.port, filepath.Join(dir, "users.txt"), filepath.Join(dir, "pgbouncer.log"), filepath.Join(dir, "pgbouncer.pid"))
	for name, body := range map[string]string{"pgbouncer.ini": ini, "users.txt": fmt.Sprintf("%q \"\"\n", cfg.User)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		owner(filepath.Join(dir, name))
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini")) // #nosec G204 -- the pooler's binary with this test's configuration
	if u != nil {
		cmd = exec.Command("runuser", "-u", u.Username, "--", bin, filepath.Join(dir, "pgbouncer.ini")) // #nosec G204 -- as above
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	ctx := context.Background()
	var cerr error
	if !testwait.For(30*time.Second, func() bool {
		c, err := pgx.Connect(ctx, b.dsn("postgres"))
		if err == nil {
			c.Close(ctx)
		}
		cerr = err
		return err == nil
	}) {
		log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log")) // #nosec G304 -- the log of the bouncer this test started, in its own directory
		t.Fatalf("pgbouncer did not accept connections within 30 s: %v\n%s", cerr, log)
	}
	return b
}

// dsn names db through the bouncer, as docs/operations.md tells a
// deployment behind PgBouncer in transaction pooling to: the simple
// protocol, no server-side prepared statement.
func (b *Bouncer) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable&default_query_exec_mode=simple_protocol", b.port, db)
}

// Database creates a fresh database on the test server (dropped at
// cleanup) and returns a DSN to it through the bouncer. A database, not a
// schema as Schema: PgBouncer passes no search_path to the server.
func (b *Bouncer) Database(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, b.base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	r := make([]byte, 6)
	rand.Read(r)
	name := "b_" + hex.EncodeToString(r)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), b.base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)") //nolint:errcheck // best effort
	})
	return b.dsn(name)
}
