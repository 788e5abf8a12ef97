# Sourced by .ci/test: starts a throwaway PostgreSQL cluster for the tests
# (Debian postgresql + postgresql-contrib), exports its DSN as
# OKTAGUARD_TEST_PG_DSN and stops it (pg_ctl stop -m immediate) and removes
# its directory at exit, even on failure. initdb and postgres refuse to run
# as root: as root the cluster runs as the "postgres" user.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
  echo "PostgreSQL server binaries not found (apt-get install postgresql postgresql-contrib)" >&2
  exit 1
fi
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_DIR=$(mktemp -d /tmp/oktaguard-ci-pg.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
stop_pg() {
  as_pg "$pg_bin/pg_ctl" -D "$PG_DIR/data" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop_pg EXIT
as_pg "$pg_bin/initdb" -D "$PG_DIR/data" -A trust -U postgres >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; exit 1; }
started=""
for _ in 1 2 3 4 5; do
  PG_PORT=$(( 20000 + RANDOM % 40000 ))
  if as_pg "$pg_bin/pg_ctl" -D "$PG_DIR/data" -w -t 60 -l "$PG_DIR/log" \
      -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" start >/dev/null; then
    started=1; break
  fi
done
if [ -z "$started" ]; then echo "could not start PostgreSQL:"; cat "$PG_DIR/log"; exit 1; fi
as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE oktaguard_test" postgres
export OKTAGUARD_TEST_PG_DSN="postgres://postgres@127.0.0.1:$PG_PORT/oktaguard_test?sslmode=disable"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (data in $PG_DIR): OKTAGUARD_TEST_PG_DSN=$OKTAGUARD_TEST_PG_DSN"
