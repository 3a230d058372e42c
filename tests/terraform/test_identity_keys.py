"""Identity-signing keys: one secret and one random key per
service, the proxy reading exactly those secrets, each service getting only
its own, and no key value in Terraform state.

The configuration checks always run. The state check reads an applied state:
$PORTCULLIS_TF_STATE, else the one `make test` leaves in .local/test/ (or
`make local` in .local/); it is skipped when none exists."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from conftest import ROOT, val

# Where make test / make local keep the state of terraform/ applied to the emulator.
STATE_CANDIDATES = [ROOT / ".local" / "test" / "terraform-local.tfstate", ROOT / ".local" / "terraform-local.tfstate"]


def blocks_of(docs, kind: str, rtype: str) -> list[tuple[str, dict]]:
    out = []
    for doc in docs.values():
        for entry in doc.get(kind, []) or []:
            for t, named in entry.items():
                if t.strip('"') == rtype:
                    out.extend((n.strip('"'), body) for n, body in named.items())
    return out


def test_no_random_password_data_source_whose_value_terraform_would_store(docs):
    # A data source's result is written to state: the generated key would be there.
    found = blocks_of(docs, "data", "aws_secretsmanager_random_password")
    assert not found, f"data.aws_secretsmanager_random_password stores the password in state: {[n for n, _ in found]}; use the ephemeral resource"


def test_no_secret_version_takes_a_generated_value_through_secret_string(docs):
    for name, body in blocks_of(docs, "resource", "aws_secretsmanager_secret_version"):
        text = str(val(body, "secret_string", ""))
        assert "random_password" not in text, f"aws_secretsmanager_secret_version.{name}: secret_string is kept in state; write the value with secret_string_wo"


def test_identity_keys_are_one_random_write_only_secret_per_service(docs):
    secrets = dict(blocks_of(docs, "resource", "aws_secretsmanager_secret"))
    versions = dict(blocks_of(docs, "resource", "aws_secretsmanager_secret_version"))
    randoms = dict(blocks_of(docs, "ephemeral", "aws_secretsmanager_random_password"))
    assert "identity" in secrets and "identity" in versions and "identity" in randoms, "expected the identity secret, its version and an ephemeral random password"
    for kind, body in (("secret", secrets["identity"]), ("version", versions["identity"]), ("random password", randoms["identity"])):
        assert val(body, "for_each") == "${local.services}", f"the identity {kind} must be one per registered service (for_each = local.services)"
    assert "${each.key}" in val(secrets["identity"], "name"), "each service's secret has its own name"
    version = versions["identity"]
    assert "secret_string" not in version, "the identity key must not be written through secret_string (stored in state)"
    assert val(version, "secret_string_wo") == "${ephemeral.aws_secretsmanager_random_password.identity[each.key].random_password}", (
        "each service's key is its own ephemeral random value, written write-only (not derived from a shared value)"
    )
    assert "secret_string_wo_version" in version, "a write-only value is only written when its version changes"
    assert val(randoms["identity"], "password_length") >= 44, "base64 text of at least 32 bytes"


def test_the_proxy_reads_exactly_the_service_keys_and_each_service_gets_its_own(root_locals, docs):
    # The proxy signs for the lambda services, the authorizer for the
    # vpc_link ones (evaluated in test_vpc_link.py): each reads exactly its
    # services' keys, in its environment and its IAM statement.
    functions = val(root_locals, "functions")
    for function, kind in (("proxy", "lambda"), ("authorizer", "vpc_link")):
        env = str(functions[function]["environment"])
        assert "IDENTITY_SECRET_ARNS" in env and f'local.identity_secret_arns["{kind}"]' in env, f"{function}: IDENTITY_SECRET_ARNS of the {kind} services: {env}"
        assert "IDENTITY_SECRET_ARN =" not in env and "'IDENTITY_SECRET_ARN'" not in env, "the single shared key is gone"
        statements = str(val(functions[function], "statements")).replace(" ", "")
        assert "GetSecretValue" not in statements and statements.endswith(f'local.read_identity_keys["{kind}"])}}'), f"{function}: reads its {kind} services' keys, nothing else: {statements}"
    assert "aws_secretsmanager_secret.identity" in str(val(root_locals, "identity_secret_arns"))
    compute = (ROOT / "terraform" / "modules" / "compute" / "main.tf").read_text()
    assert 'valueFrom = var.identity_secret_arns[each.key]' in compute, "a service's task gets its own key as IDENTITY_SECRET"
    assert "var.identity_secret_arn]" not in compute and "var.identity_secret_arn}" not in compute


def applied_state() -> pathlib.Path | None:
    given = os.environ.get("PORTCULLIS_TF_STATE")
    if given:
        return pathlib.Path(given)
    return next((p for p in STATE_CANDIDATES if p.is_file()), None)


def identity_state_problems(state: dict) -> list[str]:
    """What in an applied state gives away an identity key (empty: nothing)."""
    problems = []
    resources = state.get("resources", [])
    identity_secret_ids = set()
    for r in resources:
        if r.get("type") == "aws_secretsmanager_secret":
            for inst in r.get("instances", []):
                attrs = inst.get("attributes") or {}
                if "identity" in str(attrs.get("name", "")):
                    identity_secret_ids.add(attrs.get("id"))
                    identity_secret_ids.add(attrs.get("arn"))
    if not identity_secret_ids:
        problems.append("the state holds no identity secret: is it the state of terraform/ applied?")
    for r in resources:
        where = f"{r.get('mode')}.{r.get('type')}.{r.get('name')}"
        if r.get("type") == "aws_secretsmanager_random_password":
            for inst in r.get("instances", []):
                if (inst.get("attributes") or {}).get("random_password"):
                    problems.append(f"{where}: a generated password is stored in state")
        if r.get("type") == "aws_secretsmanager_secret_version":
            for inst in r.get("instances", []):
                attrs = inst.get("attributes") or {}
                if attrs.get("secret_id") not in identity_secret_ids:
                    continue
                if attrs.get("secret_string") or attrs.get("secret_binary") or attrs.get("secret_string_wo"):
                    problems.append(f"{where}[{inst.get('index_key')!r}]: the identity key value is stored in state")
    return problems


def test_no_identity_key_value_in_the_applied_state():
    path = applied_state()
    if path is None or not path.is_file():
        pytest.skip("no applied state (make test or make local leaves one; or set PORTCULLIS_TF_STATE)")
    problems = identity_state_problems(json.loads(path.read_text()))
    assert not problems, f"{path}: " + "; ".join(problems)


def test_the_state_check_finds_a_stored_key():
    # The check itself: a state as the previous configuration wrote it.
    leaked = {"resources": [
        {"mode": "managed", "type": "aws_secretsmanager_secret", "name": "identity",
         "instances": [{"attributes": {"id": "arn:s", "arn": "arn:s", "name": "p-dev/identity-signing-key"}}]},
        {"mode": "data", "type": "aws_secretsmanager_random_password", "name": "identity",
         "instances": [{"attributes": {"random_password": "abc"}}]},
        {"mode": "managed", "type": "aws_secretsmanager_secret_version", "name": "identity",
         "instances": [{"attributes": {"secret_id": "arn:s", "secret_string": "abc"}}]},
    ]}
    assert len(identity_state_problems(leaked)) == 2
    clean = {"resources": [leaked["resources"][0],
                           {"mode": "managed", "type": "aws_secretsmanager_secret_version", "name": "identity",
                            "instances": [{"index_key": "sample", "attributes": {"secret_id": "arn:s", "secret_string": "", "secret_string_wo": None, "has_secret_string_wo": True}}]}]}
    assert identity_state_problems(clean) == []
