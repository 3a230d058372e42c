"""Security invariants of the configuration, read from the parsed HCL."""

from __future__ import annotations

import re

from conftest import sub, val

# Actions AWS authorises only on Resource "*" (no resource-level permissions),
# each allowed only with the reason it needs it.
STAR_RESOURCE_ALLOWED = {
    "ecr:GetAuthorizationToken",  # ECR login token, account-wide by design
    "xray:PutTraceSegments",  # X-Ray has no resource-level permissions
    "xray:PutTelemetryRecords",
    "ecs:ListTasks",  # scoped with the ecs:cluster condition instead
}


def test_ecs_services_never_get_a_public_ip(resources):
    services = resources("aws_ecs_service")
    assert services, "no aws_ecs_service found"
    for svc in services:
        nets = sub(svc.body, "network_configuration")
        assert nets, f"{svc.address} has no network_configuration"
        assert all(val(n, "assign_public_ip") is False for n in nets), f"{svc.address} must set assign_public_ip = false"


def test_the_load_balancer_is_internal_and_drops_invalid_headers(resources):
    lbs = resources("aws_lb")
    assert lbs, "no aws_lb found"
    for lb in lbs:
        assert val(lb.body, "internal") is True, f"{lb.address} must be internal"
        assert val(lb.body, "drop_invalid_header_fields") is True, f"{lb.address} must drop invalid header fields"


def test_the_database_is_private_encrypted_and_uses_iam_auth(resources):
    dbs = resources("aws_db_instance")
    assert dbs, "no aws_db_instance found"
    for db in dbs:
        assert val(db.body, "publicly_accessible") is False, db.address
        assert val(db.body, "storage_encrypted") is True, db.address
        assert val(db.body, "iam_database_authentication_enabled") is True, db.address
        assert val(db.body, "manage_master_user_password") is True, f"{db.address}: the master password must live in Secrets Manager"
        assert "password" not in db.body, f"{db.address}: no password in the configuration"


def test_no_security_group_accepts_traffic_from_anywhere(resources):
    for rule in resources("aws_vpc_security_group_ingress_rule"):
        assert val(rule.body, "cidr_ipv4") != "0.0.0.0/0", f"{rule.address} opens ingress to the internet"
        assert val(rule.body, "cidr_ipv6") != "::/0", rule.address
    for sg in resources("aws_security_group"):
        assert "ingress" not in sg.body, f"{sg.address}: use aws_vpc_security_group_ingress_rule resources"


def key_policy_documents(resources) -> set[str]:
    names = set()
    for key in resources("aws_kms_key"):
        m = re.search(r"data\.aws_iam_policy_document\.(\w+)\.json", str(val(key.body, "policy")))
        if m:
            names.add(m.group(1))
    return names


def iam_statements(all_blocks, resources, root_locals):
    """Every IAM statement: policy-document statements (static and dynamic)
    and the per-function statements of local.functions."""
    key_policies = key_policy_documents(resources)
    for b in all_blocks:
        if b.kind == "data" and b.type == "aws_iam_policy_document" and not (b.module == "root" and b.name in key_policies):
            for st in b.body.get("statement", []):
                yield b.address, st
    functions = val(root_locals, "functions")
    assert isinstance(functions, dict), "local.functions must be a map literal"
    for fn, cfg in functions.items():
        statements = cfg.get("statements")
        if isinstance(statements, list):
            for st in statements:
                if isinstance(st, dict):
                    yield f"local.functions.{fn}", st


def as_list(v):
    if isinstance(v, list):
        return [x for item in v for x in (item if isinstance(item, list) else [item])]
    return [v]


def test_no_policy_grants_star_actions(all_blocks, resources, root_locals):
    seen = 0
    for where, st in iam_statements(all_blocks, resources, root_locals):
        seen += 1
        if val(st, "effect") == "Deny":
            continue  # a Deny grants nothing (the access-log bucket's TLS-only deny is s3:*)
        for action in as_list(val(st, "actions", [])):
            assert action != "*" and not str(action).endswith(":*"), f"{where}: action {action} is a wildcard"
    assert seen > 10, "expected the IAM statements of every role"


def test_star_resources_only_where_aws_offers_nothing_narrower(all_blocks, resources, root_locals):
    for where, st in iam_statements(all_blocks, resources, root_locals):
        res = as_list(val(st, "resources", []))
        if "*" in res:
            actions = set(as_list(val(st, "actions", [])))
            extra = actions - STAR_RESOURCE_ALLOWED
            assert not extra, f"{where}: {sorted(extra)} on Resource '*' though they support narrower resources"


def test_run_task_is_limited_to_job_families_on_the_cluster(root_locals):
    run_jobs = val(root_locals, "run_jobs")
    run = [s for s in run_jobs if "ecs:RunTask" in as_list(s.get("actions"))]
    assert run, "no ecs:RunTask statement in local.run_jobs"
    for st in run:
        assert "job_task_definition_family_arns" in str(st["resources"]) or "job_family_arns" in str(st["resources"])
        assert "cluster_condition" in str(st.get("conditions")), "RunTask needs the ecs:cluster condition"
    cond = str(val(root_locals, "cluster_condition"))
    assert "ecs:cluster" in cond and "cluster_arn" in cond
    pass_role = [s for s in run_jobs if "iam:PassRole" in as_list(s.get("actions"))]
    assert pass_role and all("job_pass_role_arns" in str(s["resources"]) for s in pass_role)
    assert all("iam:PassedToService" in str(s.get("conditions")) for s in pass_role)


def test_only_the_migrate_function_reads_the_master_secret_in_iam_mode(root_locals):
    functions = val(root_locals, "functions")
    readers = [fn for fn, cfg in functions.items() if "master_user_secret_arn" in str(cfg.get("statements"))]
    assert readers == ["migrate"], readers
    access = str(val(root_locals, "db_access"))
    assert "var.db_auth_mode == 'iam'" in access or 'var.db_auth_mode == "iam"' in access, access
    assert access.index("rds-db:connect") < access.index("master_user_secret_arn"), "iam mode must grant rds-db:connect, not the secret"
    for fn, cfg in functions.items():
        if fn != "migrate":
            assert "local.db_access" in str(cfg.get("statements")), f"{fn} must reach the database through local.db_access"


def test_every_lambda_has_its_own_log_group_with_retention(resources):
    lambdas = resources("aws_lambda_function")
    assert lambdas
    for fn in lambdas:
        logging = sub(fn.body, "logging_config")
        assert logging, f"{fn.address} has no logging_config"
        m = re.search(r"aws_cloudwatch_log_group\.(\w+)\[each\.key\]", str(val(logging[0], "log_group")))
        assert m, f"{fn.address}: logging_config.log_group must name its own aws_cloudwatch_log_group"
        groups = [g for g in resources("aws_cloudwatch_log_group") if g.module == fn.module and g.name == m.group(1)]
        assert groups, f"{fn.address}: log group {m.group(1)} not found"
        group = groups[0]
        assert val(group.body, "for_each") == val(fn.body, "for_each"), "one log group per function"
        assert val(group.body, "retention_in_days") is not None, f"{group.address} needs retention_in_days"


def test_every_log_group_has_retention_and_a_kms_key(resources):
    for g in resources("aws_cloudwatch_log_group"):
        assert val(g.body, "retention_in_days") is not None, f"{g.address} keeps logs forever"
        assert val(g.body, "kms_key_id") is not None, f"{g.address} is not encrypted with the platform key"


def test_functions_are_arm64_al2023_and_traced(resources):
    for fn in resources("aws_lambda_function"):
        assert val(fn.body, "runtime") == "provided.al2023"
        assert val(fn.body, "architectures") == ["arm64"]
        assert val(fn.body, "handler") == "bootstrap"
        assert [val(t, "mode") for t in sub(fn.body, "tracing_config")] == ["Active"]
        assert "local.zip[each.key]" in str(val(fn.body, "filename"))
        assert '/bootstrap.zip"' in fn.path.read_text(encoding="utf-8"), "the zip cargo lambda writes"


def test_every_checkov_skip_gives_its_reason(docs):
    for path in docs:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_AWS_\d+:\S.{15,}", line), f"{path}:{n}: a skip needs an id and a reason"


def test_containers_run_with_a_read_only_root_file_system(resources):
    defs = resources("aws_ecs_task_definition")
    assert len(defs) == 2
    for td in defs:
        text = str(val(td.body, "container_definitions"))
        assert "'readonlyRootFilesystem': True" in text or "readonlyRootFilesystem = true" in text, td.address
        assert val(td.body, "network_mode") == "awsvpc"
        assert val(td.body, "requires_compatibilities") == ["FARGATE"]


def test_only_the_proxy_and_the_vpc_link_may_reach_the_load_balancer(resources):
    # The proxy Lambda (the compute module's rule), and API Gateway's VPC
    # link when a service is vpc_link (the api module's rule on the ALB's
    # group; test_vpc_link.py applies both).
    rules = [r for r in resources("aws_vpc_security_group_ingress_rule") if val(r.body, "security_group_id") in ("${aws_security_group.alb.id}", "${var.vpc_link.alb_security_group_id}")]
    assert sorted((r.module, val(r.body, "referenced_security_group_id")) for r in rules) == [("api", "${aws_security_group.vpc_link[0].id}"), ("compute", "${var.proxy_security_group_id}")], [r.address for r in rules]
    task_rules = [r for r in resources("aws_vpc_security_group_ingress_rule") if val(r.body, "security_group_id") == "${aws_security_group.service.id}"]
    assert task_rules and all(val(r.body, "referenced_security_group_id") == "${aws_security_group.alb.id}" for r in task_rules)
    job_rules = [r for r in resources("aws_vpc_security_group_ingress_rule") if val(r.body, "security_group_id") == "${aws_security_group.job.id}"]
    assert job_rules == [], "job tasks accept no inbound traffic"


def test_the_database_accepts_only_the_functions(resources):
    rules = [r for r in resources("aws_vpc_security_group_ingress_rule") if r.module == "data" and r.name == "clients"]
    assert len(rules) == 1
    assert val(rules[0].body, "for_each") == "${var.client_security_group_ids}"
    assert val(rules[0].body, "from_port") == 5432 and val(rules[0].body, "to_port") == 5432


def test_every_function_runs_in_the_vpc(root_locals, resources):
    for fn, cfg in val(root_locals, "functions").items():
        assert cfg.get("vpc") is True, f"{fn} must be VPC-attached"
    (fn_res,) = resources("aws_lambda_function")
    dyn = [d for d in fn_res.body.get("dynamic", []) if "vpc_config" in d]
    assert dyn, "aws_lambda_function needs a vpc_config block"


def test_task_control_and_cache_flush_are_scoped(root_locals):
    run_jobs = val(root_locals, "run_jobs")
    watch = [s for s in run_jobs if "ecs:StopTask" in str(s.get("actions"))]
    assert watch and all("cluster_tasks" in str(s["resources"]) and "cluster_condition" in str(s.get("conditions")) for s in watch)
    keys = val(root_locals, "functions")["keys"]
    flush = [
        s
        for s in keys["statements"]
        if isinstance(s, dict) and "apigateway:DELETE" in str(s.get("actions")) and "cache/authorizers" in str(s.get("resources"))
    ]
    assert len(flush) == 1
    assert "/stages/${var.stage_name}/cache/authorizers" in str(flush[0]["resources"]), flush[0]["resources"]
    assert "module.api.rest_api_id" in str(flush[0]["resources"])


def test_asynchronous_targets_retry_and_keep_failures(resources):
    (target,) = resources("aws_cloudwatch_event_target")
    assert sub(target.body, "retry_policy") and sub(target.body, "dead_letter_config")
    (schedule,) = resources("aws_scheduler_schedule")
    (t,) = sub(schedule.body, "target")
    assert sub(t, "retry_policy") and sub(t, "dead_letter_config")
    alarms = {r.name for r in resources("aws_cloudwatch_metric_alarm")}
    assert {"dlq", "errors"} <= alarms


def test_migrations_run_on_apply_after_the_database_and_the_function(resources):
    (inv,) = resources("aws_lambda_invocation")
    assert 'function_names["migrate"]' in str(val(inv.body, "function_name")).replace("'", '"')
    deps = str(val(inv.body, "depends_on"))
    assert "module.data" in deps and "module.functions" in deps
    assert "migrations" in str(val(inv.body, "triggers"))


def test_keys_role_manages_usage_keys_with_least_privilege(root_locals):
    """Per-consumer usage keys: the keys function creates,
    finds, disables and deletes API keys and puts them in this deployment's
    usage plans, and may do nothing else to API Gateway's keys and plans."""
    keys = val(root_locals, "functions")["keys"]
    by_sid = {s.get("sid"): s for s in keys["statements"] if isinstance(s, dict)}
    expected = {
        "CreateAndFindUsageKeys": ({"apigateway:POST", "apigateway:GET"}, "/apikeys"),
        "ManageUsageKeys": ({"apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"}, "/apikeys/*"),
        "FindTheUsagePlansOfAKey": ({"apigateway:GET"}, "/usageplans"),
    }
    for sid, (actions, path) in expected.items():
        st = by_sid.get(sid)
        assert st, f"keys role lacks {sid}"
        assert set(st["actions"]) == actions, (sid, st["actions"])
        (res,) = st["resources"]
        assert res == "${local.apigw_arn}" + path, (sid, res)
    for sid, suffix in {"PutUsageKeysInThePlans": "/keys", "TakeUsageKeysOutOfThePlans": "/keys/*"}.items():
        st = by_sid.get(sid)
        assert st, f"keys role lacks {sid}"
        text = str(st["resources"])
        assert "local.usage_plan_arns" in text and text.rstrip("}]'\"").endswith(suffix), (sid, text)
    arns = str(val(root_locals, "usage_plan_arns"))
    assert "module.api.usage_plan_ids" in arns and "/usageplans/" in arns, arns
    apigw = str(val(root_locals, "apigw_arn"))
    assert "local.partition" in apigw and "local.region" in apigw, apigw


def test_usage_keys_are_per_consumer_not_per_plan(root_locals, resources):
    """No API key is made per usage plan (every consumer of a plan shared
    its bucket and quota); the authorizer and the keys function agree on the
    usage-key prefix, and the keys function knows every plan's id."""
    # The one API key Terraform makes is the platform tenant's users' usage
    # key (terraform/usage.tf), one key in one plan, never one per plan.
    api_keys = resources("aws_api_gateway_api_key")
    plan_keys = resources("aws_api_gateway_usage_plan_key")
    assert [b.name for b in api_keys] == ["platform_users"], "no per-plan API Gateway API keys"
    assert [b.name for b in plan_keys] == ["platform_users"], "no per-plan usage plan keys"
    for block in [*api_keys, *plan_keys]:
        assert "for_each" not in block.body and "count" not in block.body, block.address
    assert "local.platform_users_usage_key" in str(val(api_keys[0].body, "value"))
    fns = val(root_locals, "functions")
    auth_env, keys_env = str(fns["authorizer"]["environment"]), str(fns["keys"]["environment"])
    for env in (auth_env, keys_env):
        assert "USAGE_KEY_PREFIX" in env and "local.usage_key_prefix" in env, env
        assert "USAGE_PLAN_KEYS" not in env and "DEFAULT_USAGE_PLAN" not in env, env
    assert "USAGE_PLAN_IDS" in keys_env and "local.usage_plan_ids" in keys_env, keys_env
    assert "module.api.usage_plan_ids" in str(val(root_locals, "usage_plan_ids"))
