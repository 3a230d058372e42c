"""Fixtures over the parsed Terraform configuration (python-hcl2 format as
shipped with checkov: every attribute value is wrapped in a one-element list,
blocks are lists of dicts)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TF = ROOT / "terraform"
sys.path.insert(0, str(ROOT / "scripts" / "tf-schema"))

from common import blocks, parse, strip_quotes, tf_files  # noqa: E402


@dataclass
class Block:
    module: str  # "root" or the folder name under terraform/modules
    kind: str  # resource | data
    type: str
    name: str
    body: dict
    path: pathlib.Path

    @property
    def address(self) -> str:
        prefix = "" if self.module == "root" else f"module.{self.module}."
        return f"{prefix}{'data.' if self.kind == 'data' else ''}{self.type}.{self.name}"


def val(body: dict, key: str, default=None):
    """The value of attribute `key` (unwrapped), or default."""
    if key not in body:
        return default
    v = body[key]
    return v[0] if isinstance(v, list) and len(v) == 1 else v


def sub(body: dict, key: str) -> list[dict]:
    """The nested blocks named `key` (static and dynamic `content`)."""
    out = [b for b in body.get(key, []) if isinstance(b, dict)]
    for dyn in body.get("dynamic", []):
        for name, spec in dyn.items():
            if strip_quotes(name) == key:
                out.extend(spec.get("content", []))
    return out


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(TF).parts
    return rel[1] if rel[0] == "modules" else "root"


@pytest.fixture(scope="session")
def docs() -> dict[pathlib.Path, dict]:
    return {p: parse(p) for p in tf_files(TF)}


@pytest.fixture(scope="session")
def all_blocks(docs) -> list[Block]:
    out = []
    for path, doc in docs.items():
        for kind in ("resource", "data"):
            for t, n, body in blocks(doc, kind):
                out.append(Block(module_of(path), kind, t, n, body, path))
    return out


@pytest.fixture(scope="session")
def resources(all_blocks):
    def of_type(rtype: str) -> list[Block]:
        return [b for b in all_blocks if b.kind == "resource" and b.type == rtype]

    return of_type


@pytest.fixture(scope="session")
def root_locals(docs) -> dict:
    merged: dict = {}
    for path, doc in docs.items():
        if module_of(path) == "root":
            for entry in doc.get("locals", []):
                merged.update({k: v for k, v in entry.items() if not k.startswith("__")})
    return merged


@pytest.fixture(scope="session")
def module_calls(docs) -> dict[str, dict]:
    calls = {}
    for path, doc in docs.items():
        if module_of(path) == "root":
            for entry in doc.get("module", []):
                for name, body in entry.items():
                    calls[strip_quotes(name)] = body
    return calls


@pytest.fixture(scope="session")
def platform() -> dict:
    return yaml.safe_load((ROOT / "platform.yaml").read_text(encoding="utf-8")) or {}


@pytest.fixture(scope="session")
def openapi() -> dict:
    return yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def cargo_functions() -> set[str]:
    ws = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    return {m.split("/", 1)[1] for m in ws["workspace"]["members"] if m.startswith("functions/")}


def run_terraform_test(tmp_path, root) -> str:
    """`terraform init` + `terraform test` in `root` (hashicorp/aws from a
    local mirror when one exists, as scripts/lib.sh tf_cli_config does)."""
    from test_offline_eval import TERRAFORM

    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    mirror = next(
        (d for d in [os.environ.get("PORTCULLIS_TF_MIRROR"), "/opt/tf-plugins", os.path.expanduser("~/.terraform.d/plugins")] if d and os.path.isdir(os.path.join(d, "registry.terraform.io", "hashicorp", "aws"))),
        None,
    )
    rc = tmp_path / "terraformrc"
    rc.write_text(
        textwrap.dedent(
            f"""
            provider_installation {{
              filesystem_mirror {{
                path    = "{mirror}"
                include = ["registry.terraform.io/hashicorp/*"]
              }}
              direct {{
                exclude = ["registry.terraform.io/hashicorp/*"]
              }}
            }}
            """
        )
        if mirror
        else "",
        encoding="utf-8",
    )
    env["TF_CLI_CONFIG_FILE"] = str(rc)
    r = subprocess.run([TERRAFORM, "init", "-input=false", "-no-color"], cwd=root, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, f"terraform init (hashicorp/aws from {mirror or 'the registry'}) failed:\n{r.stdout}\n{r.stderr}"
    r = subprocess.run([TERRAFORM, "test", "-no-color"], cwd=root, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert r.returncode == 0, f"terraform test failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout
