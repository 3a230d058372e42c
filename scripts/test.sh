#!/usr/bin/env bash
# `make test`: start what the test suite needs, run it, stop everything.
#
#   scripts/test.sh [cargo test args...]     (default: --workspace)
#
# Starts and exports:
#   DATABASE_URL            PostgreSQL whose user may create databases (each
#                           #[sqlx::test] gets its own database)
#   AWS_ENDPOINT_URL        the AWS emulator with IAM enforced (scripts/moto-server.py)
#                           on a free port, stopped afterwards
#   AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
#                           its administrator's key (the crates' own emulator tests
#                           run as the administrator; the default test key is refused)
#   PORTCULLIS_DEPLOYMENT   .local/test/deployment.json: terraform/ applied to that
#                           emulator with env/local.tfvars (scripts/tf-local.sh), which
#                           the end-to-end suite serves, each function on its own role
#   PORTCULLIS_PG_AUTH_URL  a throwaway cluster that enforces passwords
#                           (.local/pg-auth, for password-rotation tests)
# The apply runs while cargo builds the tests. Then `cargo test` and, for the
# whole suite, the authorizer's lean build and the offline Terraform checks
# (scripts/terraform-check.sh) and the cold-start harness on debug builds
# (make bench-coldstart COLDSTART_PROFILE=debug; also with
# PORTCULLIS_COLDSTART_CHECK=1). Works without a terminal (CI=true, no stdin).
set -euo pipefail
SCRIPT_NAME=test
. "$(dirname "$0")/lib.sh"
# The body is one block: bash parses it whole before running it, so editing
# this file while it runs cannot change what the running copy does.
{
cd "$ROOT"

trap 'trap "" PIPE; stop_tracked' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$LOCAL_DIR/logs"

need_terraform
say "preparing the Python venv (moto server)"
ensure_venv

ensure_postgres 1
export DATABASE_URL
say "PostgreSQL: $(redact_url "$DATABASE_URL") ($PG_SOURCE)"

moto_port=$(free_port)
export AWS_REGION=us-east-1
test_home=$LOCAL_DIR/test
mkdir -p "$test_home"
start_moto "$moto_port" "$LOCAL_DIR/logs/test-moto.log" "$test_home/admin-credentials"
say "AWS emulator: $AWS_ENDPOINT_URL, IAM enforced (pid $MOTO_PID, log .local/logs/test-moto.log)"

# terraform apply to the emulator, while cargo builds the tests: for the
# whole suite, or when the arguments name the end-to-end crate (e2e), the
# only one that serves the deployment.
apply_pid=""
if [ $# -eq 0 ] || [[ " $* " == *" e2e "* ]] || [[ " $* " == *"-p e2e"* ]]; then
  say "applying terraform/ to the emulator in the background (log: .local/test/tf-local.log)"
  (
    export TF_LOCAL_HOME=$test_home TF_LOCAL_CREDENTIALS=$test_home/admin-credentials
    bash "$ROOT/scripts/tf-local.sh" apply && bash "$ROOT/scripts/tf-local.sh" deployment
  ) >"$test_home/tf-local.log" 2>&1 &
  apply_pid=$!
  on_stop "kill $apply_pid 2>/dev/null || true"
  export PORTCULLIS_DEPLOYMENT=$test_home/deployment.json
fi

# The password-enforcing cluster starts fresh every run (initdb takes ~1 s):
# roles and passwords left by an earlier run cannot leak into this one.
pg_auth_dir=$(pg_state_dir pg-auth)
bash "$ROOT/scripts/pg-auth-cluster.sh" stop "$pg_auth_dir" >/dev/null 2>&1 || true
rm -rf "$pg_auth_dir"
pg_auth_port=$(free_port)
if PORTCULLIS_PG_AUTH_URL=$(bash "$ROOT/scripts/pg-auth-cluster.sh" start "$pg_auth_dir" "$pg_auth_port"); then
  export PORTCULLIS_PG_AUTH_URL
  on_stop "bash '$ROOT/scripts/pg-auth-cluster.sh' stop '$pg_auth_dir'; say 'stopped the password-enforcing cluster'"
  say "password-enforcing PostgreSQL: $PORTCULLIS_PG_AUTH_URL ($pg_auth_dir)"
else
  say "warning: could not start the password-enforcing cluster; tests that need PORTCULLIS_PG_AUTH_URL will fail and say so"
fi


args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--workspace --no-fail-fast)
say "building the tests: cargo test --no-run ${args[*]}"
cargo test --no-run "${args[@]}" || die "the tests do not build (above)"
if [ -n "$apply_pid" ]; then
  apply_status=0
  wait "$apply_pid" || apply_status=$?
  cat "$test_home/tf-local.log" >&2
  [ "$apply_status" = 0 ] || die "terraform apply to the emulator failed (above; logs in .local/test/logs/)"
fi
say "running: cargo test ${args[*]}"
status=0
cargo test "${args[@]}" || status=$?
if [ "$status" != 0 ]; then
  say "cargo test failed (exit $status)"
  exit "$status"
fi

if [ $# -eq 0 ]; then
  # A workspace build unifies cargo features, so the authorizer above was
  # linked with Secrets Manager support that its own build leaves out. Run its
  # tests once more on their own (the lean build Lambda gets), and check its
  # dependency tree holds no AWS SDK client.
  say "running: cargo test -p authorizer (its own lean build)"
  PORTCULLIS_LEAN_AUTHORIZER=1 cargo test -p authorizer || { say "the authorizer's lean build failed its tests"; exit 1; }
  lean=$(cargo tree -p authorizer -e normal --prefix none | sed 's/ .*//' | sort -u)
  if grep -qE '^(aws-config|aws-sdk-[a-z0-9]+|aws-smithy-http-client)$' <<<"$lean"; then
    grep -E '^aws' <<<"$lean" >&2
    say "the authorizer links an AWS SDK client or aws-config (above); it must stay lean (docs/database.md)"
    exit 1
  fi
  say "authorizer AWS crates: $(grep -E '^aws' <<<"$lean" | tr '\n' ' ')"
fi

if [ $# -eq 0 ] || [ "${PORTCULLIS_COLDSTART_CHECK:-0}" = 1 ]; then
  # The cold-start benchmark on debug builds, one spawn of each function with
  # and without injected latency, against this run's emulator: a documented
  # benchmark that no longer runs fails here, not in front of a reader.
  say "running: make bench-coldstart COLDSTART_PROFILE=debug (one spawn each, every one must answer)"
  make --no-print-directory bench-coldstart COLDSTART_PROFILE=debug COLDSTART_RUNS=1 COLDSTART_CHECK=1 \
    COLDSTART_AWS_ENDPOINT="$AWS_ENDPOINT_URL" COLDSTART_OUT="$test_home/coldstart.md" \
    || { say "the cold-start harness failed (above): make bench-coldstart COLDSTART_PROFILE=debug"; exit 1; }
fi

if [ -f "$ROOT/scripts/terraform-check.sh" ] && [ $# -eq 0 ]; then
  say "running the offline Terraform checks (scripts/terraform-check.sh)"
  bash "$ROOT/scripts/terraform-check.sh"
fi
if [ $# -eq 0 ] && [ "${PORTCULLIS_BROWSER_STAGE:-1}" = 1 ]; then
  # The web console in a real browser against the platform on the test
  # deployment: scripts/local.sh serves the emulator and deployment above
  # (PORTCULLIS_LOCAL_REUSE=1) on free ports, scripts/browser-test.sh serves
  # the console on its allowlisted origin and drives Debian's chromium.
  ensure_chromium
  browser_port=$(free_port)
  say "browser tests: the platform on :$browser_port (log: .local/test/logs/local.log)"
  mkdir -p "$test_home/logs"
  PORTCULLIS_LOCAL_DIR=$test_home PORTCULLIS_LOCAL_REUSE=1 PORTCULLIS_LOCAL_PORT=$browser_port \
    SAMPLE_SERVICE_PORT=$(free_port) SAMPLE_WEB_PORT=$(free_port) PORTCULLIS_LOCAL_DB=portcullis_browser LOCAL_WEB=0 LOCAL_FOLLOW_LOGS=0 \
    spawn "the platform for the browser tests (:$browser_port)" "$test_home/logs/local.log" bash "$ROOT/scripts/local.sh"
  platform_pid=$LAST_PID
  up=0
  for _ in $(seq 1 600); do
    kill -0 "$platform_pid" 2>/dev/null || break
    if http_ok "http://127.0.0.1:$browser_port/v1/health"; then up=1; break; fi
    sleep 0.5
  done
  if [ "$up" != 1 ]; then
    tail -n 40 "$test_home/logs/local.log" >&2 || true
    die "the platform for the browser tests did not start (log: .local/test/logs/local.log)"
  fi
  stage_failed=()
  PORTCULLIS_LOCAL_DIR=$test_home PORTCULLIS_API_URL=http://localhost:$browser_port PORTCULLIS_BROWSER_TESTS=1 \
    bash "$ROOT/scripts/browser-test.sh" -q || stage_failed+=("the browser tests")
  # Against the same platform: the acceptance suite (tests/smoke: its own
  # tenants and keys; the demo admin key, Cognito demo login and emulator
  # administrator from $test_home), then the docs' command blocks
  # (scripts/docs-run.py: README, operations, keys, jobs).
  say "smoke suite: unit tests, then tests/smoke against :$browser_port"
  python3 -m unittest discover -s "$ROOT/tests/smoke" -p 'test_*.py' || stage_failed+=("the smoke suite's unit tests")
  python3 "$ROOT/scripts/smoke.py" --base-url "http://127.0.0.1:$browser_port" --local-dir "$test_home" ||
    stage_failed+=("the smoke suite")
  say "docs' command blocks against :$browser_port (scripts/docs-run.py)"
  python3 "$ROOT/scripts/docs-run.py" --base-url "http://127.0.0.1:$browser_port" --local-dir "$test_home" ||
    stage_failed+=("the docs' command blocks")
  if [ ${#stage_failed[@]} -gt 0 ]; then
    say "failed against the platform: $(IFS=,; echo "${stage_failed[*]}" | sed 's/,/, /g') (above; platform log: .local/test/logs/local.log)"
    exit 1
  fi
fi
say "all tests passed"
exit
}
