#!/usr/bin/env python3
"""Create the AWS resources `make local` needs in the emulator (moto server).

Run with the project venv's python (boto3 comes with moto):

    .venv/bin/python local/bootstrap.py --endpoint http://127.0.0.1:4566 \
        --env-file .local/env

Idempotent: every resource is looked up by name first and reused, so running
it twice against the same emulator gives the same ids. Writes KEY=VALUE lines
(shell-quoted, safe to `source`) to --env-file and prints them too, except the
secret values, which only go to the file (mode 0600).

Resources: a VPC with DNS hostnames on (ECS RunTask answers 500 without it),
two private subnets in two AZs, the job security group, the ECS cluster, one
Fargate task definition per job type in platform.yaml, the identity-signing
key in Secrets Manager, and Cognito (user pool with a `tenant` custom
attribute, resource server `portcullis` with its scopes, an app client for
admin password auth, an `admins` group, a demo user in it).
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import shlex
import string
import sys
from pathlib import Path

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - only without the venv
    sys.exit(
        "bootstrap: boto3 is missing; run this with the project venv's python "
        "(.venv/bin/python, created by scripts/ensure-venv.sh)"
    )

ROOT = Path(__file__).resolve().parent.parent
REGION_DEFAULT = "us-east-1"
DEFAULT_JOB_FAMILY = "portcullis-sample-job"
DEFAULT_JOB_CONTAINER = "sample-job"
RESOURCE_SERVER = "portcullis"
RESOURCE_SCOPES = {
    "jobs.read": "Read jobs",
    "jobs.write": "Submit and cancel jobs",
    "keys.admin": "Manage API keys",
    "services.sample": "Call the sample private service",
}


def log(msg: str) -> None:
    print(f"bootstrap: {msg}", file=sys.stderr)


def name_tag(name: str) -> list[dict]:
    return [{"Key": "Name", "Value": name}, {"Key": "project", "Value": "portcullis"}]


# --------------------------------------------------------------------------
# EC2: network for the job tasks
# --------------------------------------------------------------------------
def ensure_vpc(ec2, prefix: str) -> str:
    name = f"{prefix}-vpc"
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [name]}])["Vpcs"]
    if found:
        vpc_id = found[0]["VpcId"]
    else:
        vpc_id = ec2.create_vpc(
            CidrBlock="10.42.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": name_tag(name)}],
        )["Vpc"]["VpcId"]
        log(f"created VPC {vpc_id}")
    # Both attributes, every time (cheap, and repairs a half-made VPC):
    # RunTask with awsvpc networking answers 500 without DNS hostnames.
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def ensure_subnets(ec2, prefix: str, vpc_id: str) -> list[str]:
    zones = [
        z["ZoneName"]
        for z in ec2.describe_availability_zones()["AvailabilityZones"]
        if z.get("State", "available") == "available"
    ]
    zones = sorted(zones)[:2]
    if len(zones) < 2:
        raise SystemExit("bootstrap: the emulator reports fewer than two availability zones")
    subnet_ids = []
    for index, zone in enumerate(zones):
        name = f"{prefix}-private-{zone[-1]}"
        found = ec2.describe_subnets(
            Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]},
                {"Name": "tag:Name", "Values": [name]},
            ]
        )["Subnets"]
        if found:
            subnet_ids.append(found[0]["SubnetId"])
            continue
        subnet = ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=f"10.42.{index + 1}.0/24",
            AvailabilityZone=zone,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": name_tag(name)}],
        )["Subnet"]
        # Private: no public IPs, whatever a task asks for.
        ec2.modify_subnet_attribute(
            SubnetId=subnet["SubnetId"], MapPublicIpOnLaunch={"Value": False}
        )
        subnet_ids.append(subnet["SubnetId"])
        log(f"created subnet {subnet['SubnetId']} in {zone}")
    return subnet_ids


def ensure_security_group(ec2, prefix: str, vpc_id: str) -> str:
    name = f"{prefix}-jobs"
    found = ec2.describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": [name]},
        ]
    )["SecurityGroups"]
    if found:
        return found[0]["GroupId"]
    group_id = ec2.create_security_group(
        GroupName=name,
        Description="Portcullis job tasks: no inbound traffic, outbound only",
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": name_tag(name)}],
    )["GroupId"]
    log(f"created security group {group_id}")
    return group_id


# --------------------------------------------------------------------------
# ECS: cluster and task definitions for the job registry
# --------------------------------------------------------------------------
def job_types(platform_file: Path) -> list[dict]:
    """(family, container) of every job type in platform.yaml's `jobs:` section.

    The registry is a map of job type name -> settings. The family and the
    container name are read from the first of several spellings, so this keeps
    working while the schema settles; a job without them gets names derived
    from its key.
    """
    try:
        import yaml
    except ImportError:
        log("PyYAML not available; registering only the default job family")
        return []
    if not platform_file.exists():
        log(f"{platform_file} not found; registering only the default job family")
        return []
    try:
        doc = yaml.safe_load(platform_file.read_text()) or {}
    except yaml.YAMLError as err:
        raise SystemExit(f"bootstrap: {platform_file} is not valid YAML: {err}") from err
    jobs = doc.get("jobs") or {}
    if isinstance(jobs, list):  # a list of {name: ..., ...} is accepted too
        jobs = {str(j.get("name", f"job-{i}")): j for i, j in enumerate(jobs) if isinstance(j, dict)}
    if not isinstance(jobs, dict):
        raise SystemExit(f"bootstrap: {platform_file}: `jobs` must be a map of job types")
    out = []
    for key, spec in jobs.items():
        spec = spec if isinstance(spec, dict) else {}
        task = spec.get("task") if isinstance(spec.get("task"), dict) else {}
        family = (
            spec.get("task_definition")
            or spec.get("task_definition_family")
            or spec.get("family")
            or task.get("family")
            or task.get("task_definition")
            or f"portcullis-{key}"
        )
        container = (
            spec.get("container")
            or spec.get("container_name")
            or task.get("container")
            or task.get("container_name")
            or str(key)
        )
        if isinstance(container, dict):
            container = container.get("name") or str(key)
        image = spec.get("image") or task.get("image") or f"portcullis/{key}:local"
        overrides = spec.get("overrides") if isinstance(spec.get("overrides"), dict) else {}

        def size(key, default):
            value = spec.get(key) or task.get(key) or overrides.get(key) or default
            if isinstance(value, dict):  # {min, max} bounds: the task runs with the minimum
                value = value.get("min") or default
            return str(value)

        cpu = size("cpu", 256)
        memory = size("memory", 512)
        if not cpu.isdigit():
            cpu = "256"
        if not memory.isdigit():
            memory = "512"
        out.append(
            {"type": str(key), "family": str(family), "container": str(container),
             "image": str(image), "cpu": cpu, "memory": memory}
        )
    return out


def ensure_cluster(ecs, name: str) -> str:
    found = ecs.describe_clusters(clusters=[name]).get("clusters", [])
    active = [c for c in found if c.get("status") == "ACTIVE"]
    if active:
        return active[0]["clusterArn"]
    arn = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    log(f"created ECS cluster {name}")
    return arn


def ensure_task_definition(ecs, job: dict, account: str) -> str:
    try:
        current = ecs.describe_task_definition(taskDefinition=job["family"])["taskDefinition"]
        if current.get("status", "ACTIVE") == "ACTIVE":
            return current["taskDefinitionArn"]
    except ClientError:
        pass  # not registered yet
    role = f"arn:aws:iam::{account}:role/portcullis-local-task-execution"
    arn = ecs.register_task_definition(
        family=job["family"],
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu=job["cpu"],
        memory=job["memory"],
        executionRoleArn=role,
        taskRoleArn=role,
        containerDefinitions=[
            {
                "name": job["container"],
                "image": job["image"],
                # moto answers RunTask with 500 without container-level sizes.
                "cpu": int(job["cpu"]),
                "memory": int(job["memory"]),
                "essential": True,
                "environment": [{"name": "PORTCULLIS_JOB_TYPE", "value": job["type"]}],
            }
        ],
        tags=[{"key": "project", "value": "portcullis"}],
    )["taskDefinition"]["taskDefinitionArn"]
    log(f"registered task definition {arn}")
    return arn


# --------------------------------------------------------------------------
# Secrets Manager: the proxy's identity-signing key
# --------------------------------------------------------------------------
def ensure_identity_secret(sm, prefix: str) -> tuple[str, str]:
    name = f"{prefix}/identity-signing-key"
    try:
        desc = sm.describe_secret(SecretId=name)
        value = sm.get_secret_value(SecretId=name)["SecretString"]
        return desc["ARN"], value
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    value = base64.b64encode(secrets.token_bytes(32)).decode()
    arn = sm.create_secret(
        Name=name,
        Description="HMAC key the proxy signs identity headers with (base64 of 32 random bytes)",
        SecretString=value,
        Tags=[{"Key": "project", "Value": "portcullis"}],
    )["ARN"]
    log(f"created secret {name}")
    return arn, value


# --------------------------------------------------------------------------
# Cognito
# --------------------------------------------------------------------------
def find_user_pool(idp, name: str) -> str | None:
    for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                return pool["Id"]
    return None


def ensure_user_pool(idp, prefix: str) -> str:
    name = f"{prefix}-users"
    pool_id = find_user_pool(idp, name)
    if pool_id:
        return pool_id
    pool_id = idp.create_user_pool(
        PoolName=name,
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
        Schema=[
            {
                "Name": "tenant",
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
            }
        ],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        UserPoolTags={"project": "portcullis"},
    )["UserPool"]["Id"]
    log(f"created user pool {pool_id}")
    return pool_id


def ensure_resource_server(idp, pool_id: str) -> None:
    scopes = [{"ScopeName": k, "ScopeDescription": v} for k, v in RESOURCE_SCOPES.items()]
    try:
        current = idp.describe_resource_server(UserPoolId=pool_id, Identifier=RESOURCE_SERVER)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        idp.create_resource_server(
            UserPoolId=pool_id, Identifier=RESOURCE_SERVER, Name="Portcullis API", Scopes=scopes
        )
        log(f"created resource server {RESOURCE_SERVER}")
        return
    have = {s["ScopeName"] for s in current["ResourceServer"].get("Scopes", [])}
    if have != set(RESOURCE_SCOPES):
        idp.update_resource_server(
            UserPoolId=pool_id, Identifier=RESOURCE_SERVER, Name="Portcullis API", Scopes=scopes
        )
        log(f"updated the scopes of resource server {RESOURCE_SERVER}")


def ensure_app_client(idp, pool_id: str, prefix: str) -> str:
    name = f"{prefix}-web"
    for page in idp.get_paginator("list_user_pool_clients").paginate(
        UserPoolId=pool_id, MaxResults=60
    ):
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                return client["ClientId"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        GenerateSecret=False,
        ExplicitAuthFlows=[
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
        SupportedIdentityProviders=["COGNITO"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"]
        + [f"{RESOURCE_SERVER}/{s}" for s in RESOURCE_SCOPES],
        CallbackURLs=["http://localhost:3000/callback"],
        ReadAttributes=["email", "custom:tenant"],
    )["UserPoolClient"]["ClientId"]
    log(f"created app client {client_id}")
    return client_id


def demo_password() -> str:
    # Meets the pool policy: >= 12 chars, upper, lower, digit.
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(16))
    return f"Demo-{body}-9aZ"


def ensure_demo_user(idp, pool_id: str, user: str, password: str, tenant: str) -> None:
    attrs = [
        {"Name": "email", "Value": f"{user}@example.com"},
        {"Name": "email_verified", "Value": "true"},
        {"Name": "custom:tenant", "Value": tenant},
    ]
    try:
        idp.admin_get_user(UserPoolId=pool_id, Username=user)
        idp.admin_update_user_attributes(UserPoolId=pool_id, Username=user, UserAttributes=attrs)
    except ClientError:
        idp.admin_create_user(
            UserPoolId=pool_id,
            Username=user,
            UserAttributes=attrs,
            MessageAction="SUPPRESS",
        )
        log(f"created user {user}")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=user, Password=password, Permanent=True
    )
    try:
        idp.get_group(UserPoolId=pool_id, GroupName="admins")
    except ClientError:
        idp.create_group(
            UserPoolId=pool_id, GroupName="admins", Description="Portcullis administrators"
        )
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName="admins")


# --------------------------------------------------------------------------
def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        values[key.strip()] = parts[0] if parts else ""
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    lines = [
        "# Written by local/bootstrap.py for `make local`: ids of the resources it",
        "# created in the AWS emulator. Local development values only.",
    ]
    lines += [f"{k}={shlex.quote(v)}" for k, v in values.items()]
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


SECRET_KEYS = {"DEMO_PASSWORD", "IDENTITY_SIGNING_KEY"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="emulator URL (default: $AWS_ENDPOINT_URL)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", REGION_DEFAULT))
    parser.add_argument("--prefix", default="portcullis-local",
                        help="name prefix of every resource (default: portcullis-local)")
    parser.add_argument("--cluster", default=None,
                        help="ECS cluster name (default: the prefix)")
    parser.add_argument("--platform-file", default=str(ROOT / "platform.yaml"))
    parser.add_argument("--env-file", default=str(ROOT / ".local" / "env"))
    parser.add_argument("--demo-user", default="demo")
    parser.add_argument("--demo-tenant", default="demo")
    args = parser.parse_args()

    if not args.endpoint:
        parser.error("no emulator endpoint: pass --endpoint or set AWS_ENDPOINT_URL "
                     "(this script only talks to a local emulator)")
    # Dummy credentials unless the caller set some: the emulator accepts any.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    session = boto3.session.Session(region_name=args.region)
    cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)

    def client(name):
        return session.client(name, endpoint_url=args.endpoint, config=cfg)

    env_path = Path(args.env_file)
    previous = read_env_file(env_path)
    try:
        ec2, ecs, sm, idp, sts = (client(n) for n in ("ec2", "ecs", "secretsmanager", "cognito-idp", "sts"))
        account = sts.get_caller_identity()["Account"]
        vpc_id = ensure_vpc(ec2, args.prefix)
        subnets = ensure_subnets(ec2, args.prefix, vpc_id)
        sg = ensure_security_group(ec2, args.prefix, vpc_id)
        cluster = args.cluster or args.prefix
        ensure_cluster(ecs, cluster)
        jobs = job_types(Path(args.platform_file)) or [
            {"type": "sample", "family": DEFAULT_JOB_FAMILY, "container": DEFAULT_JOB_CONTAINER,
             "image": "portcullis/sample-job:local", "cpu": "256", "memory": "512"}
        ]
        task_defs = [ensure_task_definition(ecs, job, account) for job in jobs]
        secret_arn, signing_key = ensure_identity_secret(sm, args.prefix)
        pool_id = ensure_user_pool(idp, args.prefix)
        ensure_resource_server(idp, pool_id)
        client_id = ensure_app_client(idp, pool_id, args.prefix)
        password = previous.get("DEMO_PASSWORD") if previous.get("COGNITO_USER_POOL_ID") == pool_id else None
        password = password or demo_password()
        ensure_demo_user(idp, pool_id, args.demo_user, password, args.demo_tenant)
    except (ClientError, BotoCoreError) as err:
        log(f"the emulator at {args.endpoint} refused a call: {err}")
        log("is it a moto server (scripts/moto.sh) and reachable?")
        return 1

    endpoint = args.endpoint.rstrip("/")
    values = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": args.region,
        "ECS_CLUSTER": cluster,
        "JOB_SUBNETS": ",".join(subnets),
        "JOB_SECURITY_GROUPS": sg,
        "JOB_TASK_DEFINITIONS": ",".join(task_defs),
        "IDENTITY_SECRET_ARN": secret_arn,
        "IDENTITY_SIGNING_KEY": signing_key,
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_CLIENT_ID": client_id,
        "COGNITO_ISSUER": f"https://cognito-idp.{args.region}.amazonaws.com/{pool_id}",
        "COGNITO_JWKS_URL": f"{endpoint}/{pool_id}/.well-known/jwks.json",
        "COGNITO_RESOURCE_SERVER": RESOURCE_SERVER,
        "DEMO_USER": args.demo_user,
        "DEMO_PASSWORD": password,
        "DEMO_TENANT": args.demo_tenant,
    }
    write_env_file(env_path, values)
    for key, value in values.items():
        shown = "(in " + str(env_path) + ")" if key in SECRET_KEYS else value
        print(f"{key}={shown}")
    log(f"wrote {env_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
