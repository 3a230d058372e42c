#!/usr/bin/env python3
"""Extract the AWS provider schema Portcullis uses from the jsii assembly of
the npm package @cdktf/provider-aws (generated from hashicorp/aws).

Every property of a resource's `<Name>Config` struct documents its Terraform
name in a link such as
  {@link https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources/lambda_function#function_name LambdaFunction#function_name}
and nested blocks are properties whose type is another struct of the
assembly. This script walks those structs for every resource and data-source
type used under terraform/ and writes argument and block names, recursively,
to terraform/.schema/aws-<version>.json.

Regenerate (see docs/terraform.md):
  tmp=$(mktemp -d) && (cd "$tmp" && npm pack @cdktf/provider-aws@21.22.1)
  .venv-iac/bin/python scripts/tf-schema/extract.py --package "$tmp"/cdktf-provider-aws-21.22.1.tgz
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
import tarfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import die, used_types  # noqa: E402

LINK = re.compile(r"registry\.terraform\.io/providers/hashicorp/aws/([0-9.]+)/docs/(resources|data-sources)/([a-z0-9_]+)#([a-z0-9_]+)")
ASSEMBLY = "@cdktf/provider-aws."


def load_assembly(path: pathlib.Path) -> dict:
    if path.suffix in (".tgz", ".gz"):
        with tarfile.open(path) as tar:
            member = tar.extractfile("package/.jsii")
            if member is None:
                die(f"{path} holds no package/.jsii")
            return json.load(member)
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def prop_link(prop: dict):
    docs = prop.get("docs", {})
    for text in (docs.get("remarks", ""), docs.get("summary", ""), docs.get("custom", {}).get("link", "")):
        m = LINK.search(text or "")
        if m:
            return m
    return None


def struct_fqn(t: dict, types: dict):
    """The assembly struct a property type refers to (directly, in a
    collection or in a union), or None for primitives."""
    if "fqn" in t:
        fqn = t["fqn"]
        return fqn if fqn.startswith(ASSEMBLY) and types.get(fqn, {}).get("datatype") else None
    if "collection" in t:
        return struct_fqn(t["collection"]["elementtype"], types)
    if "union" in t:
        for u in t["union"]["types"]:
            found = struct_fqn(u, types)
            if found:
                return found
    return None


def walk(fqn: str, types: dict, seen: tuple = ()) -> dict:
    out = {"arguments": [], "blocks": {}}
    if fqn in seen:  # recursive schemas (e.g. WAF statements): stop one level in
        return out
    for prop in types[fqn].get("properties", []):
        m = prop_link(prop)
        if not m:
            continue
        tf_name = m.group(4)
        nested = struct_fqn(prop["type"], types)
        if nested:
            out["blocks"][tf_name] = walk(nested, types, seen + (fqn,))
        else:
            out["arguments"].append(tf_name)
    out["arguments"] = sorted(set(out["arguments"]))
    out["blocks"] = dict(sorted(out["blocks"].items()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True, type=pathlib.Path, help="the npm pack tarball (or an extracted .jsii file)")
    ap.add_argument("--terraform-dir", type=pathlib.Path, default=pathlib.Path("terraform"))
    ap.add_argument("--out", type=pathlib.Path, default=None)
    args = ap.parse_args()

    assembly = load_assembly(args.package)
    types = assembly["types"]

    # Index every resource / data-source Config struct by its Terraform type.
    index: dict[tuple[str, str], str] = {}
    version = None
    for fqn, t in types.items():
        # Each resource / data-source class takes its Config struct as the
        # `config` parameter of its constructor (names such as ...ConfigA
        # avoid clashes, so go through the constructor, not the name).
        if t.get("kind") != "class" or t.get("base") not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource"):
            continue
        params = t.get("initializer", {}).get("parameters", [])
        config = next((p["type"].get("fqn") for p in params if p["name"] == "config"), None)
        if not config or config not in types:
            continue
        for prop in types[config].get("properties", []):
            m = prop_link(prop)
            if m:
                version = version or m.group(1)
                kind = "resources" if m.group(2) == "resources" else "data_sources"
                index.setdefault((kind, "aws_" + m.group(3)), config)
                break

    resources, data = used_types(args.terraform_dir)
    schema = {
        "provider": "registry.terraform.io/hashicorp/aws",
        "provider_version": version,
        "source": f"{assembly['name']}@{assembly['version']} (.jsii)",
        "resources": {},
        "data_sources": {},
    }
    missing = []
    for kind, used in (("resources", resources), ("data_sources", data)):
        for rtype in sorted(used):
            fqn = index.get((kind, rtype))
            if fqn is None:
                missing.append(f"{kind[:-1]} {rtype}")
                continue
            schema[kind][rtype] = walk(fqn, types)
    if missing:
        die("not in the provider schema: " + ", ".join(missing))

    out = args.out or args.terraform_dir / ".schema" / f"aws-{version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(schema['resources'])} resource types, {len(schema['data_sources'])} data sources (hashicorp/aws {version})")


if __name__ == "__main__":
    main()
