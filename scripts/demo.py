#!/usr/bin/env python3
"""The demo user of `make local`, made the way an operator makes one.

Terraform creates every resource (scripts/tf-local.sh applies terraform/ to
the emulator); this script creates none. It does what an operator does after
`terraform apply` with the AWS CLI, signed with the emulator's administrator
key (exported by scripts/lib.sh start_moto):

    aws cognito-idp admin-create-user       --user-pool-id ... --username demo@example.com
    aws cognito-idp admin-set-user-password --permanent ...
    aws cognito-idp admin-add-user-to-group --group-name tenant:platform ...
    aws cognito-idp admin-add-user-to-group --group-name admins ...

The demo user is a platform administrator: its tenant is its one `tenant:`
group (`tenant:platform`, which Terraform creates), and `admins` grants it
keys:admin (docs/auth.md#tenancy). It is taken out of any other `tenant:`
group, since a user in two tenants is refused.

Run with the project venv's python:

    .venv/bin/python scripts/demo.py --outputs .local/terraform-local-outputs.json \
        --env-file .local/env

Idempotent: an existing demo user keeps its password (read back from
--env-file when the pool is the same). Writes KEY=VALUE lines (shell-quoted,
mode 0600) to --env-file for scripts/token.sh and for you: the pool, its web
client, the issuer, the demo login.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import string
import sys
from pathlib import Path

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - only without the venv
    sys.exit("demo: boto3 is missing; run this with the project venv's python (.venv/bin/python)")

# The env-file format has one home: scripts/envfile.py, next to this script.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from envfile import read_env_file, write_env_file  # noqa: E402

ENV_FILE_HEADER = "Written by scripts/demo.py for `make local`: the demo login and the pool it is in."


def log(msg: str) -> None:
    print(f"demo: {msg}", file=sys.stderr)


def new_password() -> str:
    # Cognito's default policy: upper, lower, digit, symbol, length >= 8.
    alphabet = string.ascii_letters + string.digits
    return "Demo-" + "".join(secrets.choice(alphabet) for _ in range(20)) + "9a"


def main() -> int:
    parser = argparse.ArgumentParser(description="The demo user of make local (Cognito, via the admin API).")
    parser.add_argument("--outputs", required=True, help="terraform output -json of the local environment")
    parser.add_argument("--env-file", required=True, type=Path)
    # The pool signs users in by email (username_attributes = ["email"]).
    parser.add_argument("--user", default="demo@example.com")
    parser.add_argument("--group", default="admins", help="role group (scopes: COGNITO_GROUP_SCOPES)")
    parser.add_argument("--tenant", default="platform", help="tenant: the user joins the group tenant:<tenant>")
    args = parser.parse_args()
    tenant_group = f"tenant:{args.tenant}"

    try:
        out = {k: v["value"] for k, v in json.load(open(args.outputs)).items()}
    except (OSError, ValueError, KeyError) as err:
        log(f"cannot read the Terraform outputs {args.outputs}: {err}; run scripts/tf-local.sh apply first")
        return 1
    pool_id = out["cognito_user_pool_id"]
    client_id = out["cognito_web_client_id"]
    try:
        previous = read_env_file(args.env_file)
    except (OSError, ValueError) as err:
        log(f"cannot read the previous login in {args.env_file}: {err}; fix or delete that file")
        return 1
    # The pool's region, from Terraform: AWS_REGION need not be set.
    idp = boto3.client("cognito-idp", region_name=out["region"])
    try:
        try:
            idp.admin_get_user(UserPoolId=pool_id, Username=args.user)
            exists = True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "UserNotFoundException":
                raise
            exists = False
        password = previous.get("DEMO_PASSWORD") if previous.get("COGNITO_USER_POOL_ID") == pool_id else None
        if not exists:
            idp.admin_create_user(
                UserPoolId=pool_id,
                Username=args.user,
                MessageAction="SUPPRESS",
                UserAttributes=[{"Name": "email", "Value": args.user},
                                {"Name": "email_verified", "Value": "true"}],
            )
            log(f"created user {args.user} in pool {pool_id}")
        if not exists or not password:
            password = new_password()
            idp.admin_set_user_password(UserPoolId=pool_id, Username=args.user, Password=password, Permanent=True)
        # Exactly one tenant group: leave any other before joining this one.
        pages = idp.get_paginator("admin_list_groups_for_user").paginate(UserPoolId=pool_id, Username=args.user)
        for page in pages:
            for group in page.get("Groups", []):
                name = group.get("GroupName", "")
                if name.startswith("tenant:") and name != tenant_group:
                    idp.admin_remove_user_from_group(UserPoolId=pool_id, Username=args.user, GroupName=name)
                    log(f"removed {args.user} from {name} (a user belongs to one tenant)")
        for group in (tenant_group, args.group):
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=args.user, GroupName=group)
    except (ClientError, BotoCoreError) as err:
        log(f"the emulator refused: {err}")
        return 1

    write_env_file(args.env_file, header=ENV_FILE_HEADER, values={
        "AWS_ENDPOINT_URL": os.environ.get("AWS_ENDPOINT_URL", ""),
        "AWS_REGION": out["region"],
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_CLIENT_ID": client_id,
        "COGNITO_ISSUER": out["cognito_issuer"],
        "ECS_CLUSTER": out["ecs_cluster_arn"],
        # Each service's own identity-key secret: <service>=<ARN>,... (scripts/local.sh
        # reads the sample service's).
        "IDENTITY_SECRET_ARNS": ",".join(f"{s}={arn}" for s, arn in sorted(out["identity_secret_arns"].items())),
        "DEMO_USER": args.user,
        "DEMO_GROUP": args.group,
        "DEMO_TENANT": args.tenant,
        "DEMO_PASSWORD": password,
    })
    log(f"demo user {args.user} (groups {tenant_group}, {args.group}) ready; login in {args.env_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
