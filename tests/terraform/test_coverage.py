"""Every function, route, service and job on the Rust side has its Terraform
counterpart, and the reverse."""

from __future__ import annotations

import re

from conftest import ROOT, TF, val

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def function_names(root_locals) -> set[str]:
    expr = str(val(root_locals, "function_names"))
    assert expr.startswith("${toset(["), f"local.function_names should be toset([...]), got {expr!r}"
    found = set(re.findall(r"['\"]([a-z0-9-]+)['\"]", expr))
    assert found, expr
    return found


def test_every_function_crate_has_a_lambda_and_the_reverse(root_locals, cargo_functions):
    declared = function_names(root_locals)
    configured = set(val(root_locals, "functions").keys())
    assert cargo_functions, "no functions/* member in the Cargo workspace"
    assert declared == cargo_functions, f"local.function_names {sorted(declared)} != Cargo functions/* {sorted(cargo_functions)}"
    assert configured == cargo_functions, f"local.functions {sorted(configured)} != Cargo functions/* {sorted(cargo_functions)}"


def test_function_crates_are_named_after_their_folder(cargo_functions):
    import tomllib

    for fn in cargo_functions:
        manifest = tomllib.loads((ROOT / "functions" / fn / "Cargo.toml").read_text(encoding="utf-8"))
        assert manifest["package"]["name"] == fn, f"functions/{fn}: package name must equal the folder (= Lambda name)"


def test_the_lambda_resource_iterates_over_the_function_map(resources, module_calls):
    lambdas = resources("aws_lambda_function")
    assert len(lambdas) == 1 and val(lambdas[0].body, "for_each") == "${var.functions}"
    assert val(module_calls["functions"], "functions") == "${local.functions}"


def openapi_operations(openapi):
    for path, item in openapi["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict):
                yield path, method, op


def test_every_route_integrates_a_function_terraform_deploys(openapi, cargo_functions):
    ops = list(openapi_operations(openapi))
    assert ops, "api/openapi.yaml has no operations"
    for path, method, op in ops:
        integ = op.get("x-amazon-apigateway-integration")
        assert integ, f"{method.upper()} {path} has no x-amazon-apigateway-integration"
        refs = PLACEHOLDER.findall(integ["uri"])
        fns = [r[: -len("_function_arn")].replace("_", "-") for r in refs if r.endswith("_function_arn")]
        assert len(fns) == 1, f"{method.upper()} {path}: integration uri names no function: {integ['uri']}"
        assert fns[0] in cargo_functions, f"{method.upper()} {path} integrates {fns[0]}, which is not a function crate"
        assert integ["type"] == "aws_proxy" and integ["httpMethod"] == "POST"


def test_every_template_placeholder_gets_a_value(module_calls, root_locals):
    text = (ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    wanted = set(PLACEHOLDER.findall(code))
    given_expr = str(val(module_calls["openapi"], "template_vars"))
    given = {k for k in ("region", "partition") if k in given_expr}
    if "_function_arn" in given_expr and "local.function_names" in given_expr:
        given |= {f.replace("-", "_") + "_function_arn" for f in function_names(root_locals)}
    missing = wanted - given
    assert not missing, f"api/openapi.yaml uses placeholders Terraform does not fill: {sorted(missing)}"


def test_the_authorizer_of_the_api_is_a_deployed_function(openapi, cargo_functions):
    schemes = openapi["components"]["securitySchemes"]
    for name, scheme in schemes.items():
        auth = scheme.get("x-amazon-apigateway-authorizer")
        if auth:
            refs = [r for r in PLACEHOLDER.findall(auth["authorizerUri"]) if r.endswith("_function_arn")]
            assert refs and refs[0][: -len("_function_arn")].replace("_", "-") in cargo_functions, name
    assert openapi.get("x-amazon-apigateway-api-key-source") == "AUTHORIZER"


def test_services_and_jobs_come_from_platform_yaml(root_locals, module_calls):
    assert "platform.yaml" in str(val(root_locals, "platform_file"))
    assert "yamldecode" in str(val(root_locals, "platform"))
    assert "local.platform.services" in str(val(root_locals, "services"))
    assert "local.platform.jobs" in str(val(root_locals, "jobs"))
    assert "local.platform.usage_plans" in str(val(root_locals, "usage_plans"))
    assert val(module_calls["compute"], "services") == "${local.services}"
    assert val(module_calls["compute"], "jobs") == "${local.jobs}"
    assert val(module_calls["api"], "usage_plans") == "${local.usage_plans}"


PER_SERVICE = ["aws_ecs_service", "aws_lb_target_group", "aws_lb_listener_rule", "aws_appautoscaling_target", "aws_appautoscaling_policy"]


def test_every_per_service_resource_iterates_over_the_registry(resources):
    for rtype in PER_SERVICE:
        found = resources(rtype)
        assert found, f"no {rtype}"
        for r in found:
            assert val(r.body, "for_each") == "${var.services}", f"{r.address} must use for_each = var.services (no per-service copy-paste)"
    defs = {r.name: val(r.body, "for_each") for r in resources("aws_ecs_task_definition")}
    assert defs == {"service": "${var.services}", "job": "${var.jobs}"}, defs
    plans = {val(r.body, "for_each") for r in resources("aws_api_gateway_usage_plan")}
    assert plans == {"${var.usage_plans}"}


def test_job_task_definitions_use_the_registry_family(resources):
    (job,) = [r for r in resources("aws_ecs_task_definition") if r.name == "job"]
    assert val(job.body, "family") == "${each.value.family}"
    locals_text = (TF / "locals.tf").read_text(encoding="utf-8")
    assert "family      = try(j.task_definition" in locals_text, "the family must be the job's task_definition, which the jobs function runs"


def test_every_service_and_job_has_a_workload_to_build(platform):
    for section, default_key in (("services", "workload"), ("jobs", "container")):
        for name, entry in (platform.get(section) or {}).items():
            workload = entry.get("workload") or entry.get(default_key) or name
            if entry.get("image"):
                continue
            assert (ROOT / "workloads" / workload).is_dir(), f"{section}.{name}: workloads/{workload} is missing (make images builds it)"


def test_service_names_fit_aws_limits_without_collisions(platform):
    services = sorted((platform.get("services") or {}).keys())
    for env in ("dev", "prod", "staging"):
        names = [f"portcullis-{env}-{s}"[:32] for s in services]
        assert len(set(names)) == len(names), f"target group names collide after truncation to 32 characters: {names}"
    prefixes = [(platform["services"][s].get("path_prefix") or f"/{s}") for s in services]
    assert len(set(prefixes)) == len(prefixes), "two services share a path_prefix"
    assert all(p.startswith("/") and not p.endswith("/") for p in prefixes)


def test_usage_plans_are_valid_for_api_gateway(platform):
    plans = platform.get("usage_plans") or {}
    assert plans, "platform.yaml declares no usage plan"
    for name, plan in plans.items():
        quota = plan.get("quota")
        if quota:
            assert str(quota["period"]).upper() in {"DAY", "WEEK", "MONTH"}, name
            assert int(quota["limit"]) > 0
        throttle = plan.get("throttle")
        if throttle:
            assert float(throttle["rate_limit"]) > 0 and int(throttle["burst_limit"]) > 0


def test_sample_entries_have_their_counterparts_when_present(platform):
    # The sample service and job are optional; when present they must deploy.
    if "sample" in (platform.get("services") or {}):
        assert (ROOT / "workloads" / platform["services"]["sample"].get("workload", "sample")).is_dir()
    if "sample" in (platform.get("jobs") or {}):
        assert platform["jobs"]["sample"].get("task_definition"), "jobs.sample needs task_definition (the family)"


def rust_env_names() -> set[str]:
    names: set[str] = set()
    for src in list((ROOT / "functions").glob("*/src/**/*.rs")) + list((ROOT / "shared").glob("*/src/**/*.rs")):
        names.update(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', src.read_text(encoding="utf-8")))
    return names


# Read by libraries rather than by name in our code.
ENV_READ_ELSEWHERE = {"RUST_LOG"}


def env_keys(expr) -> set[str]:
    return set(re.findall(r"['\"]?\b([A-Z][A-Z0-9_]{2,})['\"]?\s*[:=]", str(expr)))


def test_every_environment_variable_terraform_sets_is_read_by_the_functions(root_locals):
    read = rust_env_names() | ENV_READ_ELSEWHERE
    assert "DB_IAM_AUTH" in read, "the Rust sources could not be scanned"
    set_by_tf = set()
    for key in ("db_env", "platform_env", "ecs_env"):
        set_by_tf |= env_keys(val(root_locals, key))
    for cfg in val(root_locals, "functions").values():
        set_by_tf |= env_keys(cfg.get("environment"))
    unknown = sorted(set_by_tf - read)
    assert not unknown, f"Terraform sets environment variables no function reads (typo or stale): {unknown}"
    assert {"DB_IAM_AUTH", "DB_USER", "DB_SECRET_ARN", "PLATFORM_FILE", "COGNITO_ISSUER", "COGNITO_CLIENT_IDS", "USAGE_KEY_PREFIX", "USAGE_PLAN_IDS", "ECS_CLUSTER", "JOB_SUBNETS", "PROXY_ALB_URL", "IDENTITY_SECRET_ARNS", "APIGW_REST_API_ID"} <= set_by_tf
