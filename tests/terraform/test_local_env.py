"""The `local` environment (terraform/env/local.tfvars, applied to the AWS
emulator by scripts/tf-local.sh) and the IAM gaps of the local environment, proven in
the configuration:

- the keys role may GetAccount (/v1/health), the jobs role may ListTasks;
- task-events and reconciler send failed invocations to an on-failure
  destination their role may write to;
- the authorizer's cache TTL is set by Terraform, local = dev;
- local.tfvars differs from dev only by the documented switches, and the
  function roles trust only Lambda outside the local environment;
- the rendered body has no MOCK (the emulator cannot import one; the functions answer preflights).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, TF, sub, val
from common import parse, strip_quotes

TERRAFORM = shutil.which("terraform")
LOCAL_TFVARS = TF / "env" / "local.tfvars"
DOC = ROOT / "docs" / "local-gateway.md"


def tfvars(name: str) -> dict:
    doc = parse(TF / "env" / f"{name}.tfvars")
    return {k: val(doc, k) for k in doc if not k.startswith("__")}


def section(text: str, title: str) -> str:
    """The lines of local.tfvars under `# --- <title> ---` up to the next such header."""
    m = re.search(rf"^# --- {re.escape(title)}.*?---\n(.*?)(?=^# --- |\Z)", text, re.S | re.M)
    assert m, f"local.tfvars has no '# --- {title} ---' section"
    return m.group(1)


def assigned(text: str) -> list[str]:
    return re.findall(r"^([a-z_]+)\s*=", text, re.M)


def statements_text(root_locals, fn: str) -> str:
    functions = val(root_locals, "functions")
    return str(functions[fn]["statements"])


def declared_root_variables(docs) -> set[str]:
    names = set()
    for path, doc in docs.items():
        if path.parent == TF:
            for entry in doc.get("variable", []):
                names.update(strip_quotes(n) for n in entry)
    return names


# --- IAM gaps -----------------------------------------------------------------


def test_keys_role_may_read_the_api_gateway_account(root_locals):
    statements = val(root_locals, "functions")["keys"]["statements"]
    assert isinstance(statements, list), "keys' statements must be a list literal"
    get_account = [s for s in statements if isinstance(s, dict) and "apigateway:GET" in str(s.get("actions"))]
    assert get_account, "the keys role needs apigateway:GET on /account: /v1/health calls GetAccount (503 in AWS without it)"
    resources = str(get_account[0].get("resources"))
    assert re.search(r"::/account['\"\]]*$", resources), f"apigateway:GET must name /account only, not {resources}"


def test_jobs_role_may_list_the_cluster_tasks(root_locals):
    assert "local.list_job_tasks" in statements_text(root_locals, "jobs"), (
        "the jobs role needs ecs:ListTasks: cancelling a queued job lists its tasks (503 in AWS without it)"
    )
    assert "local.list_job_tasks" in statements_text(root_locals, "reconciler")
    st = val(root_locals, "list_job_tasks")
    assert st["actions"] == ["ecs:ListTasks"] or st["actions"] == [["ecs:ListTasks"]]
    assert "cluster_condition" in str(st["conditions"]), "ListTasks on Resource '*' must carry the ecs:cluster condition"


def test_async_functions_send_failures_to_an_on_failure_destination(resources, root_locals):
    configs = resources("aws_lambda_function_event_invoke_config")
    assert configs, "no aws_lambda_function_event_invoke_config: function errors of async invocations are lost"
    cfg = configs[0]
    targets = str(val(cfg.body, "for_each"))
    for fn in ("task-events", "reconciler"):
        assert fn in targets, f"{fn} has no event-invoke config"
    on_failure = [of for dc in sub(cfg.body, "destination_config") for of in sub(dc, "on_failure")]
    assert on_failure, "the event-invoke config has no destination_config.on_failure"
    assert "aws_sqs_queue.dlq" in str(val(on_failure[0], "destination")), "on-failure destination must be the function's DLQ"
    # Lambda delivers with the function's role: it must be allowed to send.
    send = str(val(root_locals, "send_failures"))
    assert "sqs:SendMessage" in send and "module.events.dlq_arns" in send
    assert "kms:GenerateDataKey" in send, "the DLQs are KMS-encrypted: sending needs kms:GenerateDataKey"
    for fn in ("task-events", "reconciler"):
        assert f'local.send_failures["{fn}"]' in statements_text(root_locals, fn), f"{fn}'s role cannot write its DLQ"


def test_authorizer_cache_ttl_is_set_by_terraform_and_local_uses_the_dev_value(root_locals):
    env = str(val(root_locals, "functions")["authorizer"]["environment"])
    assert "AUTH_CACHE_TTL_SECS" in env and "var.authorizer_cache_ttl_seconds" in env
    dev, local = tfvars("dev"), tfvars("local")
    assert "authorizer_cache_ttl_seconds" in dev, "dev.tfvars must set authorizer_cache_ttl_seconds explicitly"
    assert local.get("authorizer_cache_ttl_seconds") == dev["authorizer_cache_ttl_seconds"]


# --- the local environment ---------------------------------------------------------


def test_local_tfvars_differs_from_dev_only_by_documented_switches(docs):
    text = LOCAL_TFVARS.read_text(encoding="utf-8")
    switched = assigned(section(text, "Switched off locally"))
    added = assigned(section(text, "Added locally"))
    assert switched, "local.tfvars lists nothing under 'Switched off locally'"
    declared = declared_root_variables(docs)
    doc = DOC.read_text(encoding="utf-8")
    for name in switched + added:
        assert name in declared, f"local.tfvars sets {name}, which is no root variable"
        assert f"`{name}" in doc, f"docs/local-gateway.md must list {name} and why the local environment sets it"
    dev, local = tfvars("dev"), tfvars("local")
    own = {"environment", "region", *switched, *added}
    for name, value in local.items():
        if name not in own:
            assert dev.get(name) == value, f"local.tfvars sets {name} = {value!r}, dev {dev.get(name)!r}: only documented switches may differ"
    for name in dev:
        assert name in local, f"local.tfvars must set {name} as dev does"


def test_function_roles_trust_only_lambda_outside_the_local_environment(resources):
    for env in ("dev", "prod"):
        assert "function_role_trusted_principals" not in tfvars(env), f"{env}: only Lambda may assume the function roles"
    text = (TF / "modules" / "functions" / "main.tf").read_text(encoding="utf-8")
    assert 'length(var.trusted_principal_arns) > 0 ? [1] : []' in text, "the extra trust statement must exist only when principals are given"


def test_the_moto_launcher_is_pinned_to_the_version_it_patches():
    launcher = (ROOT / "scripts" / "moto-server.py").read_text(encoding="utf-8")
    pinned = re.search(r"moto\[server\]==([0-9.]+)", (ROOT / "requirements" / "local.txt").read_text(encoding="utf-8"))
    assert pinned, "requirements/local.txt must pin moto[server]"
    assert f'MOTO_VERSION = "{pinned.group(1)}"' in launcher, "the launcher's patches were written for the pinned moto only"
    assert "INITIAL_NO_AUTH_ACTION_COUNT" in launcher


@pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")
def test_function_preflights_render_no_mock_and_reach_each_paths_function(tmp_path):
    fns = ["authorizer", "jobs", "proxy", "keys"]
    arns = "\n".join(f'    {f}_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:portcullis-local-{f}"' for f in fns)
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source      = "{TF / 'modules' / 'openapi'}"
  source_path = "{ROOT / 'api' / 'openapi.yaml'}"
  template_vars = {{
    region = "us-east-1"
    partition = "aws"
{arns}
  }}
}}
output "body" {{ value = module.openapi.body }}
"""
    )
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    for cmd in (["init", "-backend=false", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        r = subprocess.run([TERRAFORM, *cmd], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert r.returncode == 0, f"terraform {cmd[0]} failed:\n{r.stdout}\n{r.stderr}"
    r = subprocess.run([TERRAFORM, "output", "-raw", "body"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert '"mock"' not in r.stdout, "the body must have no MOCK integration (the emulator cannot import one)"
    body = json.loads(r.stdout)
    for path, item in body["paths"].items():
        options = item.get("options")
        assert options is not None, f"{path}: no OPTIONS operation"
        assert options["security"] == [], f"{path}: a preflight carries no credentials, OPTIONS must be unauthenticated"
        integration = options["x-amazon-apigateway-integration"]
        others = {op["x-amazon-apigateway-integration"]["uri"] for m, op in item.items() if m != "options"}
        assert integration["type"] == "aws_proxy" and integration["uri"] in others, f"{path}: OPTIONS must go to the path's own function"
