#!/usr/bin/env python3
"""Offline check of the Terraform configuration against the committed AWS
provider schema (terraform/.schema/aws-*.json, written by extract.py).

For every resource and data block under terraform/ it verifies that the type
exists and that every argument and nested block (dynamic blocks included) is
one the provider knows, recursively. It also checks the module wiring that
`terraform validate` would: every argument of a module call is a variable of
that module, every variable without a default is given, every
`module.<name>.<output>` reference names an output of that module, and every
`var.<name>` / `local.<name>` reference is declared in its module.

Exit status 0 when everything is known; 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import META_ARGUMENTS, blocks, parse, strip_quotes, tf_files  # noqa: E402

INTERNAL_KEYS = {"__start_line__", "__end_line__"}


def check_body(body: dict, schema: dict, where: str, problems: list[str]) -> None:
    for key, value in body.items():
        if key in INTERNAL_KEYS or key in META_ARGUMENTS:
            continue
        if key == "dynamic":
            for dyn in value:
                for name, spec in dyn.items():
                    name = strip_quotes(name)
                    if name not in schema["blocks"]:
                        problems.append(f"{where}: dynamic block '{name}' is not a block of this type")
                        continue
                    for content in spec.get("content", []):
                        check_body(content, schema["blocks"][name], f"{where}.{name}", problems)
            continue
        if key in schema["arguments"]:
            continue
        if key in schema["blocks"]:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    check_body(item, schema["blocks"][key], f"{where}.{key}", problems)
            continue
        problems.append(f"{where}: unknown argument or block '{key}'")


def module_dirs(root: pathlib.Path) -> list[pathlib.Path]:
    return sorted({p.parent.resolve() for p in tf_files(root)})


def module_interface(directory: pathlib.Path):
    variables: dict[str, bool] = {}  # name -> has a default
    outputs: set[str] = set()
    locals_: set[str] = set()
    calls: list[tuple[str, dict, pathlib.Path]] = []
    texts: list[tuple[pathlib.Path, str]] = []
    for path in sorted(directory.glob("*.tf")):
        doc = parse(path)
        texts.append((path, path.read_text(encoding="utf-8")))
        for entry in doc.get("variable", []):
            for name, body in entry.items():
                variables[strip_quotes(name)] = "default" in body
        for entry in doc.get("output", []):
            outputs.update(strip_quotes(n) for n in entry)
        for entry in doc.get("locals", []):
            locals_.update(k for k in entry if k not in INTERNAL_KEYS)
        for entry in doc.get("module", []):
            for name, body in entry.items():
                calls.append((strip_quotes(name), body, path))
    return variables, outputs, locals_, calls, texts


def strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "//")))


def check_modules(root: pathlib.Path, problems: list[str]) -> None:
    interfaces = {d: module_interface(d) for d in module_dirs(root)}
    for directory, (variables, _outputs, locals_, calls, texts) in interfaces.items():
        called: dict[str, pathlib.Path] = {}
        for name, body, path in calls:
            source = body.get("source", [""])[0]
            target = (directory / source).resolve()
            if target not in interfaces:
                problems.append(f"{path}: module '{name}' source {source} has no .tf files")
                continue
            called[name] = target
            tvars = interfaces[target][0]
            given = {k for k in body if k not in INTERNAL_KEYS and k not in ("source", "version", "providers", "depends_on", "count", "for_each")}
            for arg in sorted(given - tvars.keys()):
                problems.append(f"{path}: module '{name}' has no variable '{arg}'")
            for req in sorted(k for k, has_default in tvars.items() if not has_default and k not in given):
                problems.append(f"{path}: module '{name}' needs variable '{req}'")
        for path, text in texts:
            # A moved/removed block's from/to is a resource address
            # (module.compute.aws_x.y), not a reference to a module output.
            code = re.sub(r"(?m)^\s*(from|to)\s*=.*$", "", strip_comments(text))
            for m in re.finditer(r"\bmodule\.([a-z0-9_-]+)\.([a-z0-9_]+)", code):
                mod, out = m.group(1), m.group(2)
                if mod not in called:
                    problems.append(f"{path}: reference to unknown module '{mod}'")
                elif out not in interfaces[called[mod]][1]:
                    problems.append(f"{path}: module '{mod}' has no output '{out}'")
            for m in re.finditer(r"(?<![\w.])var\.([a-z0-9_]+)", code):
                if m.group(1) not in variables:
                    problems.append(f"{path}: undeclared variable var.{m.group(1)}")
            for m in re.finditer(r"(?<![\w.])local\.([a-z0-9_]+)", code):
                if m.group(1) not in locals_:
                    problems.append(f"{path}: undeclared local.{m.group(1)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--terraform-dir", type=pathlib.Path, default=pathlib.Path("terraform"))
    ap.add_argument("--schema", type=pathlib.Path, default=None)
    args = ap.parse_args()

    schema_path = args.schema or next(iter(sorted((args.terraform_dir / ".schema").glob("aws-*.json"))), None)
    if schema_path is None:
        raise SystemExit(f"no schema under {args.terraform_dir}/.schema: run scripts/tf-schema/extract.py (docs/terraform.md)")
    schema = json.loads(schema_path.read_text(encoding="utf-8"))

    problems: list[str] = []
    counted = {"resource": 0, "data": 0}
    for path in tf_files(args.terraform_dir):
        doc = parse(path)
        for kind, table in (("resource", schema["resources"]), ("data", schema["data_sources"])):
            for rtype, name, body in blocks(doc, kind):
                counted[kind] += 1
                where = f"{path}: {'data.' if kind == 'data' else ''}{rtype}.{name}"
                if rtype not in table:
                    problems.append(f"{where}: type not in {schema_path.name} (new type? re-run extract.py)")
                    continue
                check_body(body, table[rtype], where, problems)
    check_modules(args.terraform_dir, problems)

    problems = list(dict.fromkeys(problems))
    for p in problems:
        print(p)
    verdict = "FAILED" if problems else "ok"
    print(f"schema check: {counted['resource']} resources, {counted['data']} data sources against {schema_path.name} (hashicorp/aws {schema.get('provider_version')}): {len(problems)} problems: {verdict}")
    raise SystemExit(1 if problems else 0)


if __name__ == "__main__":
    main()
