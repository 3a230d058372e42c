#!/usr/bin/env bash
# `make local`: the whole platform on this machine, until Ctrl-C.
#
#  1. the Python venv with the pinned moto server (scripts/ensure-venv.sh),
#     and the Terraform CLI (stops with how to install it when missing)
#  2. PostgreSQL: $DATABASE_URL, else 127.0.0.1:5432, else a throwaway cluster
#     under .local/pg; database `portcullis` created on it
#  3. the AWS emulator with IAM enforced (scripts/moto-server.py) on :4566 (or
#     a free port); its administrator's key in .local/admin-credentials
#  4. `terraform apply` of terraform/ with env/local.tfvars to the emulator
#     (scripts/tf-local.sh apply: every resource, nothing made by hand; it
#     prints the count and what is switched off locally), and
#     .local/deployment.json (scripts/tf-local.sh deployment); meanwhile the
#     debug build of the gateway and tools
#  5. migrations, the demo user (scripts/demo.py: the Cognito admin API, as an
#     operator would), a demo admin API key (the keys tool create-admin-key),
#     the reconciler on a schedule (scripts/lambda-schedule.py runs the real
#     Lambda binary with its own Lambda environment and role)
#  6. the sample private service (integration lambda, behind the proxy
#     function) and the sample web application (integration vpc_link, the
#     gateway's HTTP integration: PORTCULLIS_HTTP_UPSTREAMS), the local
#     gateway on :3000: the REST API
#     Terraform applied, each function with its own environment and role;
#     the EMF shipper (scripts/emf-shipper.py): the metric records the
#     functions print, in the gateway's and the reconciler's logs, published
#     to the emulator's CloudWatch with PutMetricData (`make metrics`)
#
# Ctrl-C (or any failure) stops everything this script started.
#
# Settings (environment): PORTCULLIS_LOCAL_PORT (3000), MOTO_PORT (4566, a free
# port when taken), SAMPLE_SERVICE_PORT (3001, a free port when taken),
# SAMPLE_WEB_PORT (3002, a free port when taken),
# PORTCULLIS_LOCAL_DB (portcullis), DATABASE_URL, LOCAL_RECONCILE_EVERY (5 s;
# 0: no reconciler), LOCAL_FOLLOW_LOGS (1: show the gateway's log after
# start-up; 0: just wait), LOCAL_WEB (1: serve the web console on WEB_PORT,
# 5173), LOCAL_METRICS (1: ship the functions' EMF metrics to the emulator;
# 0: off), PORTCULLIS_LOCAL_DIR (.local), PORTCULLIS_LOCAL_REUSE (1: serve the
# emulator and deployment already in PORTCULLIS_LOCAL_DIR), RUST_LOG. The functions' own settings come from
# Terraform (terraform/env/local.tfvars), not from this shell.
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
# What the messages and the banner call them: relative to the repository when
# inside it (.local, .local/logs), else the full path; $ldq for the commands.
ld=${LOCAL_DIR#"$ROOT"/}
lg=${LOGS#"$ROOT"/}
ldq=$(printf '%q' "$ld")
gateway_port=${PORTCULLIS_LOCAL_PORT:-3000}
if port_in_use "$gateway_port"; then
  die "port $gateway_port is already in use (another 'make local'?); stop it, or run with PORTCULLIS_LOCAL_PORT=<port>"
fi

# --- 1. venv, terraform --------------------------------------------------------
need_terraform
ensure_venv

# --- 2. PostgreSQL -----------------------------------------------------------
ensure_postgres 1
use_local_database
say "PostgreSQL: $(redact_url "$DATABASE_URL") ($PG_SOURCE)"

# --- 3. emulator ----------------------------------------------------------------
# PORTCULLIS_LOCAL_REUSE=1 (make test's browser stage): the emulator and the
# deployment of PORTCULLIS_LOCAL_DIR are already there (admin-credentials,
# deployment.json); serve them instead of starting and applying anew.
reuse=${PORTCULLIS_LOCAL_REUSE:-0}
apply_pid=""
if [ "$reuse" = 1 ]; then
  load_admin_credentials "$LOCAL_DIR/admin-credentials"
  [ -f "$LOCAL_DIR/deployment.json" ] || die "PORTCULLIS_LOCAL_REUSE=1 but $LOCAL_DIR/deployment.json is missing"
  say "AWS emulator: $AWS_ENDPOINT_URL (reused, with its deployment)"
else
  moto_port=${MOTO_PORT:-4566}
  if port_in_use "$moto_port"; then
    say "port $moto_port is taken; starting the emulator on a free port instead"
    moto_port=$(free_port)
  fi
  export AWS_REGION=${AWS_REGION:-us-east-1}
  start_moto "$moto_port" "$LOGS/moto.log"
  say "AWS emulator: $AWS_ENDPOINT_URL, IAM enforced (administrator key: $ld/admin-credentials)"

  # --- 4. terraform apply, and the build meanwhile ------------------------------
  say "applying terraform/ to the emulator in the background (log: $lg/tf-local.log); building meanwhile"
  (bash "$ROOT/scripts/tf-local.sh" apply && bash "$ROOT/scripts/tf-local.sh" deployment) >"$LOGS/tf-local.log" 2>&1 &
  apply_pid=$!
  on_stop "kill $apply_pid 2>/dev/null || true"
fi

# One cargo invocation for everything that must work (debug build); the
# optional workloads are built after it, so a broken sample never blocks.
say "building the local gateway and tools (cargo build; the first build takes a few minutes)"
cargo build -p local -p migrate -p reconciler -p keys ||
  die "cargo build failed (see above)"
BIN=$(cargo_bin_dir)

if [ -n "$apply_pid" ]; then
  apply_status=0
  wait "$apply_pid" || apply_status=$?
  cat "$LOGS/tf-local.log" >&2
  [ "$apply_status" = 0 ] || die "terraform apply to the emulator failed (above; logs: $lg/tf-local*.log)"
fi
export PORTCULLIS_DEPLOYMENT=$LOCAL_DIR/deployment.json

# --- 5. migrations, demo user and key, reconciler ---------------------------------
run_migrations "$BIN"

"$VENV/bin/python" "$ROOT/scripts/demo.py" --outputs "$LOCAL_DIR/terraform-local-outputs.json" \
  --env-file "$LOCAL_DIR/env" 2>"$LOGS/demo.log" ||
  { cat "$LOGS/demo.log" >&2; die "scripts/demo.py failed (log: $lg/demo.log)"; }
demo_user=$(sed -n "s/^DEMO_USER=//p" "$LOCAL_DIR/env" | tr -d "'")

# A fresh bootstrap admin key every start, from the keys crate's
# `create-admin-key` tool (prints the key alone on stdout), as an operator
# creates the first key after a deployment. It runs with the keys function's
# own environment and role (`portcullis-local env keys`: USAGE_PLAN_IDS,
# USAGE_KEY_PREFIX, the emulator), so the key gets its API Gateway usage key
# in its plan: without one the gateway refuses it, as API Gateway would.
demo_key=""
(umask 077; "$BIN/portcullis-local" env keys >"$LOCAL_DIR/keys.env") ||
  die "cannot build the keys function's environment (above)"
if demo_key=$(
  set -a
  # shellcheck disable=SC1091
  . "$LOCAL_DIR/keys.env"
  set +a
  DATABASE_URL=$DATABASE_URL "$BIN/create-admin-key" --name "make local demo admin" 2>"$LOGS/create-admin-key.log"
); then
  # The key is the one line that is not a metric record: should the tool
  # print an EMF record (KeyCreated) on stdout too, that goes to its log,
  # which the EMF shipper follows.
  grep -F '"_aws"' <<<"$demo_key" >>"$LOGS/create-admin-key.log" || true
  demo_key=$(grep -vF '"_aws"' <<<"$demo_key" | tail -n 1) || demo_key=""
  (umask 077; printf '%s\n' "$demo_key" >"$LOCAL_DIR/demo-api-key")
else
  say "warning: create-admin-key failed (log: $lg/create-admin-key.log)"
  demo_key=""
fi

# The reconciler: EventBridge Scheduler invokes it every minute in AWS. Here
# scripts/lambda-schedule.py serves the Lambda Runtime API to the real binary
# and hands it a scheduled event every LOCAL_RECONCILE_EVERY seconds (0: off),
# with the reconciler's own Lambda environment and role credentials
# (`portcullis-local env reconciler`). The emulator emits no ECS events, so
# these sweeps are what move jobs along.
reconcile_every=${LOCAL_RECONCILE_EVERY:-5}
reconciler_note="not running"
if [ "$reconcile_every" != 0 ]; then
  (umask 077; "$BIN/portcullis-local" env reconciler >"$LOCAL_DIR/reconciler.env") ||
    die "cannot build the reconciler's environment (above)"
  # One local difference, for a reason: the emulator's EventBridge delivers
  # no ECS task events, so the reconciler's sync is what moves jobs along;
  # it syncs a job after 10 s without news instead of the deployed default.
  printf '%s\n' "RECONCILE_STALE_SECS=${RECONCILE_STALE_SECS:-10}" "JOB_LAUNCH_GRACE_SECS=${JOB_LAUNCH_GRACE_SECS:-5}" >>"$LOCAL_DIR/reconciler.env"
  (
    set -a
    # shellcheck disable=SC1091
    . "$LOCAL_DIR/reconciler.env"
    set +a
    exec "$VENV/bin/python" "$ROOT/scripts/lambda-schedule.py" --every "$reconcile_every" --name reconciler -- "$BIN/reconciler"
  ) >"$LOGS/reconciler.log" 2>&1 &
  reconciler_pid=$!
  on_stop "kill $reconciler_pid 2>/dev/null || true"
  reconciler_note="every ${reconcile_every}s, on its own role (log: $lg/reconciler.log)"
fi

# --- 6. sample workloads, gateway ----------------------------------------------
# start_workload SERVICE CRATE PORT: build workloads/CRATE (debug) and start
# it on 127.0.0.1:PORT (a free port when taken) with the container
# environment of SERVICE's ECS task definition, as Terraform registered it in
# the emulator (BASE_PATH: the path its internal ALB rule forwards, with the
# stage in front for a vpc_link service; PORTCULLIS_COOKIES and
# PORTCULLIS_PUBLIC_PATH; its plain variables), PORT and BIND_ADDR set for
# this machine. It verifies identity headers with the key of service SERVICE:
# ECS injects that key from the service's own secret (the task definition's
# `secrets`); here it is read from the emulator's secret Terraform created
# for SERVICE (IDENTITY_SECRET_ARNS in .local/env: every service's, from
# Terraform's identity_secret_arns output). Sets WORKLOAD_URL
# (http://127.0.0.1:PORT, no BASE_PATH) and WORKLOAD_BASE_PATH, empty when
# the workload did not build or start (a warning says why and where its log is).
start_workload() {
  local service=$1 crate=$2 port=$3 arn key pid task_env
  WORKLOAD_URL=""
  WORKLOAD_BASE_PATH=""
  [ -f "$ROOT/workloads/$crate/Cargo.toml" ] || return 0
  say "building $crate (log: $lg/$crate-build.log)"
  if ! cargo build -p "$crate" >"$LOGS/$crate-build.log" 2>&1 || [ ! -x "$BIN/$crate" ]; then
    say "warning: $crate did not build (log: $lg/$crate-build.log); /v1/services/$service will not reach it"
    return 0
  fi
  port_in_use "$port" && port=$(free_port)
  arn=$(sed -n "s/^IDENTITY_SECRET_ARNS=//p" "$LOCAL_DIR/env" | tr -d "'" | tr ',' '\n' | sed -n "s/^$service=//p")
  [ -n "$arn" ] || die "no identity secret for service $service in $LOCAL_DIR/env (IDENTITY_SECRET_ARNS); re-run make local"
  key=$("$VENV/bin/python" -c 'import boto3,sys; print(boto3.client("secretsmanager").get_secret_value(SecretId=sys.argv[1])["SecretString"])' \
    "$arn") ||
    die "cannot read service $service's identity-signing key from the emulator's Secrets Manager"
  task_env=$("$VENV/bin/python" - "$service" <<'PY'
import sys, boto3
service = sys.argv[1]
ecs = boto3.client("ecs")
families = [f for f in ecs.list_task_definition_families(status="ACTIVE")["families"] if f.endswith(f"-svc-{service}")]
if len(families) != 1:
    sys.exit(f"expected one ECS task definition family *-svc-{service} in the emulator, found {families or 'none'}")
container = ecs.describe_task_definition(taskDefinition=families[0])["taskDefinition"]["containerDefinitions"][0]
for var in container.get("environment", []):
    if var["name"] not in ("PORT", "BIND_ADDR") and "\n" not in var["value"]:
        print(f"{var['name']}={var['value']}")
PY
  ) || die "cannot read service $service's task definition from the emulator (above)"
  local -a vars
  mapfile -t vars <<<"$task_env"
  WORKLOAD_BASE_PATH=$(sed -n "s/^BASE_PATH=//p" <<<"$task_env")
  [ -n "$WORKLOAD_BASE_PATH" ] || die "service $service's task definition sets no BASE_PATH"
  IDENTITY_SECRET=$key \
    spawn "$crate (:$port)" "$LOGS/$crate.log" env "${vars[@]}" PORT="$port" BIND_ADDR=127.0.0.1 "$BIN/$crate"
  pid=$LAST_PID
  for _ in $(seq 1 50); do
    port_in_use "$port" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$LOGS/$crate.log" >&2 || true
    say "warning: $crate exited at start (log: $lg/$crate.log)"
    return 0
  fi
  WORKLOAD_URL=http://127.0.0.1:$port
}

# The sample service (integration lambda): the proxy function calls it.
start_workload sample sample-service "${SAMPLE_SERVICE_PORT:-3001}"
sample_url=${WORKLOAD_URL:+$WORKLOAD_URL$WORKLOAD_BASE_PATH}
# The proxy's upstream for a service: PROXY_UPSTREAM_<NAME> wins over the
# registry (in AWS: the internal ALB URL + the service's path_prefix, which
# the emulator's ALB does not route). The gateway passes PROXY_UPSTREAM_* to
# the proxy function only (local/src/deployed.rs: the local differences).
export PROXY_UPSTREAM_SAMPLE=${sample_url:-http://127.0.0.1:9/sample}

# The sample web application (integration vpc_link): API Gateway calls it
# over the VPC link through the internal ALB, with the stage in front of the
# path (/v1/web/...: AWS "Private integrations for REST APIs",
# Considerations), and the ALB's rule for /<stage>/web routes it there; the
# gateway's stand-in for that listener rule is PORTCULLIS_HTTP_UPSTREAMS
# keyed by the task's BASE_PATH (docs/local-gateway.md). Not running: the
# gateway answers 500, as API Gateway does when the link's target refuses
# the connection.
start_workload web sample-web "${SAMPLE_WEB_PORT:-3002}"
web_app_url=${WORKLOAD_URL:+$WORKLOAD_URL$WORKLOAD_BASE_PATH}
export PORTCULLIS_HTTP_UPSTREAMS=${WORKLOAD_BASE_PATH:-/v1/web}=${WORKLOAD_URL:-http://127.0.0.1:9}

spawn "local gateway (:$gateway_port)" "$LOGS/gateway.log" "$BIN/portcullis-local"
gateway_pid=$LAST_PID

# The functions' metrics: in AWS, CloudWatch Logs extracts the EMF records
# each function prints; here scripts/emf-shipper.py follows the logs they
# print to (the gateway runs authorizer, keys, jobs and proxy in-process; the
# reconciler runs on its own; create-admin-key made the demo key) from their
# start and publishes the records with PutMetricData to the emulator, as its
# administrator. Started after the
# gateway, which empties its log on start: nothing of an earlier run is
# shipped. It stops with the rest (and by itself should this script die).
metrics_note="not shipped (LOCAL_METRICS=0)"
if [ "${LOCAL_METRICS:-1}" != 0 ]; then
  spawn "EMF shipper" "$LOGS/metrics-shipper.log" "$VENV/bin/python" "$ROOT/scripts/emf-shipper.py" \
    --log "$LOGS/gateway.log" --log "$LOGS/reconciler.log" --log "$LOGS/create-admin-key.log" \
    --credentials-file "$LOCAL_DIR/admin-credentials" --status-file "$LOCAL_DIR/metrics-shipper.json" --stop-with $$
  metrics_note="EMF records of the functions' logs -> the emulator's CloudWatch (log: $lg/metrics-shipper.log); make metrics"
fi

base=http://127.0.0.1:$gateway_port
up=0
for _ in $(seq 1 150); do
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    tail -n 30 "$LOGS/gateway.log" >&2 || true
    die "the local gateway exited at start (log: $lg/gateway.log)"
  fi
  if http_ok "$base/v1/health"; then up=1; break; fi
  sleep 0.2
done
[ "$up" = 1 ] || say "warning: $base/v1/health did not answer 200 within 30 s (log: $lg/gateway.log)"

# A key for the sample services (scopes services:web and services:sample,
# the demo admin's tenant): made through POST /v1/keys with the demo admin
# key, as an operator would, and saved in .local/demo-service-key for the
# banner's sample web app commands.
service_key=""
if [ -n "$demo_key" ] && [ "$up" = 1 ]; then
  if service_key=$("$VENV/bin/python" - "$base" "$LOCAL_DIR/demo-api-key" <<'PY' 2>"$LOGS/demo-service-key.log"
import json, sys, urllib.error, urllib.request
base, admin_file = sys.argv[1], sys.argv[2]
with open(admin_file, encoding="utf-8") as f:
    admin = f.read().strip()
body = {"name": "make local demo service key", "scopes": ["services:web", "services:sample"]}
req = urllib.request.Request(base + "/v1/keys", method="POST", data=json.dumps(body).encode(),
                             headers={"x-api-key": admin, "content-type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=30) as r:
        print(json.load(r)["key"])
except urllib.error.HTTPError as e:
    sys.exit(f"POST /v1/keys answered {e.code}: {e.read().decode(errors='replace')}")
PY
  ); then
    (umask 077; printf '%s\n' "$service_key" >"$LOCAL_DIR/demo-service-key")
  else
    say "warning: could not create the demo service key (log: $lg/demo-service-key.log)"
    service_key=""
  fi
fi

# The web console on its own origin (http://localhost:5173, on the CORS
# allowlist of env/local.tfvars): every call it makes to the gateway is
# cross-origin, so the functions' CORS is what lets it work.
web_port=${WEB_PORT:-5173}
web_url=""
if [ "${LOCAL_WEB:-1}" = 0 ]; then
  say "web console not served (LOCAL_WEB=0)"
elif port_in_use "$web_port"; then
  say "warning: port $web_port is taken; the web console is not served (its origin must be http://localhost:5173 to be on the CORS allowlist)"
else
  spawn "web console (:$web_port)" "$LOGS/web.log" "$VENV/bin/python" "$ROOT/scripts/web-serve.py" \
    --port "$web_port" --api-url "http://localhost:$gateway_port" --local-dir "$LOCAL_DIR"
  web_url=http://localhost:$web_port
fi

# IAM is on: the emulator's default test credentials are refused, as AWS
# refuses an unknown key.
iam_note=$(AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "$VENV/bin/python" - <<'PY' 2>&1 || true
import boto3, re
from botocore.exceptions import ClientError
try:
    boto3.client("ecs").list_clusters()
    print("NOT ENFORCED: a request signed with AWS_ACCESS_KEY_ID=test was accepted")
except ClientError as err:
    found = re.search(r"<Code>([^<]+)</Code>", str(err))
    code = found.group(1) if found else err.response.get("Error", {}).get("Code")
    print(f"ecs:ListClusters signed with AWS_ACCESS_KEY_ID=test: HTTP {err.response['ResponseMetadata']['HTTPStatusCode']} {code}")
PY
)
say "IAM check: $iam_note"

# --- banner --------------------------------------------------------------------
cat >&2 <<EOF

  Portcullis is running locally.

    API (local gateway)   $base
    health                curl -s $base/v1/health
    AWS emulator (moto)   $AWS_ENDPOINT_URL    IAM enforced; administrator key in $ld/admin-credentials
    deployment            $ld/deployment.json (the REST API and functions Terraform applied)
    PostgreSQL            $(redact_url "$DATABASE_URL")
    web console           ${web_url:-not running}   (sign in with the Cognito demo login below)
    sample service        ${sample_url:-not running}   (lambda: /v1/services/sample/... through the proxy function)
    sample web app        $base/v1/services/web/home   (vpc_link; the service itself: ${web_app_url:-not running})
    reconciler            $reconciler_note
    metrics               $metrics_note
    ids, demo login       $ld/env   (source it and $ld/admin-credentials to use the emulator)
    logs                  $lg/

EOF
if [ -n "$demo_key" ]; then
  cat >&2 <<EOF
  Demo admin API key (scope keys:admin; also saved in $ld/demo-api-key):
    $demo_key
    curl -s -H "x-api-key: \$(cat $ldq/demo-api-key)" $base/v1/me

EOF
else
  echo "  Demo admin API key: not available (the keys tool create-admin-key is not built yet)" >&2
  echo >&2
fi
if [ -n "$service_key" ]; then
  cat >&2 <<EOF
  Sample web app (integration vpc_link: the gateway calls it over the emulated VPC link, no
  Lambda in the path). Key with services:web and services:sample: $ld/demo-service-key
    curl -s -o /dev/null -w '%{http_code}\n' $base/v1/services/web/home          # 200, public
    curl -s -o /dev/null -w '%{http_code}\n' $base/v1/services/web/notes         # 401, no credential
    curl -s -o /dev/null -w '%{http_code}\n' -H "x-api-key: \$(cat $ldq/demo-service-key)" -d text=hello $base/v1/services/web/notes   # 303
    curl -s -H "x-api-key: \$(cat $ldq/demo-service-key)" $base/v1/services/web/notes   # 200, the note and your tenant
    curl -s -o /dev/null -w '%{http_code} %{size_download}\n' -H "x-api-key: \$(cat $ldq/demo-service-key)" "$base/v1/services/web/download?bytes=10000000"   # 200 10000000
    curl -s -w '\n' -H "x-api-key: \$(cat $ldq/demo-service-key)" "$base/v1/services/sample/download?bytes=10000000"   # 502: the lambda proxy's limit

EOF
fi
cat >&2 <<EOF
  Cognito demo login (web console and scripts/token.sh): user $demo_user, groups tenant:platform and admins
    password: $(sed -n "s/^DEMO_PASSWORD=//p" "$LOCAL_DIR/env" | tr -d "'")   (also in $ld/env)
    scripts/token.sh                    # prints an access token; --id for an id token
    curl -s -H "Authorization: Bearer \$(scripts/token.sh)" $base/v1/me

  Ctrl-C stops everything started here.
EOF

if [ "${LOCAL_FOLLOW_LOGS:-1}" = 1 ] && [ -t 2 ]; then
  echo "  --- gateway log ($lg/gateway.log) ---" >&2
  tail -n 0 --pid="$gateway_pid" -F "$LOGS/gateway.log" >&2 2>/dev/null || true
fi
# Wait for the gateway; a signal interrupts the wait and runs the traps.
while kill -0 "$gateway_pid" 2>/dev/null; do
  sleep 1
done
status=0
wait "$gateway_pid" || status=$?
die "the local gateway stopped (exit $status; log: $lg/gateway.log)"
exit
}
