"""Terraform and the Rust schema agree on platform.yaml.

The Rust side (shared/platform, src/schema.rs) writes every field path its
schema accepts to shared/platform/schema-fields.json, and its tests fail when
that file is stale. Here every registry field Terraform reads is extracted
from the .tf files (and the Makefile fragments that evaluate Terraform
expressions) and must be in that list: a field Terraform reads but the
functions reject would stop every function at start.

Paths: `services.*.autoscaling.min` ('*' = any name, '[]' = any list item)."""

from __future__ import annotations

import json
import re

from conftest import ROOT, TF

FIELDS_FILE = ROOT / "shared" / "platform" / "schema-fields.json"

# `for name, s in coalesce(try(local.platform.services, null), {}) : name => {`
FOR_SECTION = re.compile(r"for\s+\w+\s*,\s*(\w+)\s+in\s+[^:]*?\blocal\.platform\.(\w+)\b[^:]*:")
DIRECT = re.compile(r"\blocal\.platform\.(\w+(?:\.\w+)*)")
IDENT = r"[a-z_][a-z0-9_]*"


def rust_fields() -> set[str]:
    doc = json.loads(FIELDS_FILE.read_text(encoding="utf-8"))
    return set(doc["fields"])


def block_after(text: str, start: int) -> str:
    """The text of the `{ ... }` (or `[ ... ]`) that opens first at or after
    `start`, brackets balanced."""
    opens = {"{": "}", "[": "]"}
    i = start
    while i < len(text) and text[i] not in opens:
        i += 1
    depth, j = 0, i
    while j < len(text):
        c = text[j]
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return text[i : j + 1]
        j += 1
    return text[i:]


def strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(^|\s)(#|//).*$", "", line) for line in text.splitlines())


def fields_read(text: str) -> set[str]:
    """Registry field paths read by Terraform expressions in `text`."""
    text = strip_comments(text)
    found: set[str] = set()
    for m in DIRECT.finditer(text):
        found.add(m.group(1))
    for m in FOR_SECTION.finditer(text):
        var, section = m.group(1), m.group(2)
        body = block_after(text, m.end())
        for ref in re.finditer(rf"(?<![\w.]){var}((?:\.{IDENT})+)", body):
            found.add(f"{section}.*{ref.group(1)}")
    return found


def terraform_fields() -> set[str]:
    sources = sorted(TF.rglob("*.tf")) + sorted((ROOT / "mk").glob("*.mk"))
    out: set[str] = set()
    for path in sources:
        if ".terraform" in path.parts:
            continue
        out |= fields_read(path.read_text(encoding="utf-8"))
    return out


def test_every_registry_field_terraform_reads_is_accepted_by_the_rust_schema():
    read = terraform_fields()
    accepted = rust_fields()
    missing = sorted(read - accepted)
    assert not missing, (
        f"Terraform reads registry fields the Rust schema (shared/platform) rejects: {missing}. "
        "Add them to the schema in shared/platform/src, then run cargo test -p portcullis-platform "
        "to regenerate shared/platform/schema-fields.json"
    )


def test_the_extraction_sees_what_terraform_is_known_to_read():
    # Guards the regexes: if locals.tf is restructured so that nothing is
    # extracted, the test above would pass vacuously.
    read = terraform_fields()
    for path in [
        "services",
        "jobs",
        "usage_plans",
        "services.*.workload",
        "services.*.image",
        "services.*.autoscaling.min",
        "services.*.autoscaling.max",
        "services.*.autoscaling.cpu_target",
        "services.*.environment",
        "services.*.cpu",
        "services.*.memory",
        "jobs.*.task_definition",
        "jobs.*.workload",
        "jobs.*.image",
        "jobs.*.cpu",
        "jobs.*.memory",
        "jobs.*.environment",
        "jobs.*.overrides.cpu.min",
        "jobs.*.overrides.memory.min",
        "usage_plans.*.throttle.rate_limit",
        "usage_plans.*.quota.period",
    ]:
        assert path in read, f"{path} not extracted from terraform/ (found {sorted(read)})"


def test_a_field_the_schema_does_not_know_is_reported():
    text = """
locals {
  services = {
    for name, s in coalesce(try(local.platform.services, null), {}) : name => {
      port  = try(s.port, 8080)
      extra = try(s.sidecar.image, null)
    }
  }
  raw = local.platform.secrets
}
"""
    read = fields_read(text)
    assert read == {"services", "secrets", "services.*.port", "services.*.sidecar.image"}
    assert read - rust_fields() == {"secrets", "services.*.sidecar.image"}


def test_schema_fields_json_is_the_generated_list():
    doc = json.loads(FIELDS_FILE.read_text(encoding="utf-8"))
    fields = doc["fields"]
    assert fields == sorted(set(fields)), "schema-fields.json is generated sorted and without duplicates"
    assert {"services", "jobs", "usage_plans"} <= set(fields)
    assert "cargo test -p portcullis-platform" in doc["_comment"]


def test_terraform_resolves_the_defaults_fixture_as_the_rust_schema_does(tmp_path):
    """shared/platform/testdata/defaults.yaml through terraform/locals.tf must
    give defaults.expected.json, the file the Rust schema's test compares its
    own resolution with (src/schema.rs)."""
    import shutil

    import pytest

    from test_offline_eval import TERRAFORM, apply

    if TERRAFORM is None:
        pytest.skip("no terraform binary on PATH: offline evaluation not run")
    data = ROOT / "shared" / "platform" / "testdata"
    tf = tmp_path / "terraform"
    tf.mkdir()
    shutil.copy(TF / "locals.tf", tf / "locals.tf")
    shutil.copy(data / "defaults.yaml", tmp_path / "platform.yaml")
    (tf / "stub.tf").write_text(
        'variable "project" {\n  type    = string\n  default = "portcullis"\n}\n'
        'variable "environment" {\n  type    = string\n  default = "dev"\n}\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
        'output "services" { value = local.services }\n'
        'output "jobs" { value = local.jobs }\n'
        'output "usage_plans" { value = local.usage_plans }\n'
    )
    out = apply(tf)

    def as_module_sees_it(entries):
        # The compute module's `environment = map(string)` turns YAML numbers
        # and booleans into strings, as the Rust schema does.
        for entry in entries.values():
            env = entry.get("environment") or {}
            entry["environment"] = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in env.items()}
        return entries

    want = json.loads((data / "defaults.expected.json").read_text(encoding="utf-8"))
    # `cookies` is not a registry field: Terraform derives it (the service
    # kit's PORTCULLIS_COOKIES) from allow_cookies, false by default.
    assert {name: s.pop("cookies") for name, s in out["services"].items()} == {name: "none" for name in want["services"]}
    assert as_module_sees_it(out["services"]) == want["services"]
    assert as_module_sees_it(out["jobs"]) == want["jobs"]
    assert out["usage_plans"] == want["usage_plans"]
