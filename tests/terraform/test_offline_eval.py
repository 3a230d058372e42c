"""Evaluate the pure parts of the configuration with the real Terraform
binary, offline (no provider needed): the OpenAPI rendering module and the
registry read from platform.yaml (terraform/locals.tf).

Skipped, with the reason, when no `terraform` is on PATH (CI installs none);
scripts/terraform-check.sh says so in its output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT, TF

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")

FUNCTIONS = ["authorizer", "jobs", "proxy", "keys", "task-events", "reconciler", "migrate"]
ARNS = ",\n".join(f'    {f.replace("-", "_")}_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:portcullis-dev-{f}"' for f in FUNCTIONS)


def apply(workdir):
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    for cmd in (["init", "-backend=false", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        r = subprocess.run([TERRAFORM, *cmd], cwd=workdir, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert r.returncode == 0, f"terraform {cmd[0]} failed:\n{r.stdout}\n{r.stderr}"
    r = subprocess.run([TERRAFORM, "output", "-json"], cwd=workdir, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    return {k: v["value"] for k, v in json.loads(r.stdout).items()}


def test_openapi_renders_with_every_placeholder_filled(tmp_path):
    arns = ARNS
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source      = "{TF / 'modules' / 'openapi'}"
  source_path = "{ROOT / 'api' / 'openapi.yaml'}"
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{arns}
  }}
}}
output "body" {{ value = module.openapi.body }}
output "routes" {{ value = module.openapi.routes }}
"""
    )
    out = apply(tmp_path)
    body = json.loads(out["body"])
    assert "${" not in out["body"], "a placeholder was left in the body"
    assert "x-portcullis" not in out["body"], "x-portcullis-* extensions must be stripped"
    source = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
    assert set(body["paths"]) == set(source["paths"])
    n_ops = sum(1 for item in source["paths"].values() for op in item.values() if isinstance(op, dict))
    assert len(out["routes"]) == n_ops
    assert all(r["uri"].startswith("arn:aws:apigateway:eu-west-1:lambda:path/") for r in out["routes"])
    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"


def test_every_path_sends_cors_preflights_unauthenticated_to_its_own_function(tmp_path):
    """The functions answer preflights with their origin allowlist
    (portcullis_core::cors); a MOCK could only return one static origin, and
    the emulator's importer refuses it. The proxy's ANY path gets an explicit
    OPTIONS too: ANY carries the authorizer, which a preflight would fail."""
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source      = "{TF / 'modules' / 'openapi'}"
  source_path = "{ROOT / 'api' / 'openapi.yaml'}"
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{ARNS}
  }}
}}
output "body" {{ value = module.openapi.body }}
output "cors" {{ value = module.openapi.cors }}
"""
    )
    out = apply(tmp_path)
    assert '"mock"' not in out["body"], "no MOCK integration: the functions answer preflights"
    body = json.loads(out["body"])
    source = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
    assert out["cors"] == source["x-portcullis-cors"], "the root reads the contract's CORS block through this output"
    assert body["paths"], "the rendered body has no paths"
    for path, item in body["paths"].items():
        op = item.get("options")
        assert op is not None, f"{path}: no OPTIONS operation, browsers' preflights would hit the authorizer or 403"
        assert op.get("security") == [], f"{path}: a preflight carries no credentials, OPTIONS must be unauthenticated"
        integration = op["x-amazon-apigateway-integration"]
        others = {o["x-amazon-apigateway-integration"]["uri"] for m, o in item.items() if m != "options"}
        assert integration["type"] == "aws_proxy" and integration["uri"] in others, f"{path}: OPTIONS must go to the path's own function"
    proxied = [p for p, item in body["paths"].items() if "x-amazon-apigateway-any-method" in item]
    assert proxied, "the proxy's ANY path is expected in api/openapi.yaml"


def test_the_contracts_cors_block_holds_what_the_functions_read():
    """One source: header lists, max age and the credentials flag; origins are
    per environment (cors_allow_origins) and methods are each route's."""
    cors = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())["x-portcullis-cors"]
    assert set(cors) == {"allowHeaders", "exposeHeaders", "maxAgeSeconds", "allowCredentials"}, sorted(cors)
    assert {"authorization", "x-api-key", "content-type", "idempotency-key"} <= set(cors["allowHeaders"])
    assert "x-request-id" in cors["exposeHeaders"]
    assert 0 <= cors["maxAgeSeconds"] <= 86400
    assert cors["allowCredentials"] is False, "the API takes Authorization/x-api-key headers, never cookies"


def test_the_registry_decodes_like_the_rust_side(tmp_path):
    tf = tmp_path / "terraform"
    tf.mkdir()
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    shutil.copy(ROOT / "platform.yaml", tmp_path / "platform.yaml")
    (tf / "stub.tf").write_text(
        """
variable "project" {
  type    = string
  default = "portcullis"
}
variable "environment" {
  type    = string
  default = "dev"
}
variable "tags" {
  type    = map(string)
  default = {}
}
output "services" { value = local.services }
output "jobs" { value = local.jobs }
output "usage_plans" { value = local.usage_plans }
output "function_names" { value = local.function_names }
"""
    )
    out = apply(tf)
    platform = yaml.safe_load((ROOT / "platform.yaml").read_text()) or {}
    assert set(out["services"]) == set(platform.get("services") or {})
    assert set(out["jobs"]) == set(platform.get("jobs") or {})
    assert set(out["usage_plans"]) == set(platform.get("usage_plans") or {})
    for name, svc in (platform.get("services") or {}).items():
        assert out["services"][name]["port"] == svc.get("port", 8080)
        assert out["services"][name]["path_prefix"] == svc.get("path_prefix", f"/{name}")
        assert out["services"][name]["workload"] == svc.get("workload", name)
    for name, job in (platform.get("jobs") or {}).items():
        assert out["jobs"][name]["family"] == job["task_definition"]
        assert out["jobs"][name]["container"] == job["container"]
    assert sorted(out["function_names"]) == sorted(FUNCTIONS)


def test_an_empty_registry_yields_no_services_or_jobs(tmp_path):
    tf = tmp_path / "terraform"
    tf.mkdir()
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    (tmp_path / "platform.yaml").write_text("services: {}\njobs:\nusage_plans:\n  standard: {}\n")
    (tf / "stub.tf").write_text(
        'variable "project" {\n  type    = string\n  default = "p"\n}\n'
        'variable "environment" {\n  type    = string\n  default = "dev"\n}\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
        'output "services" { value = local.services }\noutput "jobs" { value = local.jobs }\noutput "plans" { value = local.usage_plans }\n'
    )
    out = apply(tf)
    assert out["services"] == {} and out["jobs"] == {}
    assert out["plans"] == {"standard": {"description": "", "throttle": None, "quota": None}}


def test_make_images_reads_names_and_workloads_from_the_same_locals(tmp_path):
    import re

    mk = (ROOT / "mk" / "deploy.mk").read_text(encoding="utf-8")
    m = re.search(r"^IMAGES_EXPR := (.+)$", mk, re.M)
    assert m, "mk/deploy.mk defines no IMAGES_EXPR"
    tf = tmp_path / "terraform"
    tf.mkdir()
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    shutil.copy(ROOT / "platform.yaml", tmp_path / "platform.yaml")
    (tf / "stub.tf").write_text(
        'variable "project" {\n  type    = string\n  default = "portcullis"\n}\n'
        'variable "environment" {\n  type    = string\n  default = "dev"\n}\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
        'variable "region" {\n  type    = string\n  default = "eu-west-1"\n}\n'
        'variable "workload_cpu_architecture" {\n  type    = string\n  default = "X86_64"\n}\n'
        f'output "info" {{ value = {m.group(1)} }}\n'
    )
    info = json.loads(apply(tf)["info"])
    platform = yaml.safe_load((ROOT / "platform.yaml").read_text()) or {}
    expected = {s.get("workload", n) for n, s in (platform.get("services") or {}).items()} | {j.get("workload", j.get("container", n)) for n, j in (platform.get("jobs") or {}).items()}
    assert info == {"name": "portcullis-dev", "region": "eu-west-1", "platform": "linux/amd64", "workloads": sorted(expected)}


def test_every_secured_operation_requires_an_api_key_so_usage_plans_apply(tmp_path):
    """API Gateway meters a method against a usage plan only when it has
    apiKeyRequired, which it imports from an apiKey scheme in the operation's
    security requirement: {portcullis: [], api_key: []} (one object = both)."""
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source      = "{TF / 'modules' / 'openapi'}"
  source_path = "{ROOT / 'api' / 'openapi.yaml'}"
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{ARNS}
  }}
}}
output "body" {{ value = module.openapi.body }}
"""
    )
    body = json.loads(apply(tmp_path)["body"])
    schemes = body["components"]["securitySchemes"]
    assert schemes["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert "x-amazon-apigateway-authtype" not in schemes["api_key"], "api_key must not be a custom authorizer"
    assert schemes["portcullis"]["x-amazon-apigateway-authtype"] == "custom", "the authorizer scheme must survive"

    source = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text())
    secured, unsecured = 0, 0
    for path, item in source["paths"].items():
        for method, op in item.items():
            got = body["paths"][path][method].get("security")
            if any("portcullis" in req for req in op.get("security") or []):
                secured += 1
                assert got == [{"portcullis": [], "api_key": []}], f"{method.upper()} {path}: must require portcullis AND api_key, got {got}"
            else:
                unsecured += 1
                assert not any("api_key" in req for req in got or []), f"{method.upper()} {path}: unsecured, must not require an API key"
        options = body["paths"][path].get("options")
        if options is not None and "options" not in item:
            assert options["security"] == [], f"{path}: the OPTIONS mock must stay unauthenticated"
    assert secured > 0 and unsecured > 0, "expected both secured operations and /v1/health in api/openapi.yaml"
    assert body["paths"]["/v1/health"]["get"].get("security") in (None, []), "/v1/health must stay open"
