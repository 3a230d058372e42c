#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL cluster that enforces password
# authentication, for the tests that need PostgreSQL to *reject* a password
# (SQLSTATE 28P01 after a rotation). The machine's main server trusts every
# local connection, so it cannot produce that error.
#
#   scripts/pg-auth-cluster.sh start DIR PORT   -> prints the admin URL
#   scripts/pg-auth-cluster.sh stop DIR
#
# In the cluster, user `postgres` is trusted on 127.0.0.1 (the test's admin
# connection) and every other role must present a SCRAM password.
set -euo pipefail
cmd=${1:?usage: $0 start|stop DIR [PORT]}
dir=${2:?usage: $0 start|stop DIR [PORT]}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "pg-auth-cluster: PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin; install them with: apt-get install -y postgresql" >&2
  exit 1
fi
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  port=${3:?usage: $0 start DIR PORT}
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_pg "$pgbin/initdb" -D "$dir" -U postgres --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    cat > "$dir/pg_hba.conf" <<HBA
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
HBA
  fi
  if ! as_pg "$pgbin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$pgbin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256 -c fsync=off" start >/dev/null
  fi
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -f "$dir/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
