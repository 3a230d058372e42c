#!/usr/bin/env bash
# Print a Cognito access token (or --id: an id token) for the demo user of
# `make local`, issued by the emulator's user pool. Reads .local/env, which
# scripts/demo.py writes, and signs AdminInitiateAuth with the emulator's
# administrator key (.local/admin-credentials; IAM is enforced).
#
#   curl -H "Authorization: Bearer $(scripts/token.sh)" localhost:3000/v1/me
#   scripts/token.sh --id            # id token instead
#   scripts/token.sh --user NAME --password PW
set -euo pipefail
SCRIPT_NAME=token
. "$(dirname "$0")/lib.sh"

env_file=${PORTCULLIS_LOCAL_ENV:-$LOCAL_DIR/env}
[ -f "$env_file" ] || die "$env_file not found: start the platform with 'make local' first"
# shellcheck disable=SC1090
set -a; . "$env_file"; set +a
[ -x "$VENV/bin/python" ] || die "no venv at $VENV: run scripts/ensure-venv.sh"

kind=AccessToken
user=${DEMO_USER:-}
password=${DEMO_PASSWORD:-}
while [ $# -gt 0 ]; do
  case "$1" in
  --id) kind=IdToken ;;
  --access) kind=AccessToken ;;
  --user) user=${2:?--user needs a value}; shift ;;
  --password) password=${2:?--password needs a value}; shift ;;
  -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (try --help)" ;;
  esac
  shift
done

load_admin_credentials "${PORTCULLIS_ADMIN_CREDENTIALS:-$LOCAL_DIR/admin-credentials}"
TOKEN_KIND=$kind TOKEN_USER=$user TOKEN_PASSWORD=$password "$VENV/bin/python" - <<'PY'
import os, sys
import boto3
from botocore.exceptions import BotoCoreError, ClientError

idp = boto3.client("cognito-idp", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                   region_name=os.environ.get("AWS_REGION", "us-east-1"))
try:
    out = idp.admin_initiate_auth(
        UserPoolId=os.environ["COGNITO_USER_POOL_ID"],
        ClientId=os.environ["COGNITO_CLIENT_ID"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": os.environ["TOKEN_USER"], "PASSWORD": os.environ["TOKEN_PASSWORD"]},
    )
except (ClientError, BotoCoreError) as err:
    sys.exit(f"token: the emulator refused the login: {err} (is `make local` running?)")
print(out["AuthenticationResult"][os.environ["TOKEN_KIND"]])
PY
