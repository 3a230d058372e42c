"""Services with `integration: vpc_link`.

API Gateway reaches such a service over a VPC link (v2) to the internal ALB
(docs/decisions.md: no NLB), not through the proxy Lambda. Terraform:
- the api module makes `aws_apigatewayv2_vpc_link` in the private subnets
  with its own security group (out to the ALB listener only; the ALB admits
  it) exactly when a deployed service is vpc_link; the compute module, which
  owns the ALB, gives it the ALB's security group and listener port, and the
  root's moved blocks carry a state from when the compute module made them;
- the openapi module renders `/v1/services/<name>/{proxy+}` and the service's
  declared routes as `http_proxy` integrations with connectionType VPC_LINK,
  connectionId = the link, integrationTarget = the ALB, uri under the
  service's path_prefix, the seven identity headers mapped from the
  authorizer's context (static anonymous values on public routes, so a
  client's copies never pass), and no Lambda CORS preflight;
- the authorizer reads the vpc_link services' identity keys, the proxy only
  the lambda services' (environment and IAM).

The parsed-HCL checks always run; the evaluations need a `terraform` binary
(offline; the compute and api modules applied with `terraform test` and a
mock AWS provider, as test_registry_fields.py and test_private_api.py do)."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ROOT, TF, run_terraform_test, val
from test_offline_eval import ARNS, TERRAFORM, apply
from test_registry_fields import STUB_VARS, check, terraform_test

needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")

LINK = "vl0abc1"
ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/pc-dev-internal/50dc6c495c0c9188"
ALB_DNS = "internal-pc-dev-internal-1.eu-west-1.elb.amazonaws.com"
PROXY_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:portcullis-dev-proxy"
AUTHORIZER_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:portcullis-dev-authorizer"

# The identity headers: header => (signed source, anonymous value).
IDENTITY = {
    "x-portcullis-principal": ("context.authorizer.principal_id", "'anonymous'"),
    "x-portcullis-principal-type": ("context.authorizer.principal_type", "'anonymous'"),
    "x-portcullis-tenant": ("context.authorizer.tenant", "'(none)'"),
    "x-portcullis-scopes": ("context.authorizer.scopes", "'-'"),
    "x-portcullis-timestamp": ("context.authorizer.identity_timestamp", "'0'"),
    "x-portcullis-signature": ("context.authorizer.identity_signature", "'none'"),
    "x-portcullis-content-sha256": ("'UNSIGNED-PAYLOAD'", "'UNSIGNED-PAYLOAD'"),
}


# The caller's credentials, overwritten with a static value
# on every vpc_link operation (cookie: unless the service has cookies: own_path).
CREDENTIALS = ("authorization", "x-api-key", "cookie")
REMOVED = "'portcullis-removed'"


def mapping(public: bool, params=(), cookies: str = "none") -> dict:
    out = {f"integration.request.path.{p}": f"method.request.path.{p}" for p in params}
    out.update({f"integration.request.header.{h}": v[1] if public else v[0] for h, v in IDENTITY.items()})
    out.update({f"integration.request.header.{h}": REMOVED for h in CREDENTIALS if h != "cookie" or cookies != "own_path"})
    return out


def render(tmp_path, registry: str) -> dict:
    """terraform/locals.tf over `registry` feeding the openapi module as the
    root module does (main.tf), a fixed VPC link and ALB."""
    tf = tmp_path / "terraform"
    tf.mkdir(parents=True)
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    (tmp_path / "platform.yaml").write_text(registry, encoding="utf-8")
    (tf / "main.tf").write_text(
        STUB_VARS
        + f"""
module "openapi" {{
  source            = "{TF / 'modules' / 'openapi'}"
  source_path       = "{ROOT / 'api' / 'openapi.yaml'}"
  service_routes    = local.service_routes
  vpc_link_services = local.vpc_link_services
  lambda_services   = local.lambda_services
  vpc_link          = length(local.vpc_link_services) == 0 ? null : {{ connection_id = "{LINK}", integration_target = "{ALB_ARN}", alb_dns_name = "{ALB_DNS}" }}
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{ARNS}
  }}
}}
output "body" {{ value = module.openapi.body }}
output "path_function_arns" {{ value = module.openapi.path_function_arns }}
output "service_paths" {{ value = module.openapi.service_paths }}
output "vpc_link_services" {{ value = local.vpc_link_services }}
""",
        encoding="utf-8",
    )
    out = apply(tf)
    out["paths"] = json.loads(out["body"])["paths"]
    return out


def integration(op: dict) -> dict:
    return op["x-amazon-apigateway-integration"]


# --- the configuration as written ---


def test_the_root_wires_the_vpc_link_the_alb_and_the_vpc_link_services(module_calls, platform):
    openapi = module_calls["openapi"]
    assert val(openapi, "vpc_link_services") == "${local.vpc_link_services}"
    assert val(openapi, "lambda_services") == "${local.lambda_services}"
    link = str(val(openapi, "vpc_link"))
    for ref in ("module.api.vpc_link_id", "module.compute.alb_arn", "module.compute.alb_dns_name"):
        assert ref in link, f"module openapi: vpc_link must use {ref}: {link}"
    made = str(val(module_calls["api"], "vpc_link"))
    assert "length(local.vpc_link_services) == 0 ? None" in made, f"the link exists exactly when a deployed service is vpc_link: {made}"
    for ref in ("module.network.vpc_id", "module.network.private_subnet_ids", "module.compute.alb_security_group_id", "module.compute.alb_listener_port"):
        assert ref in made, f"module api: vpc_link must use {ref}: {made}"
    assert "vpc_link" not in module_calls["compute"], "the compute module no longer makes the link"
    assert "module.openapi.service_paths" in str(val(module_calls["api"], "private_api")), "choosing the generic service path on the private API brings the literal service paths along"
    assert val(module_calls["api"], "path_function_arns") == "${module.openapi.path_function_arns}"
    # The Cognito scopes (and so what tenants and keys may be granted) come
    # from every deployed service, vpc_link ones included.
    assert "keys(local.services)" in str(val(module_calls["auth"], "service_scopes"))
    web = platform["services"]["web"]
    assert web.get("integration") == "vpc_link" and web.get("path_prefix") == "/web", web
    assert platform["services"]["sample"].get("integration", "lambda") == "lambda"


VPC_LINK_RESOURCES = {
    "aws_apigatewayv2_vpc_link": "this",
    "aws_security_group": "vpc_link",
    "aws_vpc_security_group_egress_rule": "vpc_link_to_alb",
    "aws_vpc_security_group_ingress_rule": "alb_from_vpc_link",
}


def test_the_vpc_link_and_its_security_group_are_made_only_for_vpc_link_services(resources):
    link = [b for b in resources("aws_apigatewayv2_vpc_link")]
    assert [b.module for b in link] == ["api"] and val(link[0].body, "count") == "${local.vpc_link}", [b.address for b in link]
    assert val(link[0].body, "subnet_ids") == "${var.vpc_link.subnet_ids}", "the private subnets"
    assert val(link[0].body, "security_group_ids") == ["${aws_security_group.vpc_link[0].id}"], "its own security group"
    group = [b for b in resources("aws_security_group") if b.name == "vpc_link"]
    assert [b.module for b in group] == ["api"] and val(group[0].body, "vpc_id") == "${var.vpc_link.vpc_id}", [b.address for b in group]
    egress = [r for r in resources("aws_vpc_security_group_egress_rule") if val(r.body, "security_group_id") == "${aws_security_group.vpc_link[0].id}"]
    assert len(egress) == 1, [r.address for r in egress]
    body = egress[0].body
    assert val(body, "referenced_security_group_id") == "${var.vpc_link.alb_security_group_id}" and "cidr_ipv4" not in body, "out to the ALB only"
    assert val(body, "from_port") == val(body, "to_port") == "${var.vpc_link.alb_listener_port}", "the listener port only"
    ingress = [r for r in resources("aws_vpc_security_group_ingress_rule") if val(r.body, "security_group_id") == "${aws_security_group.vpc_link[0].id}"]
    assert ingress == [], "nothing connects to the VPC link's interfaces"
    alb_in = [r for r in resources("aws_vpc_security_group_ingress_rule") if val(r.body, "referenced_security_group_id") == "${aws_security_group.vpc_link[0].id}"]
    assert len(alb_in) == 1 and val(alb_in[0].body, "security_group_id") == "${var.vpc_link.alb_security_group_id}"
    assert val(alb_in[0].body, "from_port") == val(alb_in[0].body, "to_port") == "${var.vpc_link.alb_listener_port}"
    for kind, name in VPC_LINK_RESOURCES.items():
        assert [b.module for b in resources(kind) if b.name == name] == ["api"], f"{kind}.{name} lives in the api module only"


def test_a_state_from_when_the_compute_module_made_the_vpc_link_moves_without_replacement():
    """The root's moved blocks: each of the four resources from its address
    in the compute module to the same name in the api module (a plan against
    a state applied before shows moves, nothing destroyed)."""
    text = (TF / "moved.tf").read_text(encoding="utf-8")
    moves = set(re.findall(r"moved\s*\{\s*from\s*=\s*(\S+)\s*to\s*=\s*(\S+)\s*\}", text))
    assert moves == {(f"module.compute.{k}.{n}", f"module.api.{k}.{n}") for k, n in VPC_LINK_RESOURCES.items()}, moves


def test_listener_priorities_stay_explicit_and_unique_for_every_integration(resources, platform):
    """The Terraform tests check listener priorities are
    explicit and unique (test_registry_fields.py checks the rule and the
    validations; here the vpc_link service too: it is behind the same ALB)."""
    rule = [r for r in resources("aws_lb_listener_rule") if r.module == "compute"]
    assert len(rule) == 1 and val(rule[0].body, "for_each") == "${var.services}", "every service, whatever its integration, has its listener rule"
    assert val(rule[0].body, "priority") == "${each.value.priority}"
    priorities = {n: s.get("priority") for n, s in platform["services"].items()}
    assert all(isinstance(p, int) for p in priorities.values()) and len(set(priorities.values())) == len(priorities), priorities


# --- evaluated ---


@needs_terraform
def test_the_rendered_body_sends_web_over_the_vpc_link_and_sample_to_the_proxy(tmp_path):
    out = render(tmp_path, (ROOT / "platform.yaml").read_text(encoding="utf-8"))
    paths = out["paths"]
    web = out["vpc_link_services"]["web"]
    assert set(out["vpc_link_services"]) == {"web"} and {k: web[k] for k in ("path_prefix", "timeout_ms", "methods", "scope", "cookies")} == {"path_prefix": "/web", "timeout_ms": 29000, "methods": ["GET", "HEAD", "POST"], "scope": "services:web", "cookies": "none"}, out["vpc_link_services"]

    # /v1/services/web/{proxy+}: the service's methods (no ANY: a method it
    # does not list never reaches it), the authorizer, the VPC link.
    item = paths["/v1/services/web/{proxy+}"]
    assert set(item) == {"get", "head", "post"}, f"the service's methods and no Lambda preflight on a VPC link path: {set(item)}"
    for m, op in item.items():
        assert op["security"] == [{"portcullis": [], "api_key": []}], op["security"]
        assert op["parameters"] == [{"name": "proxy", "in": "path", "required": True, "schema": {"type": "string"}}]
        assert integration(op) == {
            "type": "http_proxy",
            "httpMethod": m.upper(),
            "connectionType": "VPC_LINK",
            "connectionId": LINK,
            "integrationTarget": ALB_ARN,
            "uri": f"http://{ALB_DNS}/web/{{proxy}}",
            "timeoutInMillis": 29000,
            "requestParameters": mapping(public=False, params=["proxy"]),
        }, m

    # Declared routes: public GET/HEAD with the static anonymous identity;
    # the service's other methods on the same path need its scope.
    home = paths["/v1/services/web/home"]
    assert set(home) == {"get", "head", "post"}, set(home)
    for m in ("get", "head"):
        assert home[m]["security"] == []
        assert integration(home[m])["requestParameters"] == mapping(public=True), m
        assert integration(home[m])["httpMethod"] == m.upper()
    assert home["post"]["security"] == [{"portcullis": [], "api_key": []}]
    assert integration(home["post"])["requestParameters"] == mapping(public=False)
    static = paths["/v1/services/web/static/{proxy+}"]
    assert set(static) == {"get", "head", "post"}
    assert integration(static["get"])["uri"] == f"http://{ALB_DNS}/web/static/{{proxy}}"
    assert integration(static["get"])["requestParameters"] == mapping(public=True, params=["proxy"])
    for item in (home, static):
        for m, op in item.items():
            i = integration(op)
            assert (i["type"], i["connectionType"], i["connectionId"], i["integrationTarget"], i["timeoutInMillis"]) == ("http_proxy", "VPC_LINK", LINK, ALB_ARN, 29000), (m, i)
            assert i["uri"].startswith(f"http://{ALB_DNS}/web/"), i["uri"]

    # sample stays on the proxy Lambda, with its preflights.
    generic = integration(paths["/v1/services/{service}/{proxy+}"]["x-amazon-apigateway-any-method"])
    assert generic["type"] == "aws_proxy" and PROXY_ARN in generic["uri"]
    for path in [p for p in paths if p.startswith("/v1/services/sample/")]:
        for m, op in paths[path].items():
            assert integration(op) == generic, (path, m)
        assert "options" in paths[path], f"{path}: the proxy answers its preflight"

    # The Lambdas API Gateway invokes per path: none but the authorizer on
    # web's paths (and not even that on its public-only ones).
    fns = out["path_function_arns"]
    assert fns["/v1/services/web/{proxy+}"] == [AUTHORIZER_ARN]
    assert fns["/v1/services/web/home"] == [AUTHORIZER_ARN], "POST /home is secured"
    assert PROXY_ARN in fns["/v1/services/{service}/{proxy+}"]
    assert not any(PROXY_ARN in arns for path, arns in fns.items() if path.startswith("/v1/services/web/"))
    assert {"/v1/services/web/{proxy+}", "/v1/services/web/home", "/v1/services/web/static/{proxy+}"} <= set(out["service_paths"])


@needs_terraform
def test_no_identity_header_reaches_a_vpc_link_service_from_the_client(tmp_path):
    """Every VPC link operation maps all seven identity headers (a mapping
    replaces the client's header), each from the authorizer's context on a
    secured operation or a literal on a public one: never from the request."""
    out = render(tmp_path, (ROOT / "platform.yaml").read_text(encoding="utf-8"))
    ops = [(p, m, op) for p, item in out["paths"].items() for m, op in item.items() if integration(op)["type"] == "http_proxy"]
    assert len(ops) >= 7, ops
    for path, m, op in ops:
        params = integration(op)["requestParameters"]
        secured = op.get("security") != []
        for header in IDENTITY:
            source = params.get(f"integration.request.header.{header}")
            assert source is not None, f"{m} {path}: {header} is not mapped, so the client's copy would pass"
            assert not source.startswith("method.request"), f"{m} {path}: {header} comes from the client: {source}"
            if secured:
                assert source.startswith("context.authorizer.") or source == "'UNSIGNED-PAYLOAD'", (path, m, header, source)
            else:
                assert re.fullmatch(r"'[^']*'", source), f"{m} {path}: a public route has no authorizer context: {header} = {source}"
        for key, source in params.items():
            if key.startswith("integration.request.header."):
                header = key.removeprefix("integration.request.header.")
                assert header in IDENTITY or (header in CREDENTIALS and source == REMOVED), f"{m} {path}: unexpected header mapping {key} = {source}"
            else:
                name = key.removeprefix("integration.request.path.")
                assert source == f"method.request.path.{name}", (key, source)


@needs_terraform
def test_a_vpc_link_service_listing_options_answers_preflights_itself(tmp_path):
    registry = (
        "services:\n  app:\n    integration: vpc_link\n    priority: 1\n    path_prefix: /app\n    timeout_ms: 5000\n"
        "    methods: [GET, PUT, OPTIONS]\n    routes:\n      - { path: '/items/{id}', methods: [GET], public: true }\n"
    )
    paths = render(tmp_path, registry)["paths"]
    proxy = paths["/v1/services/app/{proxy+}"]
    assert set(proxy) == {"get", "put", "options"}
    items = paths["/v1/services/app/items/{id}"]
    assert set(items) == {"get", "put", "options"}
    for op in (proxy["options"], items["options"]):
        assert op["security"] == [], "a preflight carries no credential"
        i = integration(op)
        assert i["type"] == "http_proxy" and i["connectionType"] == "VPC_LINK" and i["httpMethod"] == "OPTIONS", i
        assert all(i["requestParameters"][f"integration.request.header.{h}"] == v[1] for h, v in IDENTITY.items())
    assert integration(items["get"])["uri"] == f"http://{ALB_DNS}/app/items/{{id}}"
    assert integration(items["get"])["requestParameters"]["integration.request.path.id"] == "method.request.path.id"
    assert integration(items["put"])["timeoutInMillis"] == 5000
    assert "/v1/services/{service}/{proxy+}" in paths and "options" in paths["/v1/services/{service}/{proxy+}"]


@needs_terraform
def test_without_a_vpc_link_service_deployed_here_there_is_no_link_and_no_http_integration(tmp_path):
    """A vpc_link service limited to other environments counts for nothing
    here: no entry (so the root asks the compute module for no link) and no
    http_proxy operation."""
    out = render(tmp_path, "services:\n  sample:\n    priority: 100\n    methods: [GET]\n  later:\n    priority: 101\n    methods: [GET]\n    integration: vpc_link\n    environments: [prod]\n")
    assert out["vpc_link_services"] == {}
    assert "http_proxy" not in out["body"] and "VPC_LINK" not in out["body"] and "/v1/services/later/" not in out["body"]


@needs_terraform
def test_the_openapi_module_needs_the_vpc_link_for_vpc_link_services(tmp_path):
    (tmp_path / "main.tf").write_text(
        f"""
module "openapi" {{
  source            = "{TF / 'modules' / 'openapi'}"
  source_path       = "{ROOT / 'api' / 'openapi.yaml'}"
  vpc_link_services = {{ web = {{ path_prefix = "/web", timeout_ms = 29000, methods = ["GET"], scope = "services:web" }} }}
  template_vars = {{
    region = "eu-west-1"
    partition = "aws"
{ARNS}
  }}
}}
""",
        encoding="utf-8",
    )
    with pytest.raises(AssertionError) as e:
        apply(tmp_path)
    assert "vpc_link is required when some service has integration: vpc_link" in " ".join(str(e.value).split())


def local_definition(text: str, name: str) -> str:
    """`name = ...` of a locals block, up to its closing bracket."""
    m = re.search(rf"^  {name}\s*=\s*", text, re.M)
    assert m, f"local {name} not found"
    depth, i = 0, m.end()
    while True:
        c = text[i]
        depth += c in "{[("
        depth -= c in "}])"
        i += 1
        if depth == 0 and c in "}])":
            return text[m.start() : i]


@needs_terraform
def test_the_authorizer_gets_the_vpc_link_keys_and_the_proxy_the_lambda_ones(tmp_path, root_locals):
    """functions.tf's identity_secret_arns, read_identity_keys and the two
    IDENTITY_SECRET_ARNS values, evaluated over a registry with both kinds
    (one secret ARN per service stands for aws_secretsmanager_secret.identity)."""
    text = (TF / "functions.tf").read_text(encoding="utf-8")
    env = re.findall(r"^\s*IDENTITY_SECRET_ARNS\s*=\s*(join\(.*\))\s*$", text, re.M)
    assert len(env) == 2, env  # the authorizer's, then the proxy's
    tf = tmp_path / "terraform"
    tf.mkdir()
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    (tmp_path / "platform.yaml").write_text(
        "services:\n"
        "  sample:\n    priority: 1\n    methods: [GET]\n"
        "  other:\n    priority: 2\n    methods: [GET]\n    integration: lambda\n"
        "  web:\n    priority: 3\n    methods: [GET]\n    integration: vpc_link\n"
        "  later:\n    priority: 4\n    methods: [GET]\n    integration: vpc_link\n    environments: [prod]\n",
        encoding="utf-8",
    )
    defs = "\n".join(local_definition(text, n) for n in ("identity_secret_arns", "read_identity_keys"))
    (tf / "main.tf").write_text(
        STUB_VARS
        + "locals {\n"
        + '  stub_identity = { for s in keys(local.services) : s => { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pc/identity/${s}" } }\n'
        + defs.replace("aws_secretsmanager_secret.identity", "local.stub_identity")
        + "\n}\n"
        + f'output "authorizer_env" {{ value = {env[0]} }}\noutput "proxy_env" {{ value = {env[1]} }}\n'
        + 'output "reads" { value = local.read_identity_keys }\n',
        encoding="utf-8",
    )
    out = apply(tf)
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pc/identity/"
    assert out["authorizer_env"] == f"web={arn}web", out["authorizer_env"]
    assert out["proxy_env"] == f"other={arn}other,sample={arn}sample", out["proxy_env"]
    assert out["reads"]["vpc_link"] == [{"sid": "ReadTheIdentitySigningKeys", "actions": ["secretsmanager:GetSecretValue"], "resources": [f"{arn}web"]}]
    assert out["reads"]["lambda"][0]["resources"] == [f"{arn}other", f"{arn}sample"]
    functions = val(root_locals, "functions")
    assert "local.identity_secret_arns[\"vpc_link\"]" in str(functions["authorizer"]["environment"])
    assert "local.identity_secret_arns[\"lambda\"]" in str(functions["proxy"]["environment"])
    # Both read the keys of the services enabled here only: without the
    # environment they would want every service's key, and Terraform passes
    # the deployed ones' (a service limited to other environments would stop
    # them at start).
    for fn in ("authorizer", "proxy"):
        assert "'DEPLOYMENT_ENVIRONMENT': '${var.environment}'" in str(functions[fn]["environment"]), (fn, functions[fn]["environment"])

    # No service of a kind: no statement (IAM refuses an empty resource list).
    (tmp_path / "platform.yaml").write_text("services:\n  sample:\n    priority: 1\n    methods: [GET]\n", encoding="utf-8")
    out = apply(tf)
    assert out["authorizer_env"] == "" and out["reads"]["vpc_link"] == [], out


REGISTRY = """
services:
  web:
    methods: [GET]
    priority: 20
  api:
    methods: [GET]
    priority: 10
  prodonly:
    methods: [GET]
    priority: 30
    environments: [prod]
jobs: {}
"""


@needs_terraform
def test_the_compute_module_gives_the_vpc_link_the_albs_group_and_listener_port(tmp_path):
    runs = (
        'run "prod" {\n  variables {\n    services = run.registry_prod.services\n    jobs = run.registry_prod.jobs\n  }\n'
        + check("output.alb_arn == aws_lb.this.arn && output.alb_security_group_id == aws_security_group.alb.id && output.alb_listener_port == 80 && output.alb_listener_port == aws_lb_listener.this.port", "outputs: the ALB's ARN, its security group and its listener port")
        + check('contains(keys(aws_ecs_service.this), "prodonly") && aws_lb_listener_rule.this["prodonly"].priority == 30 && contains(keys(aws_lb_target_group.this), "prodonly")', "every service keeps its ECS service, target group and listener rule")
        + "}\n"
    )
    out = terraform_test(tmp_path, REGISTRY, runs)
    assert "3 passed, 0 failed" in out, out


@needs_terraform
def test_the_api_module_makes_the_vpc_link_and_its_security_group_only_when_asked(tmp_path):
    from test_private_api import API, OPENAPI, api_module_header, module_root

    link = "aws_apigatewayv2_vpc_link.this[0]"
    sg = "aws_security_group.vpc_link[0]"
    egress = "aws_vpc_security_group_egress_rule.vpc_link_to_alb[0]"
    ingress = "aws_vpc_security_group_ingress_rule.alb_from_vpc_link[0]"
    asked = '{ vpc_id = "vpc-1", subnet_ids = ["subnet-1", "subnet-2"], alb_security_group_id = "sg-alb", alb_listener_port = 80 }'
    tests = (
        api_module_header()
        # no vpc_link service deployed (the root's vpc_link = null): no link at all
        + 'run "none" {\n  variables {\n    body = run.render.body\n  }\n'
        + check(
            "length(aws_apigatewayv2_vpc_link.this) == 0 && length(aws_security_group.vpc_link) == 0 && length(aws_vpc_security_group_egress_rule.vpc_link_to_alb) == 0 && length(aws_vpc_security_group_ingress_rule.alb_from_vpc_link) == 0",
            "no VPC link, security group or rule when no deployed service is vpc_link",
        )
        + check("output.vpc_link_id == null && output.vpc_link_security_group_id == null", "null outputs without a link")
        + "}\n"
        # asked: one link in the private subnets, its own group, to the listener only
        + f'run "asked" {{\n  variables {{\n    body = run.render.body\n    vpc_link = {asked}\n  }}\n'
        + check(f'toset({link}.subnet_ids) == toset(["subnet-1", "subnet-2"]) && toset({link}.security_group_ids) == toset([{sg}.id]) && {link}.name == "pc-dev-alb"', "the link is in the private subnets with its own security group")
        + check(f'{sg}.id != "sg-alb" && {sg}.vpc_id == "vpc-1" && {sg}.name == "pc-dev-vpc-link"', "its own group in the platform's VPC")
        + check(
            f'{egress}.security_group_id == {sg}.id && {egress}.referenced_security_group_id == "sg-alb" && {egress}.from_port == 80 && {egress}.to_port == 80 && {egress}.ip_protocol == "tcp" && {egress}.cidr_ipv4 == null',
            "egress: TCP to the ALB's security group on the listener port only",
        )
        + check(
            f'{ingress}.security_group_id == "sg-alb" && {ingress}.referenced_security_group_id == {sg}.id && {ingress}.from_port == 80 && {ingress}.to_port == 80 && {ingress}.ip_protocol == "tcp"',
            "the ALB admits the link on the listener port",
        )
        + check(f"output.vpc_link_id == {link}.id && output.vpc_link_security_group_id == {sg}.id", "outputs: the link and the link's group")
        + "}\n"
    )
    root = module_root(tmp_path, API, tests)
    shutil.copytree(OPENAPI, root / "openapi")
    out = run_terraform_test(tmp_path, root)
    assert "3 passed, 0 failed" in out, out
