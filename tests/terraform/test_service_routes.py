"""Public and per-method (read vs write) routes per service.

platform.yaml `services.<name>.routes` declares routes that need no
credential (`public: true`) or their own scope (`scope: services:<name>` or
`services:<name>.<word>`). Terraform (terraform/locals.tf -> the openapi
module's `service_routes`) renders each as the literal path
`/v1/services/<name><path>` with one operation per method integrating the
proxy Lambda like the generic `{service}/{proxy+}` route: public operations
without security (API Gateway runs no authorizer and wants no API key),
scoped ones with the usual security. The module's variable validations
refuse what shared/platform refuses; the route scopes become Cognito
resource-server scopes.

The parsed-HCL checks always run; the evaluations need a `terraform` binary
(offline, no provider)."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import ROOT, TF, val
from test_offline_eval import ARNS, TERRAFORM, apply

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")

GENERIC = "/v1/services/{service}/{proxy+}"

SAMPLE_ROUTES = """{
    sample = {
      methods = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]
      scope   = "services:sample"
      routes = [
        { path = "/items", methods = ["GET", "HEAD"], public = true },
        { path = "/items/{id}", methods = ["GET"], public = true },
        { path = "/items/{id}", methods = ["PUT", "DELETE"], scope = "services:sample.write" },
      ]
    }
  }"""


def render(tmp_path, service_routes: str) -> dict:
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source         = "{TF / 'modules' / 'openapi'}"
  source_path    = "{ROOT / 'api' / 'openapi.yaml'}"
  service_routes = {service_routes}
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{ARNS}
  }}
}}
output "body" {{ value = module.openapi.body }}
output "routes" {{ value = module.openapi.routes }}
"""
    )
    return apply(tmp_path)


# --- the configuration as written ---


def test_the_root_passes_the_registrys_routes_and_their_scopes(module_calls, platform):
    assert val(module_calls["openapi"], "service_routes") == "${local.service_routes}", "module openapi: service_routes = local.service_routes"
    scopes = str(val(module_calls["auth"], "service_scopes"))
    assert "local.service_route_scopes" in scopes, f"module auth: the route scopes must be Cognito scopes too: {scopes}"
    routes = (platform["services"]["sample"]).get("routes") or []
    public = [r for r in routes if r.get("public") is True]
    scoped = [r for r in routes if r.get("scope") == "services:sample.write"]
    assert any("GET" in r["methods"] and r["path"].startswith("/items") for r in public), f"platform.yaml: the sample declares a public GET /items... route: {routes}"
    assert any(set(r["methods"]) & {"PUT", "POST", "DELETE"} for r in scoped), f"platform.yaml: the sample declares a write route needing services:sample.write: {routes}"


# --- evaluated ---


@needs_terraform
def test_declared_routes_become_literal_paths_public_ones_without_security(tmp_path):
    out = render(tmp_path, SAMPLE_ROUTES)
    body = json.loads(out["body"])
    paths = body["paths"]
    assert "x-portcullis" not in out["body"]
    generic = paths[GENERIC]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"]
    items, item = paths["/v1/services/sample/items"], paths["/v1/services/sample/items/{id}"]
    # Every method of the service: API Gateway never falls back to the
    # generic path for a method a literal path lacks.
    assert set(items) == {"get", "head", "put", "delete", "options"}, set(items)
    assert set(item) == {"get", "head", "put", "delete", "options"}, set(item)
    for op in (items["get"], items["head"], item["get"]):
        assert op["security"] == [], f"a public operation has no security (no authorizer, no API key): {op}"
    for op in (item["put"], item["delete"], items["put"], item["head"]):
        assert op["security"] == [{"portcullis": [], "api_key": []}], op["security"]
    assert "services:sample.write" in item["put"]["summary"] and "services:sample" in items["put"]["summary"]
    for path in (items, item):
        for method, op in path.items():
            assert op["x-amazon-apigateway-integration"] == generic, f"{method}: the proxy Lambda's integration"
    assert item["put"]["parameters"] == [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    assert items["options"]["security"] == [], "preflights stay unauthenticated"
    routes = {(r["method"], r["path"]) for r in out["routes"]}
    assert {("GET", "/v1/services/sample/items"), ("PUT", "/v1/services/sample/items/{id}")} <= routes
    # Nothing declared: the body is the contract's.
    assert GENERIC in paths


@needs_terraform
@pytest.mark.parametrize(
    "route, says",
    [
        ('{ path = "items", methods = ["GET"], public = true }', "routes[].path"),
        ('{ path = "/a/{p+}/b", methods = ["GET"], public = true }', "routes[].path"),
        ('{ path = "/{service}", methods = ["GET"], public = true }', "routes[].path"),
        ('{ path = "/../x", methods = ["GET"], public = true }', "routes[].path"),
        ('{ path = "/items", methods = ["POST"], public = true }', "each one of the service's methods"),
        ('{ path = "/items", methods = ["GET", "PUT"], public = true }', "a public route takes no POST, PUT"),
        ('{ path = "/items", methods = ["GET"] }', "either public: true or has a scope"),
        ('{ path = "/items", methods = ["GET"], public = true, scope = "services:sample" }', "either public: true or has a scope"),
        ('{ path = "/items", methods = ["GET"], scope = "services:other.write" }', "of the same service"),
        ('{ path = "/items", methods = ["GET"], scope = "jobs:write" }', "of the same service"),
        ('{ path = "/items", methods = ["GET"], public = true }, { path = "/items", methods = ["GET"], scope = "services:sample" }', "declared twice"),
        ('{ path = "/items/{id}", methods = ["GET"], public = true }, { path = "/items/{key}", methods = ["PUT"], scope = "services:sample" }', "differ only in parameter names"),
    ],
)
def test_the_module_refuses_what_the_rust_registry_refuses(tmp_path, route, says):
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source         = "{TF / 'modules' / 'openapi'}"
  source_path    = "{ROOT / 'api' / 'openapi.yaml'}"
  service_routes = {{ sample = {{ methods = ["GET", "PUT"], scope = "services:sample", routes = [{route}] }} }}
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{ARNS}
  }}
}}
"""
    )
    with pytest.raises(AssertionError) as e:
        apply(tmp_path)
    assert says in " ".join(str(e.value).split()), str(e.value)


@needs_terraform
def test_the_registry_routes_and_route_scopes_are_read_from_platform_yaml(tmp_path):
    tf = tmp_path / "terraform"
    tf.mkdir()
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    (tmp_path / "platform.yaml").write_text(
        "services:\n"
        "  sample:\n    priority: 100\n    methods: [get, put]\n    routes:\n"
        "      - { path: /items, methods: [get], public: true }\n"
        "      - { path: '/items/{id}', methods: [put], scope: 'services:sample.write' }\n"
        "      - { path: '/admin', methods: [put], scope: 'services:sample' }\n"
        "  plain:\n    priority: 101\n    methods: [GET]\n"
        "  elsewhere:\n    priority: 102\n    methods: [GET]\n    environments: [prod]\n"
        "    routes: [{ path: /x, methods: [GET], scope: 'services:elsewhere.read' }]\n"
    )
    (tf / "stub.tf").write_text(
        'variable "project" {\n  type    = string\n  default = "p"\n}\n'
        'variable "environment" {\n  type    = string\n  default = "dev"\n}\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
        'output "routes" { value = local.service_routes }\noutput "scopes" { value = local.service_route_scopes }\n'
    )
    out = apply(tf)
    assert set(out["routes"]) == {"sample"}, "only services deployed here that declare routes"
    sample = out["routes"]["sample"]
    assert sample["methods"] == ["GET", "PUT"] and sample["scope"] == "services:sample"
    assert sample["routes"][0] == {"path": "/items", "methods": ["GET"], "public": True, "scope": None, "response_transfer_mode": None}
    assert sample["routes"][1]["scope"] == "services:sample.write"
    assert out["scopes"] == ["sample.write"], "each route scope other than services:<name> is a Cognito scope services.<name>.<word>"
