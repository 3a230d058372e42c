"""The Terraform side of the security review's low findings: no TRACE log level (the
Lambda runtime would log raw events with credentials), source conditions on
every service-principal trust policy, no hard-coded `arn:aws:` partition.

The log level's validation is evaluated with the real Terraform binary,
offline (skipped, with the reason, when no `terraform` is on PATH)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, TF, module_of, strip_quotes, val
from common import tf_files

TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")


def block_text(path, header: str) -> str:
    """The text of the top-level block that starts with `header` in `path`."""
    text = path.read_text(encoding="utf-8")
    start = text.index(header)
    depth = 0
    for i in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError(f"unbalanced block {header} in {path}")


def run_terraform(workdir, *args):
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    return subprocess.run([TERRAFORM, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=120, check=False)


# --- log level ---------------------------------------------------------------

LOG_LEVEL_VARIABLES = [TF / "variables.tf", TF / "modules" / "functions" / "variables.tf"]


@needs_terraform
@pytest.mark.parametrize("path", LOG_LEVEL_VARIABLES, ids=lambda p: str(p.relative_to(TF)))
def test_log_level_trace_is_refused_with_the_reason(tmp_path, path):
    """At TRACE lambda_runtime logs every raw event (keys, tokens, bodies)."""
    (tmp_path / "main.tf").write_text(block_text(path, 'variable "log_level"') + '\noutput "level" { value = var.log_level }\n')
    r = run_terraform(tmp_path, "init", "-backend=false", "-input=false", "-no-color")
    assert r.returncode == 0, r.stdout + r.stderr
    for level in ("DEBUG", "INFO", "WARN", "ERROR"):
        r = run_terraform(tmp_path, "apply", "-auto-approve", "-input=false", "-no-color", f"-var=log_level={level}")
        assert r.returncode == 0, f"{level}: {r.stdout}{r.stderr}"
    for level in ("TRACE", "trace", "VERBOSE"):
        r = run_terraform(tmp_path, "apply", "-auto-approve", "-input=false", "-no-color", f"-var=log_level={level}")
        assert r.returncode != 0, f"{path}: log_level={level} was accepted"
        message = " ".join(r.stderr.split())
        assert "TRACE is refused" in message and "raw event" in message, message


def test_no_environment_sets_trace():
    for tfvars in sorted((TF / "env").glob("*.tfvars")):
        m = re.search(r'^\s*log_level\s*=\s*"([^"]*)"', tfvars.read_text(encoding="utf-8"), re.M)
        assert m is None or m.group(1).upper() != "TRACE", f"{tfvars.name}: log_level TRACE"


# --- database TLS --------------------------------------------------------------


def test_every_database_connection_verifies_the_server_certificate():
    """DB_SSL_MODE is verify-full wherever Terraform sets it (portcullis-db
    trusts the RDS CA bundle it is built with); no sslmode in a URL."""
    seen = 0
    for path in tf_files(TF):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'\bDB_SSL_MODE\s*=\s*"([^"]*)"', text):
            seen += 1
            assert m.group(1) == "verify-full", f"{path.relative_to(TF)}: DB_SSL_MODE = {m.group(1)}"
        assert "DB_SSL_ROOT_CERT" not in text or "verify-full" in text, path
        assert not re.search(r"sslmode=(disable|allow|prefer|require)\b", text), f"{path.relative_to(TF)}: unverified sslmode"
    assert seen >= 2, "expected DB_SSL_MODE in the functions' database environment"


# --- service-principal trust policies ------------------------------------------

# Roles AWS services assume, by service principal: the conditions the service
# documents for confused-deputy prevention (aws:SourceArn beside
# aws:SourceAccount where the service names the resource it acts for).
TRUST_CONDITIONS = {
    "lambda.amazonaws.com": {"aws:SourceAccount"},
    "ecs-tasks.amazonaws.com": {"aws:SourceAccount", "aws:SourceArn"},
    "scheduler.amazonaws.com": {"aws:SourceAccount", "aws:SourceArn"},
    "vpc-flow-logs.amazonaws.com": {"aws:SourceAccount", "aws:SourceArn"},
    "monitoring.rds.amazonaws.com": {"aws:SourceAccount", "aws:SourceArn"},
}
# Service principals whose role trust documents no source condition: a
# condition the service does not send would break the role.
NO_DOCUMENTED_CONDITION = {
    "rds.amazonaws.com": "RDS Proxy's secrets role (the proxy role trust AWS documents has none)",
    "apigateway.amazonaws.com": "the account-wide API Gateway CloudWatch Logs role (documented without one)",
}


def trust_statements(all_blocks):
    for b in all_blocks:
        if b.kind != "data" or b.type != "aws_iam_policy_document":
            continue
        for st in b.body.get("statement", []) + [c for d in b.body.get("dynamic", []) for spec in d.values() for c in spec.get("content", [])]:
            if "sts:AssumeRole" not in str(val(st, "actions", [])):
                continue
            for p in st.get("principals", []):
                if strip_quotes(str(val(p, "type"))) == "Service":
                    ids = val(p, "identifiers", [])
                    for service in ids if isinstance(ids, list) else [ids]:
                        yield b, st, strip_quotes(str(service))


def conditions(st) -> dict[str, str]:
    return {strip_quotes(str(val(c, "variable"))): str(val(c, "values")) for c in st.get("condition", [])}


def test_every_service_role_trust_names_the_source_account_and_resource(all_blocks):
    seen = set()
    for b, st, service in trust_statements(all_blocks):
        seen.add(service)
        where = f"{b.path.relative_to(TF)} {b.address}"
        if service in NO_DOCUMENTED_CONDITION:
            continue
        assert service in TRUST_CONDITIONS, f"{where}: {service} assumes a role; add its source conditions (aws:SourceAccount, aws:SourceArn) and list it here"
        have = conditions(st)
        missing = TRUST_CONDITIONS[service] - set(have)
        assert not missing, f"{where}: the {service} trust lacks {sorted(missing)}"
        if "aws:SourceAccount" in have:
            assert "account_id" in have["aws:SourceAccount"], f"{where}: aws:SourceAccount must be this account"
        if "aws:SourceArn" in have:
            arn = have["aws:SourceArn"]
            assert "account_id" in arn and "partition" in arn, f"{where}: aws:SourceArn {arn} must name this account in this partition"
    assert {"scheduler.amazonaws.com", "vpc-flow-logs.amazonaws.com", "monitoring.rds.amazonaws.com", "ecs-tasks.amazonaws.com"} <= seen, seen


# --- partition -------------------------------------------------------------------


def test_no_arn_hard_codes_the_aws_partition():
    """Other partitions (aws-cn, aws-us-gov) break on a literal arn:aws:; use
    data.aws_partition.current.partition."""
    # The contract too: its integration URIs become the REST API body.
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in [*tf_files(TF), ROOT / "api" / "openapi.yaml"]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "arn:aws:" in line and not line.lstrip().startswith("#")
    ]
    assert not found, "literal arn:aws: partition:\n" + "\n".join(found)


def test_modules_that_build_arns_declare_the_partition_data_source():
    for path in tf_files(TF):
        text = path.read_text(encoding="utf-8")
        if "data.aws_partition.current" in text:
            module_dir = path.parent
            declared = any('data "aws_partition" "current"' in p.read_text(encoding="utf-8") for p in module_dir.glob("*.tf"))
            assert declared, f"{path.relative_to(TF)} uses data.aws_partition.current; declare it in {module_dir.relative_to(TF.parent)}"
