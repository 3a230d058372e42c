"""The Cognito module and the authorizer's Cognito settings: a principal's tenant comes only from what an administrator
controls (docs/auth.md#tenancy)."""

from __future__ import annotations

import re

from conftest import ROOT, TF, sub, val

# Standard attributes a user may edit about itself; nothing tenant-related,
# no custom attribute, not the sign-in e-mail (administrators change it).
USER_WRITABLE = {"name"}


def web_client(resources):
    clients = [b for b in resources("aws_cognito_user_pool_client") if b.name == "web"]
    assert len(clients) == 1, [b.address for b in resources("aws_cognito_user_pool_client")]
    return clients[0]


def test_the_web_client_lets_users_write_only_standard_attributes(resources):
    body = web_client(resources).body
    write = val(body, "write_attributes")
    read = val(body, "read_attributes")
    assert isinstance(write, list), "the web client must set write_attributes (unset: every writable attribute)"
    assert isinstance(read, list), "the web client must set read_attributes explicitly"
    assert not [a for a in write if ":" in a], f"custom attributes writable by users: {write}"
    assert set(write) <= USER_WRITABLE, f"users may write {sorted(set(write) - USER_WRITABLE)}"
    assert not [a for a in read if "tenant" in a], read


def test_the_pool_has_no_tenant_attribute_and_no_mutable_custom_attribute(resources):
    (pool,) = resources("aws_cognito_user_pool")
    for attr in sub(pool.body, "schema"):
        name = val(attr, "name")
        assert "tenant" not in name, f"{pool.address}: schema attribute {name!r} (a tenant is a group)"
        assert val(attr, "mutable") is False or val(attr, "developer_only_attribute") is True, (
            f"{pool.address}: custom attribute {name!r} is mutable: users could rewrite it"
        )


def test_one_tenant_group_per_tenant_and_the_platform_tenant_always_has_one(resources, module_calls):
    groups = [b for b in resources("aws_cognito_user_group") if b.module == "auth"]
    tenant_groups = [g for g in groups if "tenant:" in str(val(g.body, "name"))]
    assert len(tenant_groups) == 1, [g.address for g in groups]
    g = tenant_groups[0].body
    assert "var.tenants" in str(val(g, "for_each")), val(g, "for_each")
    assert val(g, "name") == "tenant:${each.value}", val(g, "name")
    tenants = str(val(module_calls["auth"], "tenants"))
    assert "var.platform_tenant" in tenants and "var.cognito_tenants" in tenants, tenants


def test_the_authorizer_reads_no_default_tenant_and_maps_the_machine_client(root_locals):
    env = str(val(root_locals, "functions")["authorizer"]["environment"])
    for gone in ("COGNITO_DEFAULT_TENANT", "COGNITO_TENANT_CLAIM"):
        assert gone not in env, f"the authorizer still gets {gone}"
    assert "COGNITO_CLIENT_TENANTS" in env, env
    assert "var.cognito_machine_client_tenant" in env, env


def test_no_configuration_names_a_default_tenant():
    pattern = re.compile(r"cognito_default_tenant|custom:tenant|COGNITO_DEFAULT_TENANT")
    found = [
        str(p.relative_to(ROOT))
        for p in list(TF.rglob("*.tf")) + list(TF.rglob("*.tfvars")) + list(TF.rglob("README.md"))
        if ".terraform" not in p.parts and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert not found, f"still naming the removed default tenant or custom:tenant: {found}"
