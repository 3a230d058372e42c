"""Alarms, the dashboard, the ALB's access-log bucket and the services'
container health checks; and the cross-check of the code's metric names.

Three levels:
- the observability module planned on its own with the real hashicorp/aws
  provider, offline (no data source, fake credentials, nothing is called):
  `terraform show -json` of the plan gives every alarm and the rendered
  dashboard body as AWS would receive them;
- the compute module applied to a mock AWS provider (`terraform test`):
  the task definitions' healthCheck and the access-log bucket;
- the configuration as written (python-hcl2): the root's wiring.

THE CROSS-CHECK: every alarm and dashboard metric in the code's namespace
(`Portcullis`) must be one the code can emit, with one of its dimension
sets, as printed by `cargo run -q -p portcullis-core --example
metrics-catalogue` (the catalogue in shared/core/src/metrics.rs).

The terraform levels need a `terraform` binary and hashicorp/aws (a local
mirror, or the registry), as test_private_api.py does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap

import pytest

from conftest import ROOT, TF, run_terraform_test, val

OBSERVABILITY = TF / "modules" / "observability"
COMPUTE = TF / "modules" / "compute"
NAMESPACE = "Portcullis"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:pc-dev-alarms"
FUNCTIONS = ["authorizer", "jobs", "proxy", "keys", "task-events", "reconciler", "migrate"]
SERVICES = ["sample", "web"]

# --- the catalogue the code can emit ---

PRINTER = ["cargo", "run", "-q", "-p", "portcullis-core", "--example", "metrics-catalogue"]


def code_catalogue() -> dict[str, list[list[str]]]:
    """Metric name -> its dimension sets, from the Rust printer."""
    r = subprocess.run(PRINTER, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    assert r.returncode == 0, f"{' '.join(PRINTER)} failed (exit {r.returncode}):\n{r.stderr}"
    doc = json.loads(r.stdout)
    assert doc["namespace"] == NAMESPACE, f"the code's namespace is {doc['namespace']}, the alarms use {NAMESPACE}"
    return {m["name"]: [list(d) for d in m["dimensions"]] for m in doc["metrics"]}


@pytest.fixture(scope="session")
def catalogue() -> dict[str, list[list[str]]]:
    cat = code_catalogue()
    assert cat, "the printer listed no metric"
    return cat


def code_metric_uses(alarms: list[dict], dashboard: dict) -> list[tuple[str, str, list[str]]]:
    """(where, metric name, dimension names) of every use of the code's namespace."""
    uses = []
    for a in alarms:
        for ns, name, dims in alarm_metrics(a):
            if ns == NAMESPACE:
                uses.append((f"alarm {a['alarm_name']}", name, sorted(dims)))
    for w in dashboard["widgets"]:
        for m in widget_metrics(w):
            if m["namespace"] == NAMESPACE:
                uses.append((f"dashboard widget {w['properties']['title']!r}", m["name"], sorted(m["dimensions"])))
    return uses


def mismatches(uses, catalogue) -> list[str]:
    out = []
    for where, name, dims in uses:
        if name not in catalogue:
            out.append(f"{where}: {NAMESPACE}/{name} is not a metric the code emits")
        elif dims not in [sorted(d) for d in catalogue[name]]:
            out.append(f"{where}: {NAMESPACE}/{name} with dimensions {dims}: the code emits it with {catalogue[name]} only")
    return out


# --- planning the observability module offline ---


@pytest.fixture(scope="session")
def terraform_binary():
    from test_offline_eval import TERRAFORM

    if TERRAFORM is None:
        pytest.skip("no terraform binary on PATH: the module is not planned")
    return TERRAFORM


def tf_env(tmp_path) -> dict:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    env.pop("AWS_ENDPOINT_URL", None)
    env.pop("AWS_PROFILE", None)
    mirror = next(
        (d for d in [os.environ.get("PORTCULLIS_TF_MIRROR"), "/opt/tf-plugins", os.path.expanduser("~/.terraform.d/plugins")] if d and os.path.isdir(os.path.join(d, "registry.terraform.io", "hashicorp", "aws"))),
        None,
    )
    rc = tmp_path / "terraformrc"
    rc.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["registry.terraform.io/hashicorp/*"]\n  }}\n  direct {{\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }}\n}}\n' if mirror else "",
        encoding="utf-8",
    )
    env["TF_CLI_CONFIG_FILE"] = str(rc)
    return env


def observability_root(module_dir) -> str:
    functions = ",\n".join(f'    "{f}" = "pc-dev-{f}"' for f in FUNCTIONS)
    return textwrap.dedent(
        """
        provider "aws" {
          region                      = "eu-west-1"
          skip_credentials_validation = true
          skip_requesting_account_id  = true
          skip_metadata_api_check     = true
          skip_region_validation      = true
        }
        """
    ) + f"""
module "observability" {{
  source                 = "{module_dir}"
  name                   = "pc-dev"
  region                 = "eu-west-1"
  environment            = "dev"
  alarm_topic_arn        = "{TOPIC}"
  api_stage              = "v1"
  api_routes             = [{{ path = "/v1/jobs", method = "POST" }}, {{ path = "/v1/services/{{service}}/{{proxy+}}", method = "ANY" }}]
  function_names = {{
{functions}
  }}
  cluster_name              = "pc-dev"
  service_names             = {{ sample = "sample", web = "web" }}
  alb_arn_suffix            = "app/pc-dev-internal/50dc6c495c0c9188"
  target_group_arn_suffixes = {{ sample = "targetgroup/pc-dev-sample/1", web = "targetgroup/pc-dev-web/2" }}
  db_instance_identifier    = "pc-dev"
  api_5xx_rate_percent      = null
}}
"""


def plan(tmp_path, terraform_binary, module_dir=OBSERVABILITY) -> dict:
    """`terraform plan` + `show -json` of the module with literal inputs:
    resource address -> planned values."""
    root = tmp_path / "plan"
    root.mkdir()
    (root / "main.tf").write_text(observability_root(module_dir), encoding="utf-8")
    env = tf_env(tmp_path)
    for cmd in (["init", "-input=false", "-no-color"], ["plan", "-input=false", "-no-color", "-out=plan.bin"]):
        r = subprocess.run([terraform_binary, *cmd], cwd=root, capture_output=True, text=True, env=env, timeout=300, check=False)
        assert r.returncode == 0, f"terraform {cmd[0]} failed:\n{r.stdout}\n{r.stderr}"
    r = subprocess.run([terraform_binary, "show", "-json", "plan.bin"], cwd=root, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    resources = json.loads(r.stdout)["planned_values"]["root_module"]["child_modules"][0]["resources"]
    return {res["address"]: res["values"] for res in resources}


@pytest.fixture(scope="module")
def planned(tmp_path_factory, terraform_binary) -> dict:
    return plan(tmp_path_factory.mktemp("observability"), terraform_binary)


def alarms_of(planned) -> list[dict]:
    return [v for a, v in planned.items() if ".aws_cloudwatch_metric_alarm." in a]


def dashboard_of(planned) -> dict:
    (body,) = [v["dashboard_body"] for a, v in planned.items() if ".aws_cloudwatch_dashboard." in a]
    return json.loads(body)


def alarm_metrics(alarm: dict) -> list[tuple[str, str, dict]]:
    """(namespace, metric name, dimensions) of an alarm: its metric, or each
    metric of its metric math."""
    if alarm.get("metric_name"):
        return [(alarm["namespace"], alarm["metric_name"], alarm.get("dimensions") or {})]
    return [(m["namespace"], m["metric_name"], m.get("dimensions") or {}) for q in alarm.get("metric_query") or [] for m in q.get("metric") or []]


def widget_metrics(widget: dict) -> list[dict]:
    """A metric widget's metrics: [namespace, name, dim, value, ..., {options}]."""
    out = []
    for m in widget["properties"]["metrics"]:
        opts = m[-1] if isinstance(m[-1], dict) else {}
        parts = m[:-1] if opts else m
        ns, name, rest = parts[0], parts[1], parts[2:]
        assert len(rest) % 2 == 0, f"widget {widget['properties']['title']}: odd dimension list {m}"
        out.append({"namespace": ns, "name": name, "dimensions": dict(zip(rest[::2], rest[1::2])), "stat": opts.get("stat")})
    return out


# --- THE CROSS-CHECK ---


def test_every_alarm_and_dashboard_metric_in_the_code_namespace_is_one_the_code_emits(planned, catalogue):
    uses = code_metric_uses(alarms_of(planned), dashboard_of(planned))
    assert {name for _, name, _ in uses} >= {"AuthorizerDecision", "JobFailed", "JobSucceeded", "JobTimedOut", "ApiKeyCount", "JobQueueWait", "ProxyUpstreamLatency"}, "the alarms and dashboard use the code's metrics"
    bad = mismatches(uses, catalogue)
    assert not bad, "Terraform names metrics the code does not emit:\n" + "\n".join(bad)


def test_the_cross_check_catches_a_renamed_metric(planned, catalogue):
    """The check itself: one alarm metric renamed is reported."""
    alarms = json.loads(json.dumps(alarms_of(planned)))
    (rate,) = [a for a in alarms if a["alarm_name"] == "pc-dev-job-failure-rate"]
    for q in rate["metric_query"]:
        for m in q.get("metric") or []:
            if m["metric_name"] == "JobFailed":
                m["metric_name"] = "JobsFailed"
    bad = mismatches(code_metric_uses(alarms, dashboard_of(planned)), catalogue)
    assert bad == ["alarm pc-dev-job-failure-rate: Portcullis/JobsFailed is not a metric the code emits"], bad


# --- the alarms ---


def test_the_alarms_cover_the_api_functions_services_database_and_jobs(planned):
    names = {a["alarm_name"] for a in alarms_of(planned)}
    want = {
        "pc-dev-api-5xx-rate",
        "pc-dev-api-latency-p99",
        "pc-dev-authorizer-errors",
        "pc-dev-db-cpu",
        "pc-dev-db-free-storage",
        "pc-dev-db-connections",
        "pc-dev-job-failure-rate",
        "pc-dev-api-key-count",
        *(f"pc-dev-{f}-throttles" for f in FUNCTIONS),
        *(f"pc-dev-{s}-target-5xx" for s in SERVICES),
        *(f"pc-dev-{s}-unhealthy-hosts" for s in SERVICES),
        *(f"pc-dev-{s}-running-below-desired" for s in SERVICES),
    }
    assert names == want, f"missing {sorted(want - names)}, unexpected {sorted(names - want)}"


def test_every_alarm_notifies_the_one_topic_and_chooses_its_missing_data(planned):
    for a in alarms_of(planned):
        assert a["alarm_actions"] == [TOPIC], a["alarm_name"]
        assert a["treat_missing_data"] in {"notBreaching", "missing", "breaching"}, a["alarm_name"]
        assert a["alarm_description"] and "docs/observability.md#alarms" in a["alarm_description"], f"{a['alarm_name']}: its description points at the runbook"


def by_name(planned) -> dict[str, dict]:
    return {a["alarm_name"]: a for a in alarms_of(planned)}


def queries(alarm) -> dict[str, dict]:
    return {q["id"]: q for q in alarm["metric_query"]}


def test_the_api_alarms_read_the_public_apis_stage(planned):
    a = by_name(planned)
    rate = queries(a["pc-dev-api-5xx-rate"])
    assert rate["rate"]["return_data"] and rate["rate"]["expression"] == "IF(requests >= 20, 100 * errors / requests, 0)"
    for q, metric in (("errors", "5XXError"), ("requests", "Count")):
        (m,) = rate[q]["metric"]
        assert (m["namespace"], m["metric_name"], m["dimensions"], m["stat"]) == ("AWS/ApiGateway", metric, {"ApiName": "pc-dev", "Stage": "v1"}, "Sum")
    assert a["pc-dev-api-5xx-rate"]["threshold"] == 5, "a null threshold takes the module's default"
    p99 = a["pc-dev-api-latency-p99"]
    assert (p99["namespace"], p99["metric_name"], p99["extended_statistic"], p99["threshold"]) == ("AWS/ApiGateway", "Latency", "p99", 3000)


def test_the_service_alarms_are_per_target_group_and_service(planned):
    a = by_name(planned)
    for s, suffix in (("sample", "targetgroup/pc-dev-sample/1"), ("web", "targetgroup/pc-dev-web/2")):
        dims = {"LoadBalancer": "app/pc-dev-internal/50dc6c495c0c9188", "TargetGroup": suffix}
        assert (a[f"pc-dev-{s}-target-5xx"]["metric_name"], a[f"pc-dev-{s}-target-5xx"]["dimensions"]) == ("HTTPCode_Target_5XX_Count", dims)
        assert (a[f"pc-dev-{s}-unhealthy-hosts"]["metric_name"], a[f"pc-dev-{s}-unhealthy-hosts"]["dimensions"]) == ("UnHealthyHostCount", dims)
        ecs = a[f"pc-dev-{s}-running-below-desired"]
        q = queries(ecs)
        assert q["missing_tasks"]["expression"] == "desired - running" and q["missing_tasks"]["return_data"]
        for qid, metric in (("running", "RunningTaskCount"), ("desired", "DesiredTaskCount")):
            (m,) = q[qid]["metric"]
            assert (m["namespace"], m["metric_name"], m["dimensions"]) == ("ECS/ContainerInsights", metric, {"ClusterName": "pc-dev", "ServiceName": s})
        assert ecs["treat_missing_data"] == "breaching" and ecs["evaluation_periods"] == 10


def test_the_job_failure_rate_and_key_count_alarms(planned):
    a = by_name(planned)
    q = queries(a["pc-dev-job-failure-rate"])
    assert q["failure_rate"]["return_data"] and "100 * FILL(failed, 0) / finished" in q["failure_rate"]["expression"]
    assert q["finished"]["expression"] == "FILL(succeeded, 0) + FILL(failed, 0) + FILL(timed_out, 0)"
    for qid, metric in (("succeeded", "JobSucceeded"), ("failed", "JobFailed"), ("timed_out", "JobTimedOut")):
        (m,) = q[qid]["metric"]
        assert (m["namespace"], m["metric_name"], m["dimensions"]) == (NAMESPACE, metric, {"Environment": "dev"})
    keys = a["pc-dev-api-key-count"]
    assert (keys["namespace"], keys["metric_name"], keys["dimensions"], keys["threshold"], keys["comparison_operator"]) == (NAMESPACE, "ApiKeyCount", {"Environment": "dev"}, 9000, "GreaterThanOrEqualToThreshold")


# --- the dashboard ---


def test_the_dashboard_shows_routes_authorizer_jobs_services_and_database(planned):
    body = dashboard_of(planned)
    widgets = {w["properties"]["title"]: widget_metrics(w) for w in body["widgets"]}
    for w in body["widgets"]:
        assert w["type"] == "metric" and w["properties"]["region"] == "eu-west-1"
    routes = widgets["API: requests by route"]
    assert {(m["dimensions"]["Method"], m["dimensions"]["Resource"]) for m in routes} == {("POST", "/v1/jobs"), ("ANY", "/v1/services/{service}/{proxy+}")}
    outcomes = {m["dimensions"]["Outcome"] for m in widgets["Authorizer: decisions by outcome"]}
    assert outcomes == {"allowed", "no_credential", "bad_key", "revoked", "expired", "bad_token", "tenant_not_provisioned", "scope_missing", "error"}
    assert [m["name"] for m in widgets["Jobs: submitted -> started -> outcome"]][:3] == ["JobSubmitted", "JobDeduplicated", "JobStarted"]
    assert {(m["name"], m["stat"]) for m in widgets["Jobs: queue wait and run time (ms)"]} >= {("JobQueueWait", "p50"), ("JobQueueWait", "p99")}
    assert {m["dimensions"]["Service"] for m in widgets["Services: proxy upstream latency p99 (ms)"]} == set(SERVICES)
    assert {m["name"] for m in widgets["Services: ALB target response time p99 (s)"]} == {"TargetResponseTime"}
    assert {m["name"] for m in widgets["Services: healthy and unhealthy targets"]} == {"HealthyHostCount", "UnHealthyHostCount"}
    assert {m["name"] for m in widgets["Database: CPU % and connections"]} == {"CPUUtilization", "DatabaseConnections"}


# --- the compute module: container health checks and the access-log bucket ---

COMPUTE_TESTS = """
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
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::pc-dev-alb-logs-123456789012" }
  }
  mock_resource "aws_lb" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/pc-dev-internal/1" }
  }
  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/pc-dev-internal/1/2" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/pc-dev/3" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/pc-dev" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/pc-dev:1" }
  }
}

variables {
  name                    = "pc-dev"
  vpc_id                  = "vpc-1"
  subnet_ids              = ["subnet-1", "subnet-2"]
  jobs                    = {}
  image_tags              = { sample-service = "c-1", odd = "c-2" }
  proxy_security_group_id = "sg-1"
  identity_secret_arns    = { sample = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s", odd = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:o" }
  kms_key_arn             = "arn:aws:kms:eu-west-1:123456789012:key/1"
  log_retention_days      = 30
  alb_deletion_protection = false
  ecr_force_delete        = true
  cpu_architecture        = "ARM64"
  services = {
    sample = {
      workload = "sample-service", port = 8080, path_prefix = "/sample", priority = 100
      health_check = { path = "/health", interval_seconds = 15, timeout_seconds = 5, healthy_threshold = 2, unhealthy_threshold = 3, matcher = "200" }
      desired_count = 1, min_count = 1, max_count = 2, cpu_target = 60, cpu = 256, memory = 512, environment = {}
    }
    odd = {
      workload = "odd", port = 9000, path_prefix = "/odd", priority = 110
      health_check = { path = "/ready", interval_seconds = 300, timeout_seconds = 120, healthy_threshold = 2, unhealthy_threshold = 10, matcher = "200" }
      desired_count = 1, min_count = 1, max_count = 2, cpu_target = 60, cpu = 256, memory = 512, environment = {}
    }
  }
}

run "compute" {
  assert {
    condition     = jsondecode(aws_ecs_task_definition.service["sample"].container_definitions)[0].healthCheck == { command = ["CMD", "/usr/local/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"], interval = 15, timeout = 5, retries = 3, startPeriod = 30 }
    error_message = "the sample service's healthCheck: its registry path on its own port, the registry's interval, timeout and unhealthy_threshold"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.service["odd"].container_definitions)[0].healthCheck == { command = ["CMD", "/usr/local/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9000/ready"], interval = 300, timeout = 60, retries = 10, startPeriod = 300 }
    error_message = "registry values the ALB accepts but ECS does not are clamped: timeout at most 60 (the ALB allows 120), startPeriod at most 300"
  }
  assert {
    condition     = aws_lb.this.access_logs[0].enabled && aws_lb.this.access_logs[0].bucket == aws_s3_bucket.alb_logs.id && aws_lb.this.access_logs[0].prefix == "alb"
    error_message = "the internal ALB writes access logs to its bucket under alb/"
  }
  assert {
    condition     = aws_s3_bucket.alb_logs.bucket == "pc-dev-alb-logs-123456789012" && aws_s3_bucket.alb_logs.force_destroy
    error_message = "the bucket is named after the deployment and the account"
  }
  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.alb_logs.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256" && one(aws_s3_bucket_server_side_encryption_configuration.alb_logs.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == null
    error_message = "SSE-S3: the only encryption ALB access logs support"
  }
  assert {
    condition     = aws_s3_bucket_versioning.alb_logs.versioning_configuration[0].status == "Enabled" && aws_s3_bucket_lifecycle_configuration.alb_logs.rule[0].expiration[0].days == 90 && aws_s3_bucket_lifecycle_configuration.alb_logs.rule[0].noncurrent_version_expiration[0].noncurrent_days == 7 && aws_s3_bucket_lifecycle_configuration.alb_logs.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    error_message = "versioned, logs expire after alb_log_retention_days (90), old versions after 7 days"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.alb_logs.block_public_acls && aws_s3_bucket_public_access_block.alb_logs.block_public_policy && aws_s3_bucket_public_access_block.alb_logs.ignore_public_acls && aws_s3_bucket_public_access_block.alb_logs.restrict_public_buckets && aws_s3_bucket_ownership_controls.alb_logs.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "no public access; the bucket owner owns every object"
  }
  assert {
    condition     = local.elb_account_id == "156460612806" && local.alb_log_objects == "arn:aws:s3:::pc-dev-alb-logs-123456789012/alb/AWSLogs/123456789012/*"
    error_message = "eu-west-1's Elastic Load Balancing account; writes only under alb/AWSLogs/<account>/"
  }
  assert {
    condition     = aws_s3_bucket_policy.alb_logs.bucket == aws_s3_bucket.alb_logs.id
    error_message = "the bucket policy is attached"
  }
}
"""


def test_services_have_container_health_checks_and_the_alb_logs_to_its_bucket(tmp_path, terraform_binary):
    root = tmp_path / "root"
    (root / "tests").mkdir(parents=True)
    for f in COMPUTE.glob("*.tf"):
        shutil.copy(f, root / f.name)
    (root / "tests" / "compute.tftest.hcl").write_text(COMPUTE_TESTS, encoding="utf-8")
    out = run_terraform_test(tmp_path, root)
    assert "1 passed, 0 failed" in out, out


def test_the_access_log_bucket_policy_admits_elb_and_refuses_plain_http(all_blocks):
    (doc,) = [b for b in all_blocks if b.kind == "data" and b.type == "aws_iam_policy_document" and b.name == "alb_logs"]
    text = json.dumps(doc.body)
    assert "logdelivery.elasticloadbalancing.amazonaws.com" in text, "the log delivery service principal (every Region)"
    assert "local.elb_account_id" in text, "the Region's ELB account where it has one (legacy form)"
    assert "aws:SecureTransport" in text and '"Deny"' in text, "TLS only"


def test_the_workload_images_carry_the_health_check_probe(resources):
    """The command the task definitions run exists in the service images."""
    for workload in ("sample-service", "sample-web"):
        dockerfile = (ROOT / "workloads" / workload / "Dockerfile").read_text(encoding="utf-8")
        final = dockerfile.split("\nFROM ")[-1]
        assert "/usr/local/bin/wget" in final and "--from=busybox:" in final, f"{workload}: the final stage copies the probe"


# --- the root's wiring ---


def test_the_root_wires_the_observability_module(module_calls):
    obs = module_calls["observability"]
    assert val(obs, "alarm_topic_arn") == "${module.events.alarm_topic_arn}", "one SNS topic for every alarm"
    assert val(obs, "metrics_namespace") == "${local.metrics_namespace}"
    assert val(obs, "environment") == "${var.environment}", "the Environment dimension the functions emit"
    assert "alb_log_retention_days" in module_calls["compute"]


def test_every_function_emits_its_environment(root_locals):
    """The alarms select Environment = var.environment: every function must
    be told it (DEPLOYMENT_ENVIRONMENT), or it emits the default dev."""
    assert "DEPLOYMENT_ENVIRONMENT" in str(val(root_locals, "platform_env"))
    assert "local.platform_env" in str(val(root_locals, "functions")).replace("${", "")


def test_container_insights_is_on(resources):
    (cluster,) = resources("aws_ecs_cluster")
    settings = cluster.body.get("setting", [])
    assert any(val(s, "name") == "containerInsights" and val(s, "value") in ("enabled", "enhanced") for s in settings), "the running-below-desired alarms read ECS/ContainerInsights"
