#!/usr/bin/env bash
# Make sure PostgreSQL is reachable and print a DATABASE_URL whose user may
# create databases:
#   1. $DATABASE_URL, when set and reachable;
#   2. postgres://postgres@127.0.0.1:5432/postgres, when it answers;
#   3. a throwaway trust-auth cluster created under .local/pg (left running;
#      `scripts/ensure-postgres.sh stop` stops it);
#   4. otherwise: a message naming the packages to install, exit 1.
#
#   scripts/ensure-postgres.sh          -> prints the URL on stdout
#   scripts/ensure-postgres.sh stop     -> stops the throwaway cluster, if any
set -euo pipefail
SCRIPT_NAME=ensure-postgres
. "$(dirname "$0")/lib.sh"

case "${1:-}" in
stop)
  stop_throwaway_cluster
  exit 0
  ;;
"") ;;
*) echo "usage: $0 [stop]" >&2; exit 2 ;;
esac

ensure_postgres 0 || exit 1
say "using PostgreSQL at $(redact_url "$DATABASE_URL") ($PG_SOURCE)"
printf '%s\n' "$DATABASE_URL"
