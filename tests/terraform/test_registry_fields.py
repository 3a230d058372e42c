"""The registry fields Terraform deploys, and images
tagged by content.

platform.yaml gives each service an explicit, unique ALB listener rule
`priority`, `environment` and `secrets` (Secrets Manager, rendered as ECS
`valueFrom`, readable by the execution role and nothing else),
`log_retention_days`, `environments` (where it is deployed), `health_check`
and `autoscaling`; each job type `environment`, `secrets` and
`log_retention_days`. The Rust loader (shared/platform) refuses the same
registries as the compute module's variable validations checked here.

Three levels:
- the parsed HCL and platform.yaml (always run);
- terraform/locals.tf and the compute module's variables.tf evaluated with
  no provider (validation messages);
- the compute module applied with `terraform test` and a mock AWS provider
  (nothing is created anywhere): the rendered container definitions, IAM
  statements, listener rules, log groups and autoscaling.
The last two need a `terraform` binary (and the hashicorp/aws provider: a
local mirror as scripts/lib.sh tf_cli_config finds one, or the registry)."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import ROOT, TF, run_terraform_test, val

COMPUTE = TF / "modules" / "compute"
RETENTIONS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]


# --- the configuration as written ---


def test_listener_rule_priorities_are_the_registrys_explicit_unique_numbers(resources, platform):
    (rule,) = [r for r in resources("aws_lb_listener_rule") if r.module == "compute"]
    assert val(rule.body, "priority") == "${each.value.priority}", "the listener rule priority must come from services.<name>.priority"
    main = (COMPUTE / "main.tf").read_text(encoding="utf-8")
    assert not re.search(r"100\s*\+\s*i\b", main), "no priority computed from the sorted names (adding a service renumbered every later rule)"
    services = platform.get("services") or {}
    assert services, "platform.yaml registers no service"
    priorities = {name: s.get("priority") for name, s in services.items()}
    missing = sorted(n for n, p in priorities.items() if not isinstance(p, int) or not 1 <= p <= 50000)
    assert not missing, f"services without an explicit priority 1-50000 in platform.yaml: {missing}"
    assert len(set(priorities.values())) == len(priorities), f"listener rule priorities must be unique: {priorities}"


def test_the_registry_retention_values_are_cloudwatch_values(platform):
    for section in ("services", "jobs"):
        for name, entry in (platform.get(section) or {}).items():
            days = entry.get("log_retention_days")
            assert days is None or days in RETENTIONS, f"{section}.{name}.log_retention_days = {days}"


def test_the_variable_validations_list_the_same_retentions_as_the_rust_schema():
    task_rs = (ROOT / "shared" / "platform" / "src" / "task.rs").read_text(encoding="utf-8")
    m = re.search(r"LOG_RETENTION_DAYS: &\[u32\] = &\[(.*?)\];", task_rs, re.S)
    assert m, "shared/platform/src/task.rs has no LOG_RETENTION_DAYS"
    rust = [int(x) for x in re.findall(r"\d+", m.group(1))]
    assert rust == RETENTIONS
    variables = (COMPUTE / "variables.tf").read_text(encoding="utf-8")
    lists = re.findall(r"contains\(\[([0-9, ]+)\]", variables)
    assert len(lists) >= 2 and all([int(x) for x in lst.split(",")] == RETENTIONS for lst in lists), lists


def test_the_compute_module_tags_images_by_workload_and_nothing_uses_head():
    main = (COMPUTE / "main.tf").read_text(encoding="utf-8")
    assert "var.image_tags[s.workload]" in main and "var.image_tags[j.workload]" in main, "each image is its workload's content tag"
    for path in [*TF.rglob("*.tf"), *(ROOT / "mk").glob("*.mk"), ROOT / "Makefile", ROOT / "scripts" / "tf-local.sh"]:
        if ".terraform" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bvar\.image_tag\b|-var image_tag=|IMAGE_TAG\b", text), f"{path.relative_to(ROOT)} still uses the single image_tag"
    for path in (ROOT / "mk").glob("*.mk"):
        assert "git rev-parse" not in path.read_text(encoding="utf-8"), f"{path.relative_to(ROOT)}: no HEAD-based image tag"


def test_make_passes_the_content_tags_everywhere_terraform_runs():
    mk = (ROOT / "mk" / "deploy.mk").read_text(encoding="utf-8")
    assert re.search(r"^IMAGE_TAGS\b.*scripts/images\.py tags", mk, re.M), "IMAGE_TAGS comes from scripts/images.py tags"
    assert re.search(r"^TF_IMAGE_VARS = -var 'image_tags=\$\(IMAGE_TAGS\)'$", mk, re.M), "TF_IMAGE_VARS passes them as -var image_tags"
    commands = re.findall(r"\$\(TF\) (?:apply|destroy|console|plan)[^\n]*", mk)
    assert len(commands) >= 4, commands
    for cmd in commands:
        assert "$(TF_IMAGE_VARS)" in cmd, f"terraform runs without the content tags: {cmd}"
    deploy = mk.split("\ndeploy:", 1)[1].split("\n.PHONY", 1)[0]
    check, apply = deploy.find("images.py check"), deploy.find("$(TF) apply")
    assert 0 <= check < apply, "make deploy checks ECR holds every image before it applies"
    assert "$(VENV_PY)" in deploy or ".venv/bin/python" in deploy, "the check runs in the project venv (boto3)"
    local = (ROOT / "scripts" / "tf-local.sh").read_text(encoding="utf-8")
    assert "images.py tags" in local and "image_tags=" in local, "the local apply passes the same tags"


# --- Terraform, evaluated offline ---


@pytest.fixture
def terraform_binary():
    from test_offline_eval import TERRAFORM

    if TERRAFORM is None:
        pytest.skip("no terraform binary on PATH: offline evaluation not run")
    return TERRAFORM


STUB_VARS = (
    'variable "project" {\n  type    = string\n  default = "portcullis"\n}\n'
    'variable "environment" {\n  type    = string\n  default = "dev"\n}\n'
    'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
)


def evaluate(tmp_path, registry: str, environment: str = "dev", image_tags: str | None = None):
    """locals.tf over `registry`, fed to a module holding only the compute
    module's variables.tf (so its validations run, with no provider)."""
    from test_offline_eval import apply

    tf = tmp_path / f"case{len(list(tmp_path.glob('case*')))}" / "terraform"
    (tf / "compute").mkdir(parents=True)
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    (tf.parent / "platform.yaml").write_text(registry, encoding="utf-8")
    shutil.copy(COMPUTE / "variables.tf", tf / "compute" / "variables.tf")
    (tf / "compute" / "outputs.tf").write_text('output "services" { value = var.services }\n', encoding="utf-8")
    tags = image_tags if image_tags is not None else "{ for w in distinct(concat([for s in local.services : s.workload], [for j in local.jobs : j.workload])) : w => \"c-1\" }"
    (tf / "stub.tf").write_text(
        STUB_VARS.replace('default = "dev"', f'default = "{environment}"')
        + 'module "compute" {\n  source = "./compute"\n  name = "p"\n  vpc_id = "v"\n  subnet_ids = []\n'
        '  proxy_security_group_id = "s"\n  identity_secret_arns = { for k in keys(local.services) : k => "a" }\n  kms_key_arn = "k"\n'
        f"  services = local.services\n  jobs = local.jobs\n  image_tags = {tags}\n}}\n"
        'output "services" { value = module.compute.services }\n',
        encoding="utf-8",
    )
    return apply(tf)


def refused(tmp_path, registry: str, **kw) -> str:
    with pytest.raises(AssertionError) as failed:
        evaluate(tmp_path, registry, **kw)
    return " ".join(str(failed.value).split())


SVC = "    methods: [GET]\n"


def test_terraform_refuses_a_service_without_a_priority(tmp_path, terraform_binary):
    msg = refused(tmp_path, f"services:\n  a:\n{SVC}    priority: 1\n  b:\n{SVC}  c:\n{SVC}    priority: 50001\n")
    assert "priority" in msg and "Missing or out of range: b, c." in msg, msg


def test_terraform_refuses_two_services_with_one_priority(tmp_path, terraform_binary):
    msg = refused(tmp_path, f"services:\n  a:\n{SVC}    priority: 5\n  b:\n{SVC}    priority: 5\n  c:\n{SVC}    priority: 6\n")
    assert "share a listener rule priority" in msg and "Shared: 5: a, b." in msg, msg


def test_terraform_refuses_bad_retention_names_and_secret_references(tmp_path, terraform_binary):
    msg = refused(tmp_path, f"services:\n  a:\n{SVC}    priority: 1\n    log_retention_days: 10\n")
    assert "log_retention_days" in msg and "Refused: a." in msg, msg
    msg = refused(tmp_path, f"services:\n  a:\n{SVC}    priority: 1\n    environment: {{ IDENTITY_SECRET_PREVIOUS: x, OK: y }}\n")
    assert "set by the platform" in msg and "services.a.IDENTITY_SECRET_PREVIOUS" in msg and "services.a.OK" not in msg, msg
    msg = refused(tmp_path, f"services:\n  a:\n{SVC}    priority: 1\n    secrets: {{ PORT: s }}\n")
    assert "services.a.PORT" in msg, msg
    msg = refused(tmp_path, f"services:\n  a:\n{SVC}    priority: 1\n    secrets: {{ T: 'arn:aws:s3:::b', U: 'ok/name:key' }}\n")
    assert "not a Secrets Manager reference" in msg and "services.a.secrets.T" in msg and ".U" not in msg, msg
    msg = refused(tmp_path, "jobs:\n  j:\n    task_definition: f\n    timeout_seconds: 60\n    log_retention_days: 2\n")
    assert "jobs.<type>.log_retention_days" in msg and "Refused: j." in msg, msg


def test_terraform_names_the_workloads_without_an_image_tag(tmp_path, terraform_binary):
    registry = f"services:\n  a:\n{SVC}    priority: 1\n  b:\n{SVC}    priority: 2\n    image: public.ecr.aws/x/y:1\njobs:\n  j:\n    task_definition: f\n    timeout_seconds: 60\n"
    msg = refused(tmp_path, registry, image_tags='{ a = "c-1" }')
    assert "names no tag for these workloads" in msg and ": j." in msg and "make deploy" in msg, msg
    msg = refused(tmp_path, registry, image_tags='{ a = "c-1", j = "-bad" }')
    assert "must be Docker tags" in msg and "Refused: j." in msg, msg
    # `b` runs its own image: no tag needed.
    evaluate(tmp_path / "ok", registry, image_tags='{ a = "c-1", j = "c-2" }')


def test_a_service_disabled_in_an_environment_is_absent(tmp_path, terraform_binary):
    registry = f"services:\n  both:\n{SVC}    priority: 1\n  devonly:\n{SVC}    priority: 2\n    environments: [dev, local]\n  prodonly:\n{SVC}    priority: 3\n    environments: [prod]\n"
    assert set(evaluate(tmp_path / "dev", registry)["services"]) == {"both", "devonly"}
    assert set(evaluate(tmp_path / "prod", registry, environment="prod")["services"]) == {"both", "prodonly"}
    # Its workload needs no image tag where it is not deployed.
    evaluate(tmp_path / "tags", registry, environment="prod", image_tags='{ both = "c-1", prodonly = "c-1" }')


def test_the_repository_registry_passes_the_compute_validations(tmp_path, terraform_binary):
    out = evaluate(tmp_path, (ROOT / "platform.yaml").read_text(encoding="utf-8"))
    assert out["services"]["sample"]["priority"] == 100


# --- the compute module applied to a mock provider (terraform test) ---

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret"
REGISTRY = f"""
services:
  web:
    methods: [GET]
    priority: 20
    environment: {{ GREETING: hi }}
    secrets:
      TOKEN: portcullis/web/token:token
      DB_URL: {ARN}:db-AbCdEf
    log_retention_days: 14
    health_check: {{ path: /ready, interval_seconds: 30, timeout_seconds: 10, healthy_threshold: 3, unhealthy_threshold: 4, matcher: "200,204" }}
    autoscaling: {{ min: 2, max: 6, cpu_target: 70 }}
  api:
    methods: [GET]
    priority: 10
  prodonly:
    methods: [GET]
    priority: 30
    environments: [prod]
jobs:
  batch:
    task_definition: p-batch
    timeout_seconds: 60
    secrets: {{ KEY: portcullis/batch/key }}
    log_retention_days: 90
"""

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
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_lb" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mock/1" }
  }
  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/mock/1/2" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mock/1" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/mock", name = "mock" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mock:1" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = { arn = "arn:aws:ecr:eu-west-1:123456789012:repository/mock", repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
  }
  override_data {
    target = data.aws_secretsmanager_secret.named["portcullis/web/token"]
    values = { arn = "ARN:web-token-XyZ123" }
  }
  override_data {
    target = data.aws_secretsmanager_secret.named["portcullis/batch/key"]
    values = { arn = "ARN:batch-key-QwE456" }
  }
}
""".replace("ARN:", ARN + ":")

COMMON = """
variables {
  name                    = "pc-dev"
  vpc_id                  = "vpc-1"
  subnet_ids              = ["subnet-1"]
  proxy_security_group_id = "sg-1"
  identity_secret_arns    = { web = "IDENTITY", api = "IDENTITY", prodonly = "IDENTITY" }
  kms_key_arn             = "arn:aws:kms:eu-west-1:123456789012:key/1"
  image_tags              = { web = "c-web", api = "c-api", prodonly = "c-prod", batch = "c-batch" }
}
"""


def check(condition: str, message: str) -> str:
    message = message.replace('"', '\\"')
    return f'  assert {{\n    condition     = {condition}\n    error_message = "{message}"\n  }}\n'


def container(kind: str, key: str) -> str:
    return f'jsondecode(aws_ecs_task_definition.{kind}["{key}"].container_definitions)[0]'


def terraform_test(tmp_path, registry: str, runs: str):
    """The compute module as the root under test: a first run evaluates
    locals.tf over `registry` (once per environment), the next ones apply
    the module with its outputs to the mock provider."""
    from test_offline_eval import TERRAFORM

    root = tmp_path / "root"
    (root / "tests").mkdir(parents=True)
    for f in COMPUTE.glob("*.tf"):
        shutil.copy(f, root / f.name)
    for env in ("dev", "prod"):
        reg = root / f"registry-{env}"
        reg.mkdir()
        shutil.copy(TF / "locals.tf", reg / "locals.tf")
        (reg / "stub.tf").write_text(
            STUB_VARS.replace('default = "dev"', f'default = "{env}"')
            + 'output "services" { value = local.services }\noutput "jobs" { value = local.jobs }\n',
            encoding="utf-8",
        )
    (root / "platform.yaml").write_text(registry, encoding="utf-8")
    registry_runs = "".join(f'run "registry_{env}" {{\n  module {{\n    source = "./registry-{env}"\n  }}\n}}\n' for env in ("dev", "prod"))
    (root / "tests" / "registry.tftest.hcl").write_text(MOCKS + COMMON + registry_runs + runs, encoding="utf-8")
    return run_terraform_test(tmp_path, root)


def test_the_compute_module_deploys_the_registry_fields(tmp_path, terraform_binary):
    web, batch = container("service", "web"), container("job", "batch")
    stmts = lambda kind: f'[for s in data.aws_iam_policy_document.execution["{kind}"].statement : s if s.sid == "ReadTheRegistrySecrets"]'  # noqa: E731
    runs = (
        'run "dev" {\n  variables {\n    services = run.registry_dev.services\n    jobs = run.registry_dev.jobs\n  }\n'
        # listener rules: the registry's numbers; the prod-only service is absent everywhere
        + check('aws_lb_listener_rule.this["web"].priority == 20 && aws_lb_listener_rule.this["api"].priority == 10', "listener rule priorities are services.<name>.priority")
        + check('!contains(keys(aws_ecs_service.this), "prodonly") && !contains(keys(aws_lb_listener_rule.this), "prodonly") && !contains(keys(aws_ecs_task_definition.service), "prodonly") && !contains(keys(aws_lb_target_group.this), "prodonly") && !contains(keys(aws_cloudwatch_log_group.service), "prodonly")', "a service not enabled in dev has no resource")
        # environment and secrets in the container definitions
        + check(
            f'{{ for e in {web}.environment : e.name => e.value }} == {{ GREETING = "hi", PORT = "8080", BASE_PATH = "/web", PORTCULLIS_COOKIES = "none", PORTCULLIS_PUBLIC_PATH = "/v1/services/web" }}',
            "environment: the registry's plus PORT, BASE_PATH and the service kit's cookie policy and public path",
        )
        + check(
            f'{{ for e in {web}.secrets : e.name => e.valueFrom }} == {{ IDENTITY_SECRET = "IDENTITY", TOKEN = "{ARN}:web-token-XyZ123:token::", DB_URL = "{ARN}:db-AbCdEf" }}',
            "secrets: valueFrom is the looked-up ARN (+ :json-key::) or the ARN given",
        )
        + check(f'{{ for e in {batch}.secrets : e.name => e.valueFrom }} == {{ KEY = "{ARN}:batch-key-QwE456" }}', "job secrets")
        + check(f'{container("service", "api")}.secrets == [{{ name = "IDENTITY_SECRET", valueFrom = "IDENTITY" }}]', "a service without secrets gets the identity key only")
        # the execution roles read exactly their kind's secrets
        + check(f'length({stmts("service")}) == 1 && toset({stmts("service")}[0].resources) == toset(["{ARN}:db-AbCdEf", "{ARN}:web-token-XyZ123"])', "service execution role: exactly the services' secrets")
        + check(f'toset(flatten({stmts("service")}[0].actions)) == toset(["secretsmanager:GetSecretValue"])', "GetSecretValue only")
        + check(f'length({stmts("job")}) == 1 && toset({stmts("job")}[0].resources) == toset(["{ARN}:batch-key-QwE456"])', "job execution role: exactly the jobs' secrets")
        # log retention, health check, autoscaling
        + check('aws_cloudwatch_log_group.service["web"].retention_in_days == 14 && aws_cloudwatch_log_group.service["api"].retention_in_days == 365 && aws_cloudwatch_log_group.job["batch"].retention_in_days == 90', "log retention: the registry's, else var.log_retention_days")
        + check('one(aws_lb_target_group.this["web"].health_check).path == "/ready" && one(aws_lb_target_group.this["web"].health_check).interval == 30 && one(aws_lb_target_group.this["web"].health_check).timeout == 10 && one(aws_lb_target_group.this["web"].health_check).healthy_threshold == 3 && one(aws_lb_target_group.this["web"].health_check).unhealthy_threshold == 4 && one(aws_lb_target_group.this["web"].health_check).matcher == "200,204"', "health check from the registry")
        + check('aws_appautoscaling_target.this["web"].min_capacity == 2 && aws_appautoscaling_target.this["web"].max_capacity == 6 && one(aws_appautoscaling_policy.this["web"].target_tracking_scaling_policy_configuration).target_value == 70', "autoscaling from the registry")
        + check(f'{web}.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mock:c-web" && {batch}.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mock:c-batch"', "images at their workload's content tag")
        + "}\n"
        'run "prod" {\n  variables {\n    services = run.registry_prod.services\n    jobs = run.registry_prod.jobs\n  }\n'
        + check('contains(keys(aws_ecs_service.this), "prodonly") && aws_lb_listener_rule.this["prodonly"].priority == 30', "the prod-only service is deployed in prod")
        + "}\n"
    )
    out = terraform_test(tmp_path, REGISTRY, runs)
    assert "4 passed, 0 failed" in out, out
