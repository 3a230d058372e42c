"""An optional private (VPC-only) REST API for internal
consumers.

With `private_api_enabled` the api module adds a second REST API of endpoint
type PRIVATE serving `private_api_paths` of the same rendered contract (same
authorizer, integrations, gateway responses, stage settings, usage plans),
whose resource policy denies every call that does not come through the
platform's interface VPC endpoint for execute-api (made by the network module
in the private subnets, own security group, private DNS on). Off: no resource.

Two levels:
- the parsed HCL (always run): the root's wiring and defaults;
- the api and network modules applied with `terraform test` and a mock AWS
  provider (nothing is created anywhere), the api module fed the body the
  openapi module renders from the repository's api/openapi.yaml. Needs a
  `terraform` binary (and hashicorp/aws: a local mirror, or the registry).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, TF, run_terraform_test, val

API = TF / "modules" / "api"
NETWORK = TF / "modules" / "network"
OPENAPI = TF / "modules" / "openapi"

# --- the configuration as written ---


def test_the_private_api_is_off_by_default_and_in_every_environment_file(docs):
    variables = {}
    for path, doc in docs.items():
        if path == TF / "variables.tf":
            for entry in doc.get("variable", []):
                variables.update({k.strip('"'): v for k, v in entry.items()})
    assert "private_api_enabled" in variables and "private_api_paths" in variables, "root variables private_api_enabled and private_api_paths"
    assert val(variables["private_api_enabled"], "default") is False, "the private API is optional and off by default"
    for env in ("local", "dev", "prod"):
        text = (TF / "env" / f"{env}.tfvars").read_text(encoding="utf-8")
        assert not re.search(r"^\s*private_api_enabled\s*=\s*true", text, re.M), f"{env}.tfvars: the private API stays off unless an operator turns it on"


def test_the_root_wires_the_private_api_to_the_platforms_own_endpoint(module_calls):
    api, network = module_calls["api"], module_calls["network"]
    assert val(network, "execute_api_endpoint") == "${var.private_api_enabled}", "the network module makes the execute-api endpoint exactly when the private API is on"
    private = str(val(api, "private_api"))
    for ref in ("var.private_api_enabled", "var.private_api_paths", "module.network.execute_api_endpoint_id"):
        assert ref in private, f"module api: private_api must use {ref}: {private}"
    outputs = (TF / "outputs.tf").read_text(encoding="utf-8")
    for name in ("private_api_id", "private_api_url", "private_api_vpce_url", "execute_api_endpoint_id"):
        assert f'output "{name}"' in outputs, f"root output {name}"


# --- the modules applied to a mock provider (terraform test) ---


@pytest.fixture
def terraform_binary():
    from test_offline_eval import TERRAFORM

    if TERRAFORM is None:
        pytest.skip("no terraform binary on PATH: terraform test not run")
    return TERRAFORM


def module_root(tmp_path, module, tests: str):
    root = tmp_path / "root"
    (root / "tests").mkdir(parents=True)
    for f in module.glob("*.tf"):
        shutil.copy(f, root / f.name)
    (root / "tests" / "module.tftest.hcl").write_text(tests, encoding="utf-8")
    return root


def check(condition: str, message: str) -> str:
    message = message.replace('"', '\\"')
    return f"  assert {{\n    condition     = {condition}\n    error_message = \"{message}\"\n  }}\n"


MOCKS = """
mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_resource "aws_api_gateway_rest_api" {
    defaults = { execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:public" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  override_resource {
    target = aws_api_gateway_rest_api.this["private"]
    values = { execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:private" }
  }
  override_resource {
    target = aws_cloudwatch_log_group.access["private"]
    values = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:private-access" }
  }
}
"""

FUNCTIONS = ["authorizer", "jobs", "keys", "proxy"]
CHOSEN = ["/v1/health", "/v1/jobs", "/v1/jobs/{id}"]
SECURED = ["/v1/jobs", "/v1/jobs/{id}"]
VPCE = "vpce-0123456789abcdef0"


def hcl_list(items) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def api_module_header() -> str:
    """The api module's test preamble: the mock provider, its variables, and
    a first run rendering the repository's contract with the openapi module
    (run.render.body)."""
    arns = "\n".join(f'    {f}_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:pc-dev-{f}"' for f in FUNCTIONS)
    # the openapi module needs every placeholder of the contract
    arns += "\n" + "\n".join(f'    {f}_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:pc-dev-{f.replace("_", "-")}"' for f in ("task_events", "reconciler", "migrate"))
    return (
        MOCKS
        + f"""
variables {{
  name                 = "pc-dev"
  kms_key_arn          = "arn:aws:kms:eu-west-1:123456789012:key/1"
  integrated_functions = {{ {", ".join(f'{f} = "pc-dev-{f}"' for f in FUNCTIONS)} }}
  usage_plans = {{
    standard = {{ throttle = {{ rate_limit = 10, burst_limit = 20 }} }}
    partner  = {{ throttle = {{ rate_limit = 50, burst_limit = 100 }}, quota = {{ limit = 1000, period = "DAY" }} }}
  }}
}}

run "render" {{
  module {{
    source = "./openapi"
  }}
  variables {{
    source_path = "{ROOT / 'api' / 'openapi.yaml'}"
    template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{arns}
    }}
  }}
}}
"""
    )


def api_tests() -> str:
    private_body = 'jsondecode(aws_api_gateway_rest_api.this["private"].body)'
    public_body = 'jsondecode(aws_api_gateway_rest_api.this["public"].body)'
    deny = '[for s in data.aws_iam_policy_document.private[0].statement : s if s.effect == "Deny"]'
    allow = '[for s in data.aws_iam_policy_document.private[0].statement : s if s.effect == "Allow"]'
    private_api = f'{{ paths = {hcl_list(CHOSEN)}, vpc_endpoint_ids = ["{VPCE}"] }}'
    return (
        api_module_header()
        + f"""
run "off" {{
  variables {{
    body = run.render.body
  }}
"""
        + check(
            'keys(aws_api_gateway_rest_api.this) == ["public"] && keys(aws_api_gateway_stage.this) == ["public"] && keys(aws_api_gateway_deployment.this) == ["public"] && keys(aws_cloudwatch_log_group.access) == ["public"] && keys(aws_api_gateway_method_settings.all) == ["public"] && length(aws_lambda_permission.private) == 0 && length(data.aws_iam_policy_document.private) == 0',
            "without private_api: no private resource",
        )
        + check('length(jsondecode(aws_api_gateway_rest_api.this["public"].body)["x-amazon-apigateway-gateway-responses"]) == 12', "the public API's gateway responses are in its body")
        + check('aws_api_gateway_rest_api.this["public"].name == "pc-dev" && tolist(aws_api_gateway_rest_api.this["public"].endpoint_configuration[0].types) == tolist(["REGIONAL"]) && aws_cloudwatch_log_group.access["public"].name == "/aws/apigateway/pc-dev/access"', "the public API: its name, REGIONAL, its access-log group")
        + check('alltrue([for p in aws_api_gateway_usage_plan.this : length(p.api_stages) == 1])', "without private_api: each usage plan covers the public stage only")
        + check("output.private_rest_api_id == null && output.private_invoke_url == null && length(output.private_vpce_invoke_urls) == 0", "without private_api: null outputs")
        + f"""}}

run "on" {{
  variables {{
    body               = run.render.body
    path_function_arns = run.render.path_function_arns
    private_api        = {private_api}
  }}
"""
        # endpoint type and the endpoint association
        + check('length(aws_api_gateway_rest_api.this["private"].endpoint_configuration[0].types) == 1 && aws_api_gateway_rest_api.this["private"].endpoint_configuration[0].types[0] == "PRIVATE"', "the private REST API has endpoint type PRIVATE")
        + check(f'toset(aws_api_gateway_rest_api.this["private"].endpoint_configuration[0].vpc_endpoint_ids) == toset(["{VPCE}"])', "the private REST API is associated with the platform's execute-api endpoint")
        + check('aws_api_gateway_rest_api.this["public"].endpoint_configuration[0].types[0] == "REGIONAL"', "the public API stays REGIONAL")
        + check('aws_api_gateway_rest_api.this["private"].name == "pc-dev-private" && aws_api_gateway_rest_api.this["private"].api_key_source == "AUTHORIZER"', "name and usage key source")
        # the resource policy: deny unless through the endpoint, allow the rest
        + check("length(data.aws_iam_policy_document.private[0].statement) == 2", "two statements: deny outside the endpoint, allow")
        + check(
            f'length({deny}) == 1 && toset(flatten([for s in {deny} : s.actions])) == toset(["execute-api:Invoke"]) && toset(flatten([for s in {deny} : s.resources])) == toset(["execute-api:/*"])',
            "the deny statement covers execute-api:Invoke on the whole API",
        )
        + check(
            f'length({deny}[0].condition) == 1 && alltrue([for c in {deny}[0].condition : c.test == "StringNotEquals" && c.variable == "aws:SourceVpce" && toset(c.values) == toset(["{VPCE}"])])',
            "the deny applies to every call whose aws:SourceVpce is not the platform's endpoint",
        )
        + check(f'alltrue([for s in {deny} : alltrue([for p in s.principals : p.type == "*" && toset(p.identifiers) == toset(["*"])])])', "the deny applies to every principal")
        + check(
            f'length({allow}) == 1 && length({allow}[0].condition) == 0 && toset(flatten([for s in {allow} : s.actions])) == toset(["execute-api:Invoke"]) && toset(flatten([for s in {allow} : s.resources])) == toset(["execute-api:/*"])',
            "the allow statement grants execute-api:Invoke on the API (the deny narrows it)",
        )
        + check('aws_api_gateway_rest_api.this["private"].policy == data.aws_iam_policy_document.private[0].json', "the REST API carries that policy")
        + check('aws_api_gateway_deployment.this["private"].rest_api_id == aws_api_gateway_rest_api.this["private"].id && aws_api_gateway_stage.this["private"].deployment_id == aws_api_gateway_deployment.this["private"].id', "its own deployment")
        # the chosen paths, as the public API serves them
        + check(f"toset(keys({private_body}.paths)) == toset({hcl_list(CHOSEN)})", "the private API serves exactly the chosen paths")
        + check(f"alltrue([for p in {hcl_list(CHOSEN)} : jsonencode({private_body}.paths[p]) == jsonencode({public_body}.paths[p])])", "each chosen path has the public API's operations (integrations, security, preflight)")
        + check(f"jsonencode({private_body}.components) == jsonencode({public_body}.components)", "same components: the authorizer and the api_key scheme")
        # the authorizer guards the secured operations
        + check(
            f'alltrue(flatten([for p in {hcl_list(SECURED)} : [for m, op in {private_body}.paths[p] : m == "options" || jsonencode(op.security) == jsonencode([{{ api_key = [], portcullis = [] }}])]]))',
            "every secured operation requires the portcullis authorizer (and api_key, for the usage plans)",
        )
        + check(
            f'{private_body}.components.securitySchemes.portcullis["x-amazon-apigateway-authorizer"].type == "request" && strcontains({private_body}.components.securitySchemes.portcullis["x-amazon-apigateway-authorizer"].authorizerUri, ":function:pc-dev-authorizer/invocations")',
            "the portcullis scheme is the Lambda REQUEST authorizer",
        )
        + check(f'length(try({private_body}.paths["/v1/health"].get.security, [])) == 0', "an unsecured operation stays unsecured")
        # Lambda permissions: the functions the chosen paths use, this API only
        + check('toset(keys(aws_lambda_permission.private)) == toset(["authorizer", "jobs", "keys"])', "permissions for the authorizer and the chosen paths' functions only (not the proxy)")
        + check(
            'alltrue([for p in aws_lambda_permission.private : p.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:private/*" && p.principal == "apigateway.amazonaws.com" && p.statement_id != "AllowApiGateway"])',
            "each permission is scoped to the private API's execution ARN, with its own statement id",
        )
        + check('alltrue([for p in aws_lambda_permission.this : p.source_arn == "arn:aws:execute-api:eu-west-1:123456789012:public/*"])', "the public permissions are unchanged")
        # stage, access logs, gateway responses, usage plans
        + check(
            'aws_api_gateway_stage.this["private"].rest_api_id == aws_api_gateway_rest_api.this["private"].id && aws_api_gateway_stage.this["private"].stage_name == "v1" && aws_api_gateway_stage.this["private"].xray_tracing_enabled',
            "its own stage, named like the public one, traced",
        )
        + check(
            'aws_api_gateway_stage.this["private"].access_log_settings[0].destination_arn == "arn:aws:logs:eu-west-1:123456789012:log-group:private-access" && aws_cloudwatch_log_group.access["private"].name == "/aws/apigateway/pc-dev-private/access" && aws_api_gateway_stage.this["private"].access_log_settings[0].format == aws_api_gateway_stage.this["public"].access_log_settings[0].format',
            "its own access-log group, the public stage's format",
        )
        + check(
            f'length({private_body}["x-amazon-apigateway-gateway-responses"]) == 12 && jsonencode({private_body}["x-amazon-apigateway-gateway-responses"]) == jsonencode({public_body}["x-amazon-apigateway-gateway-responses"])',
            "the same gateway responses, in its own body: the public one's bodies and CORS headers",
        )
        + check(
            'aws_api_gateway_method_settings.all["private"].rest_api_id == aws_api_gateway_rest_api.this["private"].id && alltrue([for f in ["metrics_enabled", "logging_level", "data_trace_enabled", "throttling_rate_limit", "throttling_burst_limit", "caching_enabled"] : aws_api_gateway_method_settings.all["private"].settings[0][f] == aws_api_gateway_method_settings.all["public"].settings[0][f]]) && aws_api_gateway_method_settings.all["private"].settings[0].throttling_rate_limit == 100',
            "its own method settings, the public stage's throttling and logging",
        )
        + check(
            "alltrue([for p in aws_api_gateway_usage_plan.this : length(p.api_stages) == 2 && contains([for s in p.api_stages : \"${s.api_id}/${s.stage}\"], \"${aws_api_gateway_rest_api.this[\"private\"].id}/v1\")])",
            "every usage plan covers the private stage too (consumers' usage keys are in those plans)",
        )
        + check(
            f'output.private_vpce_invoke_urls["{VPCE}"] == "https://${{aws_api_gateway_rest_api.this["private"].id}}-{VPCE}.execute-api.eu-west-1.amazonaws.com/v1" && output.private_rest_api_id == aws_api_gateway_rest_api.this["private"].id',
            "outputs: the id and the URL through the endpoint",
        )
        + f"""}}

run "unknown_path" {{
  command = plan
  variables {{
    body        = run.render.body
    private_api = {{ paths = ["/v1/jobs", "/v1/jobz"], vpc_endpoint_ids = ["{VPCE}"] }}
  }}
  expect_failures = [var.private_api]
}}

run "no_endpoint" {{
  command = plan
  variables {{
    body        = run.render.body
    private_api = {{ paths = ["/v1/jobs"], vpc_endpoint_ids = [] }}
  }}
  expect_failures = [var.private_api]
}}
"""
    )


def test_the_private_api_serves_the_chosen_paths_through_the_platforms_endpoint_only(tmp_path, terraform_binary):
    root = module_root(tmp_path, API, api_tests())
    shutil.copytree(OPENAPI, root / "openapi")
    out = run_terraform_test(tmp_path, root)
    assert "5 passed, 0 failed" in out, out


def network_tests() -> str:
    endpoint = "aws_vpc_endpoint.execute_api[0]"
    return (
        MOCKS
        + """
variables {
  name                     = "pc-dev"
  kms_key_arn              = "arn:aws:kms:eu-west-1:123456789012:key/1"
  function_security_groups = ["proxy"]
}

run "off" {
"""
        + check("length(aws_vpc_endpoint.execute_api) == 0 && length(aws_security_group.execute_api) == 0 && length(aws_vpc_security_group_ingress_rule.execute_api_https) == 0", "no execute-api endpoint unless asked")
        + check('output.execute_api_endpoint_id == null && !contains(keys(aws_vpc_endpoint.interface), "execute-api")', "no endpoint id; the shared endpoints hold no execute-api")
        + """}

run "on" {
  variables {
    execute_api_endpoint = true
  }
"""
        + check(f'{endpoint}.service_name == "com.amazonaws.eu-west-1.execute-api" && {endpoint}.vpc_endpoint_type == "Interface"', "an interface endpoint for execute-api")
        + check(f"{endpoint}.private_dns_enabled", "private DNS on: the API's own hostname resolves to the endpoint in the VPC")
        + check(f"toset({endpoint}.subnet_ids) == toset([for s in aws_subnet.private : s.id]) && length({endpoint}.subnet_ids) == 2", "in the platform's private subnets")
        + check(f"toset({endpoint}.security_group_ids) == toset([aws_security_group.execute_api[0].id]) && aws_security_group.execute_api[0].id != aws_security_group.endpoints.id", "its own security group, not the shared endpoints' one")
        + check(
            'aws_vpc_security_group_ingress_rule.execute_api_https[0].security_group_id == aws_security_group.execute_api[0].id && aws_vpc_security_group_ingress_rule.execute_api_https[0].from_port == 443 && aws_vpc_security_group_ingress_rule.execute_api_https[0].to_port == 443 && aws_vpc_security_group_ingress_rule.execute_api_https[0].cidr_ipv4 == "10.40.0.0/16"',
            "HTTPS from the VPC only",
        )
        + check(f"output.execute_api_endpoint_id == {endpoint}.id && output.execute_api_endpoint_security_group_id == aws_security_group.execute_api[0].id", "outputs")
        + """}

run "execute_api_in_the_shared_list" {
  command = plan
  variables {
    interface_endpoints = ["sts", "execute-api"]
  }
  expect_failures = [var.interface_endpoints]
}
"""
    )


def test_the_network_makes_the_execute_api_endpoint_only_for_the_private_api(tmp_path, terraform_binary):
    root = module_root(tmp_path, NETWORK, network_tests())
    out = run_terraform_test(tmp_path, root)
    assert "3 passed, 0 failed" in out, out


def test_the_root_refuses_the_private_api_without_paths(tmp_path, terraform_binary):
    """Root variables.tf alone, no provider: the validations of
    private_api_paths run at plan."""
    shutil.copy(TF / "variables.tf", tmp_path / "variables.tf")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}

    def plan(*args):
        r = subprocess.run([terraform_binary, "plan", "-input=false", "-no-color", "-var", "environment=dev", "-var", "region=eu-west-1", *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False)
        return r.returncode, " ".join((r.stdout + r.stderr).split())

    r = subprocess.run([terraform_binary, "init", "-backend=false", "-input=false", "-no-color"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    rc, out = plan("-var", "private_api_enabled=true")
    assert rc != 0 and "private_api_enabled needs private_api_paths" in out, out
    rc, out = plan("-var", "private_api_enabled=true", "-var", 'private_api_paths=["v1/jobs"]')
    assert rc != 0 and "starting with /" in out, out
    rc, out = plan("-var", "private_api_enabled=true", "-var", 'private_api_paths=["/v1/jobs"]')
    assert rc == 0, out
    rc, out = plan()
    assert rc == 0, out
