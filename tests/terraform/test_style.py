"""STYLE.md's Terraform rules, checked on every module."""

from __future__ import annotations

from conftest import TF, module_of, strip_quotes, val

MODULE_FILES = ["main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"]


def modules():
    found = sorted(p for p in (TF / "modules").iterdir() if p.is_dir())
    assert len(found) >= 7, f"expected the network, data, compute, functions, api, auth and events modules, found {[p.name for p in found]}"
    return found


def test_every_module_has_the_standard_files():
    for m in modules():
        missing = [f for f in MODULE_FILES if not (m / f).is_file()]
        assert not missing, f"modules/{m.name} lacks {missing}"


def test_every_variable_has_a_description_and_a_type(docs):
    count = 0
    for path, doc in docs.items():
        for entry in doc.get("variable", []):
            for name, body in entry.items():
                count += 1
                assert val(body, "description"), f"{path}: variable {strip_quotes(name)} has no description"
                assert "type" in body, f"{path}: variable {strip_quotes(name)} has no type"
    assert count > 50


def test_every_output_has_a_description(docs):
    for path, doc in docs.items():
        for entry in doc.get("output", []):
            for name, body in entry.items():
                assert val(body, "description"), f"{path}: output {strip_quotes(name)} has no description"


def test_each_module_names_its_main_resource_this(all_blocks):
    for m in modules():
        if m.name == "openapi":  # renders a document, holds no resource
            continue
        names = {b.name for b in all_blocks if b.kind == "resource" and module_of(b.path) == m.name}
        assert "this" in names, f"modules/{m.name} has no resource named this"


def test_names_and_tags_come_from_one_place(module_calls, root_locals):
    assert val(root_locals, "name") == "${var.project}-${var.environment}"
    for name, call in module_calls.items():
        if name == "openapi":
            continue
        assert val(call, "name") == "${local.name}", f"module {name} must get name = local.name"
        assert val(call, "tags") == "${local.tags}", f"module {name} must get tags = local.tags"


def test_both_environments_have_a_tfvars_file():
    for env in ("dev", "prod"):
        text = (TF / "env" / f"{env}.tfvars").read_text(encoding="utf-8")
        assert f'environment = "{env}"' in text
    prod = (TF / "env" / "prod.tfvars").read_text(encoding="utf-8")
    for must in ("db_multi_az              = true", "db_deletion_protection   = true", "single_nat_gateway = false"):
        assert must in prod, f"prod.tfvars should set {must}"


def test_every_module_readme_lists_exactly_its_variables_and_outputs():
    """The Inputs and Outputs tables of each module's README.md name every
    variable and output the module declares, and nothing it does not."""
    import re

    for m in modules():
        text = "".join(p.read_text(encoding="utf-8") for p in sorted(m.glob("*.tf")))
        readme = (m / "README.md").read_text(encoding="utf-8")
        inputs, _, outputs = readme.partition("## Outputs")
        rows = lambda part: set(re.findall(r"^\| `(\w+)` \|", part, re.M))  # noqa: E731
        variables = set(re.findall(r'^variable "(\w+)"', text, re.M))
        declared = set(re.findall(r'^output "(\w+)"', text, re.M))
        assert rows(inputs.partition("## Inputs")[2]) == variables, f"modules/{m.name}/README.md inputs: missing {variables - rows(inputs)}, not in the module {rows(inputs) - variables}"
        assert rows(outputs) == declared, f"modules/{m.name}/README.md outputs: missing {declared - rows(outputs)}, not in the module {rows(outputs) - declared}"
