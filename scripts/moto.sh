#!/usr/bin/env bash
# Run the AWS emulator (scripts/moto-server.py: moto with IAM enforced) from
# the project venv in the foreground until Ctrl-C, on PORT or on a free port
# the OS picks. Prints the endpoint (AWS_ENDPOINT_URL=...) once IAM is
# enforced; the administrator's key is in .local/admin-credentials (source it
# to call the emulator: the default test key is refused).
#
#   scripts/moto.sh [PORT]
# The other scripts use the same functions (lib.sh: start_moto) directly.
set -euo pipefail
SCRIPT_NAME=moto
. "$(dirname "$0")/lib.sh"

ensure_venv
port=${1:-$(free_port)}
trap stop_tracked EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_moto "$port" "$LOCAL_DIR/logs/moto-$port.log"
echo "AWS_ENDPOINT_URL=$MOTO_ENDPOINT"
say "emulator running, IAM enforced (pid $MOTO_PID, log $LOCAL_DIR/logs/moto-$port.log, administrator key $MOTO_CREDENTIALS); Ctrl-C stops it"
wait "$MOTO_PID"
