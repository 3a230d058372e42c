#!/usr/bin/env bash
# `make local`: the whole platform on this machine, until Ctrl-C.
#
#  1. the Python venv with the pinned moto server (scripts/ensure-venv.sh)
#  2. PostgreSQL: $DATABASE_URL, else 127.0.0.1:5432, else a throwaway cluster
#     under .local/pg; database `portcullis` created on it
#  3. the AWS emulator (moto) on :4566 (or a free port), and local/bootstrap.py:
#     VPC, subnets, security group, ECS cluster and task definitions, the
#     identity-signing secret, Cognito pool/client/demo user -> .local/env
#  4. migrations, a demo admin API key, the reconciler on a schedule
#     (scripts/lambda-schedule.py runs the real Lambda binary)
#  5. the sample private service (when built), the local gateway on :3000
#
# Ctrl-C (or any failure) stops everything this script started.
#
# Settings (environment): PORTCULLIS_LOCAL_PORT (3000), MOTO_PORT (4566, a free
# port when taken), SAMPLE_SERVICE_PORT (3001, a free port when taken),
# PORTCULLIS_LOCAL_DB (portcullis), DATABASE_URL, LOCAL_RECONCILE_EVERY (5 s;
# 0: no reconciler), LOCAL_FOLLOW_LOGS (1: show the gateway's log after
# start-up; 0: just wait). Any variable the functions read may be set too.
set -euo pipefail
SCRIPT_NAME=local
. "$(dirname "$0")/lib.sh"
# The body is one block: bash parses it whole before running it, so editing
# this file while it runs cannot change what the running copy does.
{
cd "$ROOT"

trap 'trap "" PIPE; stop_tracked' EXIT
trap 'trap "" PIPE; echo >&2; exit 130' INT
trap 'exit 143' TERM

LOGS=$LOCAL_DIR/logs
mkdir -p "$LOGS"
gateway_port=${PORTCULLIS_LOCAL_PORT:-3000}
if port_in_use "$gateway_port"; then
  die "port $gateway_port is already in use (another 'make local'?); stop it, or run with PORTCULLIS_LOCAL_PORT=<port>"
fi

# --- 1. venv ---------------------------------------------------------------
ensure_venv

# --- 2. PostgreSQL -----------------------------------------------------------
ensure_postgres 1
use_local_database
say "PostgreSQL: $(redact_url "$DATABASE_URL") ($PG_SOURCE)"

# --- 3. emulator + bootstrap ---------------------------------------------------
moto_port=${MOTO_PORT:-4566}
if port_in_use "$moto_port"; then
  say "port $moto_port is taken; starting the emulator on a free port instead"
  moto_port=$(free_port)
fi
start_moto "$moto_port" "$LOGS/moto.log"
export AWS_ENDPOINT_URL=$MOTO_ENDPOINT
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_DEFAULT_REGION=$AWS_REGION
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE

say "creating the emulator's resources (local/bootstrap.py)"
"$VENV/bin/python" "$ROOT/local/bootstrap.py" --endpoint "$AWS_ENDPOINT_URL" \
  --region "$AWS_REGION" --env-file "$LOCAL_DIR/env" >"$LOGS/bootstrap.out" 2>"$LOGS/bootstrap.log" ||
  { cat "$LOGS/bootstrap.log" >&2; die "local/bootstrap.py failed (log: .local/logs/bootstrap.log)"; }
set -a
# shellcheck disable=SC1091
. "$LOCAL_DIR/env"
set +a

# What the functions read (see docs/*.md), with this machine's values. The
# emulator's ids (ECS_CLUSTER, JOB_SUBNETS, JOB_SECURITY_GROUPS,
# IDENTITY_SECRET_ARN, COGNITO_ISSUER, COGNITO_JWKS_URL, ...) come from
# .local/env above; for the settings below, a value already set in the
# environment wins.
export PLATFORM_FILE=${PLATFORM_FILE:-$ROOT/platform.yaml}
export OPENAPI_FILE=${OPENAPI_FILE:-$ROOT/api/openapi.yaml}
export PORTCULLIS_LOCAL_PORT=$gateway_port
export RUST_LOG=${RUST_LOG:-info}
# authorizer: the emulator's pool; its access tokens carry groups but no
# tenant claim, so the demo tenant is the default and groups map to scopes.
export COGNITO_CLIENT_IDS=${COGNITO_CLIENT_IDS:-$COGNITO_CLIENT_ID}
export COGNITO_GROUP_SCOPES=${COGNITO_GROUP_SCOPES:-admins=keys:admin jobs:read jobs:write services:sample}
export COGNITO_DEFAULT_TENANT=${COGNITO_DEFAULT_TENANT:-$DEMO_TENANT}
# authorizer + gateway: the usageIdentifierKey of each usage plan; the local
# gateway applies the plan's throttle to it (429) as API Gateway does.
export USAGE_PLAN_KEYS=${USAGE_PLAN_KEYS:-standard=local-usage-plan-standard}
# authorizer: its in-memory credential cache is off locally, so a revoked key
# fails on the very next call (in AWS a warm authorizer may accept a revoked
# key for up to AUTH_CACHE_TTL_SECS; docs/auth.md).
export AUTH_CACHE_TTL_SECS=${AUTH_CACHE_TTL_SECS:-0}

# --- 4. build, migrate, demo key ------------------------------------------------
# One cargo invocation for everything that must work (debug build); the
# optional workloads are built after it, so a broken sample never blocks.
say "building the local gateway and tools (cargo build; the first build takes a few minutes)"
cargo build -p local -p migrate ||
  die "cargo build failed (see above)"
BIN=$(cargo_bin_dir)
say "building the keys tool create-admin-key (log: .local/logs/keys-build.log)"
if ! cargo build -p keys --bin create-admin-key >"$LOGS/keys-build.log" 2>&1; then
  say "warning: the keys tool create-admin-key did not build (log: .local/logs/keys-build.log); no demo API key"
fi

run_migrations "$BIN"

# HOOK (keys): a fresh bootstrap admin key every start, from the keys crate's
# `create-admin-key` tool (prints the key alone on stdout).
demo_key=""
if [ -x "$BIN/create-admin-key" ]; then
  if demo_key=$("$BIN/create-admin-key" --name "make local demo admin" 2>"$LOGS/create-admin-key.log"); then
    umask 077
    printf '%s\n' "$demo_key" >"$LOCAL_DIR/demo-api-key"
    umask 022
  else
    say "warning: create-admin-key failed (log: .local/logs/create-admin-key.log)"
    demo_key=""
  fi
fi

# The reconciler: EventBridge Scheduler invokes it every minute in AWS. Here
# scripts/lambda-schedule.py serves the Lambda Runtime API to the real binary
# and hands it a scheduled event every LOCAL_RECONCILE_EVERY seconds (0: off).
# The emulator emits no ECS events, so these sweeps are what move jobs along;
# jobs with no news for RECONCILE_STALE_SECS are synced with DescribeTasks.
reconcile_every=${LOCAL_RECONCILE_EVERY:-5}
reconciler_note="not running"
if [ "$reconcile_every" != 0 ] && [ -f "$ROOT/functions/reconciler/Cargo.toml" ]; then
  say "building the reconciler (log: .local/logs/reconciler-build.log)"
  if cargo build -p reconciler >"$LOGS/reconciler-build.log" 2>&1 && [ -x "$BIN/reconciler" ]; then
    RECONCILE_STALE_SECS=${RECONCILE_STALE_SECS:-10} JOB_LAUNCH_GRACE_SECS=${JOB_LAUNCH_GRACE_SECS:-5} \
      spawn "reconciler schedule (every ${reconcile_every}s)" "$LOGS/reconciler.log" \
      "$VENV/bin/python" "$ROOT/scripts/lambda-schedule.py" --every "$reconcile_every" --name reconciler -- "$BIN/reconciler"
    reconciler_note="every ${reconcile_every}s (log: .local/logs/reconciler.log)"
  else
    say "warning: the reconciler did not build (log: .local/logs/reconciler-build.log); jobs will not advance on their own"
  fi
fi

# --- 5. sample service, gateway ------------------------------------------------
sample_url=""
if [ -f "$ROOT/workloads/sample-service/Cargo.toml" ]; then
  say "building the sample service (log: .local/logs/sample-service-build.log)"
  if cargo build -p sample-service >"$LOGS/sample-service-build.log" 2>&1 && [ -x "$BIN/sample-service" ]; then
    sample_port=${SAMPLE_SERVICE_PORT:-3001}
    port_in_use "$sample_port" && sample_port=$(free_port)
    # Served under /sample as behind the internal ALB's path rule; verifies
    # the identity headers with the key the proxy signs with.
    PORT=$sample_port BIND_ADDR=127.0.0.1 BASE_PATH=/sample IDENTITY_SECRET=$IDENTITY_SIGNING_KEY \
      spawn "sample service (:$sample_port)" "$LOGS/sample-service.log" "$BIN/sample-service"
    sample_pid=$LAST_PID
    sample_url=http://127.0.0.1:$sample_port/sample
    for _ in $(seq 1 50); do
      port_in_use "$sample_port" && break
      kill -0 "$sample_pid" 2>/dev/null || break
      sleep 0.2
    done
    if ! kill -0 "$sample_pid" 2>/dev/null; then
      tail -n 20 "$LOGS/sample-service.log" >&2 || true
      say "warning: the sample service exited at start (log: .local/logs/sample-service.log)"
      sample_url=""
    fi
  else
    say "warning: the sample service did not build (log: .local/logs/sample-service-build.log); /v1/services/sample will answer 502"
  fi
fi
# The proxy's upstream for a service: PROXY_UPSTREAM_<NAME> wins over the
# registry (in AWS: the internal ALB URL + the service's path_prefix).
export PROXY_UPSTREAM_SAMPLE=${sample_url:-http://127.0.0.1:9/sample}

spawn "local gateway (:$gateway_port)" "$LOGS/gateway.log" "$BIN/portcullis-local"
gateway_pid=$LAST_PID
base=http://127.0.0.1:$gateway_port
up=0
for _ in $(seq 1 150); do
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    tail -n 30 "$LOGS/gateway.log" >&2 || true
    die "the local gateway exited at start (log: .local/logs/gateway.log)"
  fi
  if http_ok "$base/v1/health"; then up=1; break; fi
  sleep 0.2
done
[ "$up" = 1 ] || say "warning: $base/v1/health did not answer 200 within 30 s (log: .local/logs/gateway.log)"

# --- banner --------------------------------------------------------------------
cat >&2 <<EOF

  Portcullis is running locally.

    API (local gateway)   $base
    health                curl -s $base/v1/health
    AWS emulator (moto)   $AWS_ENDPOINT_URL    (ECS cluster $ECS_CLUSTER)
    PostgreSQL            $(redact_url "$DATABASE_URL")
    sample service        ${sample_url:-not running}
    reconciler            $reconciler_note
    resource ids          .local/env   (source it to use the emulator yourself)
    logs                  .local/logs/

EOF
if [ -n "$demo_key" ]; then
  cat >&2 <<EOF
  Demo admin API key (scope keys:admin; also saved in .local/demo-api-key):
    $demo_key
    curl -s -H "x-api-key: \$(cat .local/demo-api-key)" $base/v1/me

EOF
else
  echo "  Demo admin API key: not available (the keys tool create-admin-key is not built yet)" >&2
  echo >&2
fi
cat >&2 <<EOF
  Cognito demo login (user $DEMO_USER in group admins, tenant $DEMO_TENANT):
    scripts/token.sh                    # prints an access token; --id for an id token
    curl -s -H "Authorization: Bearer \$(scripts/token.sh)" $base/v1/me

  Ctrl-C stops everything started here.
EOF

if [ "${LOCAL_FOLLOW_LOGS:-1}" = 1 ] && [ -t 2 ]; then
  echo "  --- gateway log (.local/logs/gateway.log) ---" >&2
  tail -n 0 --pid="$gateway_pid" -F "$LOGS/gateway.log" >&2 2>/dev/null || true
fi
# Wait for the gateway; a signal interrupts the wait and runs the traps.
while kill -0 "$gateway_pid" 2>/dev/null; do
  sleep 1
done
status=0
wait "$gateway_pid" || status=$?
die "the local gateway stopped (exit $status; log: .local/logs/gateway.log)"
exit
}
