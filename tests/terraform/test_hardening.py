"""The Terraform side of issue 11's low findings: no TRACE log level (the
Lambda runtime would log raw events with credentials), source conditions on
every service-principal trust policy, no hard-coded `arn:aws:` partition.

The log level's validation is evaluated with the real Terraform binary,
offline (skipped, with the reason, when no `terraform` is on PATH)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import TF, module_of, strip_quotes, val
from common import tf_files

TERRAFORM = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH: offline evaluation not run")


def block_text(path, header: str) -> str:
    """The text of the top-level block that starts with `header` in `path`."""
    text = path.read_text(encoding="utf-8")
    start = text.index(header)
    depth = 0
    for i in range(text.index("{", start), len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start : i + 1]
    raise AssertionError(f"unbalanced block {header} in {path}")


def run_terraform(workdir, *args):
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    return subprocess.run([TERRAFORM, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=120, check=False)


# --- log level ---------------------------------------------------------------

LOG_LEVEL_VARIABLES = [TF / "variables.tf", TF / "modules" / "functions" / "variables.tf"]


@needs_terraform
@pytest.mark.parametrize("path", LOG_LEVEL_VARIABLES, ids=lambda p: str(p.relative_to(TF)))
def test_log_level_trace_is_refused_with_the_reason(tmp_path, path):
    """At TRACE lambda_runtime logs every raw event (keys, tokens, bodies)."""
    (tmp_path / "main.tf").write_text(block_text(path, 'variable "log_level"') + '\noutput "level" { value = var.log_level }\n')
    r = run_terraform(tmp_path, "init", "-backend=false", "-input=false", "-no-color")
    assert r.returncode == 0, r.stdout + r.stderr
    for level in ("DEBUG", "INFO", "WARN", "ERROR"):
        r = run_terraform(tmp_path, "apply", "-auto-approve", "-input=false", "-no-color", f"-var=log_level={level}")
        assert r.returncode == 0, f"{level}: {r.stdout}{r.stderr}"
    for level in ("TRACE", "trace", "VERBOSE"):
        r = run_terraform(tmp_path, "apply", "-auto-approve", "-input=false", "-no-color", f"-var=log_level={level}")
        assert r.returncode != 0, f"{path}: log_level={level} was accepted"
        message = " ".join(r.stderr.split())
        assert "TRACE is refused" in message and "raw event" in message, message


def test_no_environment_sets_trace():
    for tfvars in sorted((TF / "env").glob("*.tfvars")):
        m = re.search(r'^\s*log_level\s*=\s*"([^"]*)"', tfvars.read_text(encoding="utf-8"), re.M)
        assert m is None or m.group(1).upper() != "TRACE", f"{tfvars.name}: log_level TRACE"


# --- database TLS --------------------------------------------------------------


def test_every_database_connection_verifies_the_server_certificate():
    """DB_SSL_MODE is verify-full wherever Terraform sets it (portcullis-db
    trusts the RDS CA bundle it is built with); no sslmode in a URL."""
    seen = 0
    for path in tf_files(TF):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'\bDB_SSL_MODE\s*=\s*"([^"]*)"', text):
            seen += 1
            assert m.group(1) == "verify-full", f"{path.relative_to(TF)}: DB_SSL_MODE = {m.group(1)}"
        assert "DB_SSL_ROOT_CERT" not in text or "verify-full" in text, path
        assert not re.search(r"sslmode=(disable|allow|prefer|require)\b", text), f"{path.relative_to(TF)}: unverified sslmode"
    assert seen >= 2, "expected DB_SSL_MODE in the functions' database environment"
