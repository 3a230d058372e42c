"""The VPC-link path as safe as the proxy path, and the API Gateway behaviours
the configuration did not model (docs/decisions.md, "The VPC-link path as safe
as the proxy path"):

- credentials: no caller credential (authorization, x-api-key, cookie)
  reaches a vpc_link service: every operation overwrites them with a static
  value (cookie passes for a service with cookies: own_path);
- the stage in the path: API Gateway puts it in front of a private
  integration's path (API Gateway Developer Guide, "Private integrations for
  REST APIs", Considerations), so a vpc_link service's listener rule and
  BASE_PATH are /<stage><path_prefix>;
- the gateway responses are in the rendered body;
- limits: API Gateway's, Lambda's and Cognito's, refused where they are
  declared, with the number and the AWS source in the message;
- the access log is the audit trail (principal, type, tenant, method, path,
  status);
- responseTransferMode STREAM from the registry.

Evaluated offline with the real terraform binary (no provider for the pure
modules; a mock provider under `terraform test` for the compute and network
modules)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ROOT, TF, run_terraform_test, val
from test_offline_eval import ARNS, TERRAFORM, apply
from test_registry_fields import STUB_VARS, check, container, terraform_test
from test_vpc_link import ALB_DNS, CREDENTIALS, IDENTITY, REMOVED, integration, render

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")

WEB = (
    "services:\n"
    "  web:\n    integration: vpc_link\n    priority: 1\n    path_prefix: /web\n    methods: [GET, HEAD, POST]\n{extra}"
    "  sample:\n    priority: 2\n    methods: [GET, PUT]\n{sample}"
)


def registry(extra: str = "", sample: str = "") -> str:
    return WEB.format(extra=extra, sample=sample)


def refused(tmp_path, text: str) -> str:
    with pytest.raises(AssertionError) as failed:
        render(tmp_path, text)
    return " ".join(str(failed.value).split())


def http_operations(paths: dict):
    return [(p, m, op) for p, item in paths.items() for m, op in item.items() if integration(op)["type"] == "http_proxy"]


# --- credentials ---


@needs_terraform
def test_no_caller_credential_reaches_a_vpc_link_service_on_any_operation(tmp_path):
    """Declared routes, public ones, the implicit /{proxy+} operations, the
    service's preflight: each overwrites authorization, x-api-key and cookie."""
    out = render(tmp_path, (ROOT / "platform.yaml").read_text(encoding="utf-8"))
    ops = http_operations(out["paths"])
    assert {p for p, _, _ in ops} >= {"/v1/services/web/{proxy+}", "/v1/services/web/home", "/v1/services/web/static/{proxy+}"}
    for path, m, op in ops:
        params = integration(op)["requestParameters"]
        for header in CREDENTIALS:
            assert params.get(f"integration.request.header.{header}") == REMOVED, f"{m} {path}: the caller's {header} would reach the service"
    # The Lambda integrations are untouched: the proxy strips credentials itself.
    for path, item in out["paths"].items():
        for m, op in item.items():
            if integration(op)["type"] == "aws_proxy":
                assert "requestParameters" not in integration(op) or not any(k.endswith(("authorization", "x-api-key", "cookie")) for k in integration(op)["requestParameters"]), (path, m)


@needs_terraform
def test_a_service_with_cookies_own_path_gets_the_cookie_header_and_never_the_credentials(tmp_path):
    out = render(tmp_path, registry("    cookies: own_path\n    routes:\n      - { path: /home, methods: [GET], public: true }\n"))
    assert out["vpc_link_services"]["web"]["cookies"] == "own_path"
    for path, m, op in http_operations(out["paths"]):
        params = integration(op)["requestParameters"]
        assert "integration.request.header.cookie" not in params, f"{m} {path}: cookies: own_path lets the Cookie header pass"
        assert params["integration.request.header.authorization"] == REMOVED and params["integration.request.header.x-api-key"] == REMOVED
        assert all(f"integration.request.header.{h}" in params for h in IDENTITY)


@needs_terraform
def test_a_cookies_value_other_than_none_or_own_path_is_refused(tmp_path):
    msg = refused(tmp_path, registry("    cookies: all\n"))
    assert "services.<name>.cookies: none" in msg and "own_path" in msg, msg


# --- the stage in the path ---


def test_the_root_gives_the_compute_module_the_stage_and_the_vpc_link_services(module_calls):
    compute = module_calls["compute"]
    assert val(compute, "stage_name") == "${var.stage_name}"
    assert "local.vpc_link_services" in str(val(compute, "vpc_link_services"))
    assert val(module_calls["network"], "vpc_link") == "${length(local.vpc_link_services) > 0}"


@needs_terraform
def test_a_vpc_link_service_is_reached_at_the_stage_and_its_prefix_and_a_lambda_service_at_its_prefix(tmp_path):
    web, api = container("service", "web"), container("service", "api")
    runs = (
        'run "dev" {\n  variables {\n    services = run.registry_dev.services\n    jobs = run.registry_dev.jobs\n'
        '    stage_name = "v1"\n    vpc_link_services = { web = { cookies = "own_path" } }\n  }\n'
        + check('toset(one(one(aws_lb_listener_rule.this["web"].condition).path_pattern).values) == toset(["/v1/web", "/v1/web/*"])', "the vpc_link service's rule matches /<stage><path_prefix> (API Gateway sends the stage)")
        + check('toset(one(one(aws_lb_listener_rule.this["api"].condition).path_pattern).values) == toset(["/api", "/api/*"])', "a lambda service's rule is unchanged (the proxy sends <path_prefix>)")
        + check(
            f'{{ for e in {web}.environment : e.name => e.value }} == {{ GREETING = "hi", PORT = "8080", BASE_PATH = "/v1/web", PORTCULLIS_COOKIES = "own_path", PORTCULLIS_PUBLIC_PATH = "/v1/services/web" }}',
            "the vpc_link service's task: BASE_PATH with the stage, its cookie policy and public path",
        )
        + check(
            f'{{ for e in {api}.environment : e.name => e.value }} == {{ PORT = "8080", BASE_PATH = "/api", PORTCULLIS_COOKIES = "none", PORTCULLIS_PUBLIC_PATH = "/v1/services/api" }}',
            "a lambda service's task: BASE_PATH = path_prefix, and the service kit's cookie policy (allow_cookies, none by default) and public path",
        )
        + "}\n"
        'run "other_stage" {\n  variables {\n    services = run.registry_dev.services\n    jobs = run.registry_dev.jobs\n'
        '    stage_name = "prod"\n    vpc_link_services = { web = {} }\n  }\n'
        + check('toset(one(one(aws_lb_listener_rule.this["web"].condition).path_pattern).values) == toset(["/prod/web", "/prod/web/*"])', "the stage name is the one deployed")
        + check(f'{{ for e in {web}.environment : e.name => e.value }}["PORTCULLIS_COOKIES"] == "none"', "cookies: none by default")
        + "}\n"
    )
    reg = "services:\n  web:\n    methods: [GET]\n    priority: 20\n    environment: { GREETING: hi }\n  api:\n    methods: [GET]\n    priority: 10\n  prodonly:\n    methods: [GET]\n    priority: 30\n    environments: [prod]\njobs: {}\n"
    out = terraform_test(tmp_path, reg, runs)
    assert "4 passed, 0 failed" in out, out


# --- gateway responses in the body ---

TYPES = {
    "UNAUTHORIZED": "401", "ACCESS_DENIED": "403", "THROTTLED": "429", "QUOTA_EXCEEDED": "429",
    "INVALID_API_KEY": "403", "MISSING_AUTHENTICATION_TOKEN": "403", "REQUEST_TOO_LARGE": "413",
    "INTEGRATION_TIMEOUT": "504", "AUTHORIZER_FAILURE": "500", "AUTHORIZER_CONFIGURATION_ERROR": "500",
    "DEFAULT_4XX": None, "DEFAULT_5XX": None,
}


@needs_terraform
def test_the_rendered_body_holds_the_gateway_responses_as_problem_json_with_cors(tmp_path):
    out = render(tmp_path, (ROOT / "platform.yaml").read_text(encoding="utf-8"))
    body = json.loads(out["body"])
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(TYPES), sorted(responses)
    expose = yaml_expose_headers()
    for kind, status in TYPES.items():
        r = responses[kind]
        assert r.get("statusCode") == status, (kind, r.get("statusCode"))
        params = r["responseParameters"]
        assert params["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin"
        assert params["gatewayresponse.header.Vary"] == "'Origin'"
        assert params["gatewayresponse.header.Access-Control-Expose-Headers"] == f"'{', '.join(expose)}'"
        assert not any("Credentials" in k for k in params), "an echoed origin never comes with credentials"
        assert set(r["responseTemplates"]) == {"application/json", "application/problem+json"}
        for template in r["responseTemplates"].values():
            doc = json.loads(template)
            assert set(doc) == {"type", "title", "detail", "request_id"} and doc["request_id"] == "$context.requestId", (kind, doc)
    invalid = json.loads(responses["INVALID_API_KEY"]["responseTemplates"]["application/problem+json"])
    assert "PUT /v1/tenants/$context.authorizer.tenant" in invalid["detail"] and "platform administrator" in invalid["detail"], invalid
    missing = json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"])
    assert "no such path or no such method" in missing["detail"], missing


def yaml_expose_headers() -> list[str]:
    import yaml

    return yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8"))["x-portcullis-cors"]["exposeHeaders"]


def test_the_gateway_response_resources_leave_the_state_without_being_destroyed(resources):
    """A destroy would call DeleteGatewayResponse and reset what the body set."""
    assert resources("aws_api_gateway_gateway_response") == []
    moved = (TF / "modules" / "api" / "moved.tf").read_text(encoding="utf-8")
    for address in ("aws_api_gateway_gateway_response.this", "aws_api_gateway_gateway_response.private"):
        block = re.search(rf"removed \{{\s*from = {re.escape(address)}\s*lifecycle \{{\s*destroy = false\s*\}}\s*\}}", moved)
        assert block, f"moved.tf: removed {{ from = {address} lifecycle {{ destroy = false }} }}"
    assert "aws_api_gateway_gateway_response.this[" not in moved, "no moved block may name the removed resource"
    main = (TF / "modules" / "api" / "main.tf").read_text(encoding="utf-8")
    assert "redeployment = sha1(join(\",\", each.value.redeploy_on))" in main, "the deployment follows the body, which holds the responses"
    assert "redeploy_on      = [var.body]" in main


# --- limits ---


@needs_terraform
@pytest.mark.parametrize(
    "extra, words",
    [
        ("    timeout_ms: 49\n", ["50-29000 ms", "limits.html", "services.web.timeout_ms = 49"]),
        ("    timeout_ms: 29001\n", ["50-29000 ms", "services.web.timeout_ms = 29001 (BUFFERED)"]),
        ("    timeout_ms: 900001\n    response_transfer_mode: STREAM\n", ["900000 (15 minutes)", "response-streaming-http.html"]),
        (
            "    timeout_ms: 60000\n    response_transfer_mode: STREAM\n    routes:\n      - { path: /page, methods: [GET], public: true, response_transfer_mode: BUFFERED }\n",
            ["no BUFFERED route", "services.web.timeout_ms = 60000 (STREAM)"],
        ),
    ],
)
def test_an_integration_timeout_outside_api_gateways_range_is_refused(tmp_path, extra, words):
    msg = refused(tmp_path, registry(extra))
    for w in words:
        assert w in msg, (w, msg)


@needs_terraform
def test_a_streaming_service_may_wait_up_to_fifteen_minutes(tmp_path):
    out = render(tmp_path, registry("    timeout_ms: 900000\n    response_transfer_mode: STREAM\n"))
    for path, m, op in http_operations(out["paths"]):
        assert integration(op)["timeoutInMillis"] == 900000 and integration(op)["responseTransferMode"] == "STREAM", (path, m)


@needs_terraform
def test_a_lambda_services_request_limit_above_four_mib_is_refused(tmp_path):
    msg = refused(tmp_path, registry(sample="    max_request_bytes: 4194305\n"))
    assert "services.<name>.max_request_bytes" in msg and "4194304" in msg and "6291456" in msg and "gettingstarted-limits.html" in msg, msg
    assert "services.sample = 4194305" in msg, msg
    render(tmp_path / "ok", registry(sample="    max_request_bytes: 4194304\n"))


@needs_terraform
def test_sibling_path_variables_are_refused(tmp_path):
    msg = refused(tmp_path, registry(sample="    routes:\n      - { path: '/items/{id}', methods: [GET], public: true }\n      - { path: '/items/{rest+}', methods: [PUT], scope: 'services:sample' }\n"))
    assert "sibling variable path parts" in msg and "only one is allowed" in msg and "services.sample: /items holds {id}, /items holds {rest+}" in msg, msg
    # One variable per parent, literal siblings beside it: accepted.
    render(tmp_path / "ok", registry(sample="    routes:\n      - { path: '/items/{id}', methods: [GET], public: true }\n      - { path: '/items/{id}/parts/{proxy+}', methods: [PUT], scope: 'services:sample' }\n      - { path: '/items/new', methods: [PUT], scope: 'services:sample' }\n"))


@needs_terraform
def test_a_vpc_link_route_starting_with_a_variable_is_refused(tmp_path):
    msg = refused(tmp_path, registry("    routes:\n      - { path: '/{page}', methods: [GET], public: true }\n"))
    assert "may not start with a path variable" in msg and "services.web /{page}" in msg and "{proxy+}" in msg, msg
    # A lambda service may: its {proxy+} is under /v1/services/{service}, not /v1/services/<name>.
    render(tmp_path / "ok", registry(sample="    routes:\n      - { path: '/{id}', methods: [GET], public: true }\n"))


def auth_validation(tmp_path, service_scopes: int) -> dict:
    mod = tmp_path / "auth"
    mod.mkdir(parents=True)
    shutil.copy(TF / "modules" / "auth" / "variables.tf", mod / "variables.tf")
    (tmp_path / "main.tf").write_text(
        'module "auth" {\n  source = "./auth"\n  name = "p"\n  domain_prefix = "p-dev"\n  web_callback_urls = ["http://localhost/callback"]\n'
        f'  service_scopes = [for i in range({service_scopes}) : "s${{i}}"]\n}}\n',
        encoding="utf-8",
    )
    return apply(tmp_path)


@needs_terraform
def test_cognito_scope_limits_are_refused_with_their_numbers(tmp_path):
    # 2 platform scopes + 45 service scopes + openid, email, profile = 50: the web client's maximum.
    auth_validation(tmp_path / "ok", 45)
    with pytest.raises(AssertionError) as failed:
        auth_validation(tmp_path / "client", 46)
    msg = " ".join(str(failed.value).split())
    assert "would allow 51 OAuth scopes" in msg and "at most 50 per app client" in msg and "API_CreateUserPoolClient.html" in msg, msg
    with pytest.raises(AssertionError) as failed:
        auth_validation(tmp_path / "server", 99)
    msg = " ".join(str(failed.value).split())
    assert "would hold 101 scopes" in msg and "at most 100 per resource server" in msg and "API_CreateResourceServer.html" in msg, msg


NETWORK_MOCKS = """
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_data "aws_availability_zones" {
    defaults = {
      names    = ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"]
      zone_ids = ["use1-az3", "use1-az1", "use1-az7", "use1-az2"]
    }
  }
  mock_resource "aws_vpc" {
    defaults = { cidr_block = "10.40.0.0/16" }
  }
}

variables {
  name                     = "pc-dev"
  kms_key_arn              = "arn:aws:kms:us-east-1:123456789012:key/1"
  function_security_groups = ["proxy"]
  interface_endpoints      = []
}
"""


@needs_terraform
def test_with_a_vpc_link_the_subnets_go_to_availability_zone_ids_that_support_it(tmp_path):
    """use1-az3 has no VPC link (v2) (API Gateway Developer Guide, "Set up VPC
    links V2 in API Gateway", Availability by Region); the zone names map to
    other IDs in every account, so the choice is by ID."""
    root = tmp_path / "root"
    (root / "tests").mkdir(parents=True)
    for f in (TF / "modules" / "network").glob("*.tf"):
        shutil.copy(f, root / f.name)
    runs = (
        'run "without_link" {\n  command = plan\n'
        + check('toset(keys(aws_subnet.private)) == toset(["us-east-1a", "us-east-1b"])', "no VPC link: the first az_count zones")
        + "}\n"
        'run "with_link" {\n  command = plan\n  variables {\n    vpc_link = true\n  }\n'
        + check('toset(keys(aws_subnet.private)) == toset(["us-east-1b", "us-east-1d"])', "with a VPC link: the first az_count zones whose ID supports it (not use1-az3, use1-az7)")
        + "}\n"
        'run "too_few" {\n  command = plan\n  variables {\n    vpc_link = true\n    az_count = 3\n  }\n  expect_failures = [data.aws_availability_zones.available]\n}\n'
    )
    (root / "tests" / "network.tftest.hcl").write_text(NETWORK_MOCKS + runs, encoding="utf-8")
    out = run_terraform_test(tmp_path, root)
    assert "3 passed, 0 failed" in out, out


# --- the access log is the audit trail ---


def test_the_access_log_records_who_which_tenant_what_and_the_outcome():
    text = (TF / "modules" / "api" / "main.tf").read_text(encoding="utf-8")
    fmt = text.split("access_log_format = jsonencode({", 1)[1].split("})", 1)[0]
    fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\"([^\"]+)\"", fmt, re.M))
    for name, source in {
        "principal": "$context.authorizer.principal_id",
        "principalType": "$context.authorizer.principal_type",
        "tenant": "$context.authorizer.tenant",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
    }.items():
        assert fields.get(name) == source, (name, fields.get(name))
    outputs = (TF / "outputs.tf").read_text(encoding="utf-8")
    assert 'output "access_log_format"' in outputs and 'output "access_log_group"' in outputs
    local = (ROOT / "scripts" / "tf-local.sh").read_text(encoding="utf-8")
    assert '"access_log_format": out["access_log_format"]' in local and '"access_log_group": out["access_log_group"]' in local, "deployment.json carries what the local gateway's access log needs"
    assert "get_gateway_responses(restApiId=" in local, "deployment.json's gateway responses are read from the emulator (fed by the import)"


# --- streaming ---


@needs_terraform
def test_response_transfer_mode_stream_is_rendered_on_the_operations_that_stream(tmp_path):
    out = render(
        tmp_path,
        registry(
            "    timeout_ms: 20000\n    routes:\n      - { path: '/stream/{proxy+}', methods: [GET, HEAD], scope: 'services:web', response_transfer_mode: STREAM }\n"
            "      - { path: /home, methods: [GET], public: true }\n"
        ),
    )
    assert out["vpc_link_services"]["web"]["response_transfer_mode"] == "BUFFERED"
    paths = out["paths"]
    stream = paths["/v1/services/web/stream/{proxy+}"]
    for m in ("get", "head"):
        i = integration(stream[m])
        assert i["responseTransferMode"] == "STREAM" and i["timeoutInMillis"] == 20000 and i["uri"] == f"http://{ALB_DNS}/web/stream/{{proxy}}", i
    assert "responseTransferMode" not in integration(stream["post"]), "the service's other methods on the path: its own mode (BUFFERED)"
    for path in ("/v1/services/web/{proxy+}", "/v1/services/web/home"):
        for m, op in paths[path].items():
            assert "responseTransferMode" not in integration(op), (path, m, "BUFFERED is API Gateway's default")
    # The whole service streaming: every one of its operations.
    out = render(tmp_path / "all", registry("    response_transfer_mode: stream\n"))
    assert all(integration(op).get("responseTransferMode") == "STREAM" for _, _, op in http_operations(out["paths"]))


@needs_terraform
def test_response_transfer_mode_is_refused_on_a_lambda_service(tmp_path):
    msg = refused(tmp_path, registry(sample="    routes:\n      - { path: /items, methods: [GET], public: true, response_transfer_mode: STREAM }\n"))
    assert "on a vpc_link service only" in msg and "response-transfer-mode.html" in msg, msg
