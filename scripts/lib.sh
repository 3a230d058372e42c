# shellcheck shell=bash
# Common functions for the scripts the Makefile runs. Source it:
#   . "$(dirname "$0")/lib.sh"
#
# Conventions: messages go to stderr (prefixed with the script name), values a
# caller captures go to stdout. Every process a script starts in the background
# is registered with `track_pid` and stopped by `stop_tracked` (call it from an
# EXIT trap), so nothing is left running after Ctrl-C or a failure.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${PORTCULLIS_VENV:-$ROOT/.venv}
# PORTCULLIS_LOCAL_DIR: state, logs and credentials of this checkout's runs (.local).
LOCAL_DIR=${PORTCULLIS_LOCAL_DIR:-$ROOT/.local}
SCRIPT_NAME=${SCRIPT_NAME:-$(basename "$0" .sh)}

say() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2 || true; }
die() { printf '%s: error: %s\n' "$SCRIPT_NAME" "$*" >&2; exit 1; }

# A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it).
free_port() {
  local py
  py=$(command -v python3 || true)
  [ -x "$VENV/bin/python" ] && py=$VENV/bin/python
  [ -n "$py" ] || die "python3 is needed to pick a free port; install it with: apt-get install -y python3"
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------
# Background processes
# ---------------------------------------------------------------------------
TRACKED_PIDS=()
TRACKED_NAMES=()
STOP_HOOKS=()

# Start "$@" in the background in a session of its own (so the whole process
# tree can be signalled as a group), output to LOGFILE. Sets LAST_PID.
#   spawn NAME LOGFILE cmd args...
spawn() {
  local name=$1 log=$2
  shift 2
  mkdir -p "$(dirname "$log")"
  if command -v setsid >/dev/null 2>&1; then
    setsid "$@" </dev/null >"$log" 2>&1 &
  else
    "$@" </dev/null >"$log" 2>&1 &
  fi
  LAST_PID=$!
  TRACKED_PIDS+=("$LAST_PID")
  TRACKED_NAMES+=("$name")
}

# Run a command when stop_tracked runs (e.g. stopping a PostgreSQL cluster).
on_stop() { STOP_HOOKS+=("$*"); }

# Stop every tracked process (TERM to its process group, then KILL after a
# grace period) and run the stop hooks, newest first. Safe to call twice.
stop_tracked() {
  local i pid name waited
  for ((i = ${#TRACKED_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${TRACKED_PIDS[$i]}
    name=${TRACKED_NAMES[$i]}
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      waited=0
      while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
        sleep 0.1
        waited=$((waited + 1))
      done
      if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    # Reap it so no zombie is reported; ignore its exit status.
    wait "$pid" 2>/dev/null || true
    TRACKED_PIDS[$i]=""
  done
  for ((i = ${#STOP_HOOKS[@]} - 1; i >= 0; i--)); do
    [ -n "${STOP_HOOKS[$i]}" ] || continue
    eval "${STOP_HOOKS[$i]}" || true
    STOP_HOOKS[$i]=""
  done
}

# ---------------------------------------------------------------------------
# Python venvs
# ---------------------------------------------------------------------------
# ensure_venv: the project venv (moto server, boto3) in $VENV.
# ensure_venv DIR REQUIREMENTS [--bin NAME]... [--import MODULES]: another
# venv from a pinned requirements file (scripts/ensure-venv.sh says more).
ensure_venv() { bash "$ROOT/scripts/ensure-venv.sh" "$@"; }

# ---------------------------------------------------------------------------
# moto server (the AWS emulator)
# ---------------------------------------------------------------------------
# http_ok URL: true when URL answers 2xx (uses the venv's python: no curl needed).
http_ok() {
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if 200 <= r.status < 300 else 1)
PY
}

# start_moto PORT LOG [CREDENTIALS_FILE]: the AWS emulator with IAM enforced
# (scripts/moto-server.py: moto 5.2.5 plus the patches it documents), tracked
# (stopped on exit). Waits for the administrator's key, which the server
# writes to CREDENTIALS_FILE (default .local/admin-credentials) once IAM is
# enforced, then exports it: AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY. Every later request is authorised against its
# caller's IAM policies: the default test credentials are refused.
# Sets MOTO_PID, MOTO_ENDPOINT, MOTO_CREDENTIALS.
start_moto() {
  local port=$1 log=$2 i
  MOTO_CREDENTIALS=${3:-$LOCAL_DIR/admin-credentials}
  [ -x "$VENV/bin/python" ] || die "the Python venv is missing in $VENV; run scripts/ensure-venv.sh"
  if port_in_use "$port"; then
    die "port $port is already in use; stop what listens there or choose another port"
  fi
  rm -f "$MOTO_CREDENTIALS"
  spawn "moto server with IAM enforced (:$port)" "$log" \
    "$VENV/bin/python" "$ROOT/scripts/moto-server.py" --port "$port" \
    --region "${AWS_REGION:-us-east-1}" --credentials-file "$MOTO_CREDENTIALS"
  MOTO_PID=$LAST_PID
  MOTO_ENDPOINT=http://127.0.0.1:$port
  for i in $(seq 1 300); do
    if [ -s "$MOTO_CREDENTIALS" ]; then
      load_admin_credentials "$MOTO_CREDENTIALS"
      warm_moto "$MOTO_ENDPOINT"
      return 0
    fi
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "the emulator exited at start (log: $log)"
    fi
    sleep 0.2
  done
  tail -n 20 "$log" >&2 || true
  die "the emulator wrote no administrator key to $MOTO_CREDENTIALS within 60 s (log: $log)"
}

# load_admin_credentials FILE: export the emulator's administrator key.
load_admin_credentials() {
  [ -f "$1" ] || die "no emulator credentials in $1: start the emulator with scripts/moto-server.py (make emulator)"
  set -a
  # shellcheck disable=SC1090
  . "$1"
  set +a
  unset AWS_SESSION_TOKEN AWS_PROFILE
  export AWS_DEFAULT_REGION=$AWS_REGION
  [ -n "${AWS_ENDPOINT_URL:-}" ] || die "$1 names no AWS_ENDPOINT_URL"
}

# warm_moto ENDPOINT: one cheap call to each emulated service the project
# uses, signed with the exported (administrator's) key. moto imports a
# service's backend on its first request (about a second each, more on a busy
# machine); paying that here keeps the first real call of a test or a health
# check from running into its own timeout.
warm_moto() {
  "$VENV/bin/python" - "$1" <<'PY' || say "warning: warming up the emulator failed (it still runs)"
import sys
import boto3
from botocore.config import Config
session = boto3.session.Session()
cfg = Config(retries={"max_attempts": 2}, read_timeout=60)
calls = {
    "sts": lambda c: c.get_caller_identity(),
    "apigateway": lambda c: c.get_account(),
    "ecs": lambda c: c.list_clusters(),
    "ec2": lambda c: c.describe_vpcs(),
    "secretsmanager": lambda c: c.list_secrets(),
    "cognito-idp": lambda c: c.list_user_pools(MaxResults=1),
    "lambda": lambda c: c.list_functions(),
}
for name, call in calls.items():
    call(session.client(name, endpoint_url=sys.argv[1], config=cfg))
PY
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
# Directory of the newest PostgreSQL server binaries, or empty.
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
  elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

# Run a command as the postgres OS user when we are root (initdb refuses root).
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    # From / : the postgres user may not be allowed into the current directory.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# pg_probe URL: 0 when PostgreSQL at URL accepts a login and the user may
# create databases; 1 when it does not answer; 2 when it answers but the login
# or the CREATEDB check fails (message on stderr).
pg_probe() {
  local url=$1 out
  if command -v psql >/dev/null 2>&1; then
    if out=$(PGCONNECT_TIMEOUT=3 psql "$url" -XAtq -v ON_ERROR_STOP=1 \
      -c "select rolcreatedb or rolsuper from pg_roles where rolname = current_user" 2>&1); then
      if [ "$out" = t ]; then return 0; fi
      say "the user of $(redact_url "$url") may not create databases (tests need CREATEDB)"
      return 2
    fi
    if printf '%s' "$out" | grep -qiE 'password|authentication|role .* does not exist|database .* does not exist'; then
      say "PostgreSQL at $(redact_url "$url") answered but refused the login: $out"
      return 2
    fi
    return 1
  fi
  if command -v pg_isready >/dev/null 2>&1; then
    PGCONNECT_TIMEOUT=3 pg_isready -q -d "$url" && return 0
    return 1
  fi
  # Last resort: is the port open at all?
  local hostport host port
  hostport=${url#*://}
  hostport=${hostport#*@}
  hostport=${hostport%%/*}
  host=${hostport%%:*}
  port=${hostport##*:}
  [ "$port" = "$hostport" ] && port=5432
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
  return 1
}

# A URL with its password replaced by ***.
redact_url() { printf '%s' "$1" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#'; }

# pg_state_dir NAME: where a throwaway cluster keeps its files: .local/NAME,
# unless we are root and the postgres OS user (which runs the server) cannot
# reach .local (a clone under /root, say): then a directory under /tmp.
pg_state_dir() {
  local name=$1
  mkdir -p "$LOCAL_DIR"
  if [ "$(id -u)" != 0 ] || ! id postgres >/dev/null 2>&1 ||
    runuser -u postgres -- test -x "$LOCAL_DIR" 2>/dev/null; then
    echo "$LOCAL_DIR/$name"
  else
    local tag
    tag=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
    mkdir -p "/tmp/portcullis-$tag"
    chmod 755 "/tmp/portcullis-$tag"
    echo "/tmp/portcullis-$tag/$name"
  fi
}

PG_CLUSTER_DIR=$(pg_state_dir pg)

# Start (or reuse) the throwaway trust-auth cluster under .local/pg.
# Sets PG_CLUSTER_URL; sets PG_CLUSTER_STARTED=1 when this call started it.
start_throwaway_cluster() {
  local bindir dir=$PG_CLUSTER_DIR port
  PG_CLUSTER_STARTED=0
  bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then
    return 1
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' OS user to run initdb; install the server with: apt-get install -y postgresql"
    chown postgres "$dir"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "creating a throwaway PostgreSQL cluster in $dir/data"
    as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; die "initdb failed (log: $dir/initdb.log)"; }
  fi
  if as_postgres "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 && [ -f "$dir/port" ]; then
    port=$(cat "$dir/port")
  else
    port=$(free_port)
    echo "$port" >"$dir/port"
    say "starting the throwaway PostgreSQL cluster on 127.0.0.1:$port"
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null ||
      { tail -n 20 "$dir/server.log" >&2 || true; die "the throwaway cluster did not start (log: $dir/server.log)"; }
    PG_CLUSTER_STARTED=1
  fi
  PG_CLUSTER_URL=postgres://postgres@127.0.0.1:$port/postgres
}

stop_throwaway_cluster() {
  local bindir
  bindir=$(pg_bindir)
  [ -n "$bindir" ] && [ -f "$PG_CLUSTER_DIR/data/PG_VERSION" ] || return 0
  say "stopping the throwaway PostgreSQL cluster"
  as_postgres "$bindir/pg_ctl" -D "$PG_CLUSTER_DIR/data" -m fast stop >/dev/null 2>&1 || true
}

# ensure_postgres: set DATABASE_URL to a reachable server whose user may
# create databases. Order: $DATABASE_URL, 127.0.0.1:5432 as postgres, a
# throwaway cluster under .local/pg. Sets PG_SOURCE (env|local|cluster) and
# registers the cluster's stop when this call started it (with stop_on_exit=1).
#   ensure_postgres [stop_on_exit]
ensure_postgres() {
  local stop_on_exit=${1:-1} rc
  if [ -n "${DATABASE_URL:-}" ]; then
    rc=0
    pg_probe "$DATABASE_URL" || rc=$?
    if [ "$rc" = 0 ]; then PG_SOURCE=env; return 0; fi
    if [ "$rc" = 1 ]; then
      die "DATABASE_URL is set but nothing answers at $(redact_url "$DATABASE_URL"); start that server, or unset DATABASE_URL to let the script find or create one"
    fi
    die "DATABASE_URL is set but $(redact_url "$DATABASE_URL") is not usable (see above); fix it, or unset it to let the script find or create a server"
  fi
  # PORTCULLIS_PG_DEFAULT_URL: the server probed before creating a cluster
  # (set it to an unused port to force the throwaway cluster).
  local default=${PORTCULLIS_PG_DEFAULT_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  rc=0
  pg_probe "$default" || rc=$?
  if [ "$rc" = 0 ]; then
    DATABASE_URL=$default
    PG_SOURCE=local
    return 0
  fi
  if [ "$rc" = 2 ]; then
    say "the server at $(redact_url "$default") refused the login; using a throwaway cluster instead"
  fi
  if start_throwaway_cluster; then
    DATABASE_URL=$PG_CLUSTER_URL
    PG_SOURCE=cluster
    if [ "$PG_CLUSTER_STARTED" = 1 ] && [ "$stop_on_exit" = 1 ]; then
      on_stop stop_throwaway_cluster
    fi
    return 0
  fi
  cat >&2 <<'MSG'
No PostgreSQL found: DATABASE_URL is not set, nothing answers on 127.0.0.1:5432,
and no PostgreSQL server binaries (initdb, pg_ctl) are installed to create a
throwaway cluster. Either
  - install PostgreSQL:      apt-get install -y postgresql postgresql-client
    (the scripts then create a throwaway cluster under .local/pg; or start the
    packaged one: pg_ctlcluster --skip-systemctl-redirect <version> main start)
  - or point at a server:    export DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/postgres
    (USER needs CREATEDB: tests create a database each)
MSG
  return 1
}

# with_database URL NAME: the same URL with its database replaced by NAME.
with_database() {
  local url=$1 name=$2 base query=""
  case "$url" in *\?*) query="?${url#*\?}"; url=${url%%\?*} ;; esac
  case "${url#*://}" in
    */*) base=${url%/*} ;;
    *) base=$url ;;
  esac
  printf '%s/%s%s' "$base" "$name" "$query"
}

# create_database URL NAME: create database NAME unless it exists (needs psql).
create_database() {
  local url=$1 name=$2
  command -v psql >/dev/null 2>&1 || return 1
  if [ "$(psql "$url" -XAtq -c "select 1 from pg_database where datname = '$name'")" != 1 ]; then
    psql "$url" -Xq -v ON_ERROR_STOP=1 -c "create database \"$name\"" >/dev/null
  fi
}

# use_local_database: after ensure_postgres, switch DATABASE_URL to the
# database `make local` and `make migrate` use (PORTCULLIS_LOCAL_DB, default
# portcullis), created when missing. A DATABASE_URL from the environment is
# used as it is: it names the database the user wants.
use_local_database() {
  local db_name=${PORTCULLIS_LOCAL_DB:-portcullis}
  if [ "${PG_SOURCE:-}" != env ]; then
    if create_database "$DATABASE_URL" "$db_name"; then
      DATABASE_URL=$(with_database "$DATABASE_URL" "$db_name")
    else
      say "warning: psql not found, cannot create database '$db_name'; using $(redact_url "$DATABASE_URL") as it is"
    fi
  fi
  export DATABASE_URL
}

# Where cargo puts debug binaries.
cargo_bin_dir() { echo "${CARGO_TARGET_DIR:-$ROOT/target}/debug"; }

# run_migrations BIN_DIR: apply the sqlx migrations to $DATABASE_URL with the
# migrate crate's local runner (built beforehand).
# HOOK (migrate): the binary name and arguments the migrate crate offers for
# running outside Lambda; adjust here if they change.
run_migrations() {
  local bin=$1 log=$LOCAL_DIR/logs/migrate.log
  mkdir -p "$LOCAL_DIR/logs"
  local m
  for m in migrate-local migrate; do
    [ -x "$bin/$m" ] || continue
    say "applying migrations to $(redact_url "$DATABASE_URL") ($m)"
    if env -u AWS_LAMBDA_RUNTIME_API "$bin/$m" >"$log" 2>&1; then
      say "migrations: $(tail -n 1 "$log" | cut -c1-300)"
      return 0
    fi
    cat "$log" >&2
    die "applying migrations failed (log: .local/logs/migrate.log)"
  done
  say "warning: no migrate binary in $bin; migrations NOT applied"
  return 0
}

# ensure_chromium: Debian's chromium for the browser tests: installed with
# apt-get when missing and this runs as root, else stop with how to get it.
ensure_chromium() {
  command -v "${PORTCULLIS_CHROMIUM:-chromium}" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser tests (apt-get install -y chromium)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$LOCAL_DIR/logs/apt-chromium.log" 2>&1 ||
      { tail -n 20 "$LOCAL_DIR/logs/apt-chromium.log" >&2; die "apt-get install chromium failed (log: .local/logs/apt-chromium.log)"; }
    return 0
  fi
  die "chromium is not installed; the browser tests need it: sudo apt-get install -y chromium (or set PORTCULLIS_CHROMIUM to a Chromium executable)"
}

# need_terraform: stop with how to install it when the CLI is missing.
need_terraform() {
  command -v terraform >/dev/null 2>&1 ||
    die "terraform is not on PATH; make local and make test apply terraform/ to the AWS emulator. Install Terraform >= 1.11: on Debian/Ubuntu from HashiCorp's apt repository (https://developer.hashicorp.com/terraform/install, package terraform), then run again"
}

# tf_cli_config: point Terraform at a local provider mirror when one exists,
# so `terraform init` works with no registry access. The mirror root is
# PORTCULLIS_TF_MIRROR, or the first of the usual places that holds
# registry.terraform.io/hashicorp/aws. Without a mirror, init downloads the
# provider as usual (a machine with internet). Exports TF_CLI_CONFIG_FILE.
tf_cli_config() {
  local mirror=${PORTCULLIS_TF_MIRROR:-} d
  if [ -z "$mirror" ]; then
    for d in /opt/tf-plugins "$HOME/.terraform.d/plugins" /usr/share/terraform/plugins /usr/local/share/terraform/plugins; do
      if [ -d "$d/registry.terraform.io/hashicorp/aws" ]; then mirror=$d; break; fi
    done
  fi
  mkdir -p "$LOCAL_DIR/logs"
  if [ -n "$mirror" ]; then
    cat >"$LOCAL_DIR/terraformrc" <<TFRC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
TFRC
    say "terraform: provider mirror $mirror"
  else
    : >"$LOCAL_DIR/terraformrc"
    say "terraform: no provider mirror found; terraform init downloads hashicorp/aws"
  fi
  export TF_CLI_CONFIG_FILE=$LOCAL_DIR/terraformrc
}
