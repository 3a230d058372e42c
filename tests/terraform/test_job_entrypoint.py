"""A job's args are only ever arguments.

The jobs function sends a caller's `args` as the RunTask `command` override;
ECS passes them to the container's `entryPoint`. The entry point is fixed by
the registry (platform.yaml `jobs.<type>.entrypoint`) and Terraform writes it
into the task definition, so an image without an exec-form ENTRYPOINT can
never run the caller's args as a command. A type that takes args without an
entry point is refused by the Rust loader (shared/platform/src/jobs.rs) and
by Terraform (the compute module's `var.jobs` validation), checked here."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import ROOT, TF, val

COMPUTE_VARIABLES = TF / "modules" / "compute" / "variables.tf"


def takes_args(job: dict) -> bool:
    """shared/platform: overrides.args true or a count above 0."""
    args = (job.get("overrides") or {}).get("args")
    return args is True or (isinstance(args, int) and not isinstance(args, bool) and args > 0)


def test_job_task_definitions_set_the_entry_point_from_the_registry(resources):
    (job,) = [r for r in resources("aws_ecs_task_definition") if r.name == "job"]
    defs = val(job.body, "container_definitions")
    # python-hcl2 renders the object as a dict: 'entryPoint': '${each.value.entrypoint}'.
    assert "'entryPoint': '${each.value.entrypoint}'" in defs, (
        f"the job container definition must set entryPoint from the registry: {defs}"
    )
    assert "command" not in defs, "the task definition fixes no command: a job's args are its arguments"
    locals_text = (TF / "locals.tf").read_text(encoding="utf-8")
    assert re.search(r"\bentrypoint\s*=\s*try\(j\.entrypoint, null\)", locals_text), "locals.jobs must read jobs.<type>.entrypoint"


def test_every_job_type_that_takes_args_declares_an_entry_point(platform):
    for name, job in (platform.get("jobs") or {}).items():
        if takes_args(job):
            ep = job.get("entrypoint")
            assert isinstance(ep, list) and ep and all(isinstance(e, str) and e for e in ep), (
                f"jobs.{name} takes args but declares no entrypoint"
            )


def exec_form_entrypoint(dockerfile: str) -> list[str] | None:
    """The last stage's exec-form ENTRYPOINT (`ENTRYPOINT ["/x", "y"]`), else None."""
    found = None
    for line in dockerfile.splitlines():
        line = line.strip()
        if line.upper().startswith("FROM "):
            found = None
        if line.upper().startswith("ENTRYPOINT"):
            rest = line[len("ENTRYPOINT") :].strip()
            try:
                value = json.loads(rest)
            except json.JSONDecodeError:
                value = None
            found = value if isinstance(value, list) else None
    return found


def test_the_registry_entry_point_is_the_workloads_exec_form_entrypoint(platform):
    checked = 0
    for name, job in (platform.get("jobs") or {}).items():
        if job.get("image") or "entrypoint" not in job:
            continue
        workload = job.get("workload", job.get("container", name))
        dockerfile = ROOT / "workloads" / workload / "Dockerfile"
        if not dockerfile.is_file():
            continue
        want = exec_form_entrypoint(dockerfile.read_text(encoding="utf-8"))
        assert want == job["entrypoint"], f"jobs.{name}.entrypoint {job['entrypoint']} differs from {dockerfile}'s ENTRYPOINT {want}"
        checked += 1
    if "sample" in (platform.get("jobs") or {}):
        assert checked, "the sample job's entry point was not compared with its Dockerfile"


# --- Terraform, evaluated offline (no provider): the locals and the compute
# --- module's `jobs` variable with its validation.


def jobs_variable_block() -> str:
    text = COMPUTE_VARIABLES.read_text(encoding="utf-8")
    m = re.search(r'^variable "jobs" \{\n.*?^\}\n', text, re.S | re.M)
    assert m, f'no variable "jobs" in {COMPUTE_VARIABLES}'
    return m.group(0)


def evaluate(tmp_path, registry: str):
    """locals.tf over `registry`, fed to a module holding only the compute
    module's `variable "jobs"` (so its validation runs, with no provider)."""
    from test_offline_eval import apply

    tf = tmp_path / "terraform"
    (tf / "compute").mkdir(parents=True)
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    (tmp_path / "platform.yaml").write_text(registry, encoding="utf-8")
    (tf / "compute" / "variables.tf").write_text(jobs_variable_block(), encoding="utf-8")
    (tf / "compute" / "outputs.tf").write_text('output "jobs" { value = var.jobs }\n', encoding="utf-8")
    (tf / "stub.tf").write_text(
        'variable "project" {\n  type    = string\n  default = "portcullis"\n}\n'
        'variable "environment" {\n  type    = string\n  default = "dev"\n}\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
        'module "compute" {\n  source = "./compute"\n  jobs   = local.jobs\n}\n'
        'output "jobs" { value = module.compute.jobs }\n',
        encoding="utf-8",
    )
    return apply(tf)


@pytest.fixture
def terraform_binary():
    from test_offline_eval import TERRAFORM

    if TERRAFORM is None:
        pytest.skip("no terraform binary on PATH: offline evaluation not run")
    return TERRAFORM


def test_terraform_passes_each_job_types_entry_point_to_the_task_definition(tmp_path, terraform_binary, platform):
    out = evaluate(tmp_path, (ROOT / "platform.yaml").read_text(encoding="utf-8"))
    for name, job in (platform.get("jobs") or {}).items():
        assert out["jobs"][name]["entrypoint"] == job.get("entrypoint"), name
        assert out["jobs"][name]["takes_args"] == takes_args(job), name


def test_terraform_refuses_a_job_type_taking_args_without_an_entry_point(tmp_path, terraform_binary):
    registry = """
jobs:
  fixed:
    task_definition: p-fixed
    entrypoint: [/app/fixed]
    timeout_seconds: 60
    overrides: { args: 4 }
  no-args:
    task_definition: p-no-args
    timeout_seconds: 60
  counted:
    task_definition: p-counted
    timeout_seconds: 60
    overrides: { args: 4 }
  allowed:
    task_definition: p-allowed
    timeout_seconds: 60
    overrides: { args: true }
  refused:
    task_definition: p-refused
    timeout_seconds: 60
    overrides: { args: false }
"""
    with pytest.raises(AssertionError) as failed:
        evaluate(tmp_path, registry)
    message = " ".join(str(failed.value).split())
    assert "entrypoint" in message, message
    assert "allowed, counted" in message, f"the message names the job types to fix: {message}"
    assert "fixed," not in message and "no-args" not in message and "refused" not in message, message


def test_terraform_accepts_types_without_args_and_no_entry_point(tmp_path, terraform_binary):
    out = evaluate(
        tmp_path,
        "jobs:\n  plain:\n    task_definition: p\n    timeout_seconds: 60\n    overrides: { args: false }\n",
    )
    assert out["jobs"]["plain"]["entrypoint"] is None
    assert out["jobs"]["plain"]["takes_args"] is False
