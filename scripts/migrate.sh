#!/usr/bin/env bash
# `make migrate`: apply the sqlx migrations (migrations/) to $DATABASE_URL, or
# to the `portcullis` database of the PostgreSQL that `make local` uses.
# Idempotent: applied migrations are skipped.
set -euo pipefail
SCRIPT_NAME=migrate
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_postgres 0
use_local_database
cargo build -p migrate || die "cargo build -p migrate failed (see above)"
run_migrations "$(cargo_bin_dir)"
