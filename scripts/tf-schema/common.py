"""Shared helpers of the offline Terraform schema tools: read every .tf file
under a folder with the HCL2 parser checkov ships (module `hcl2`)."""

from __future__ import annotations

import pathlib
import sys

import hcl2

# Arguments and blocks Terraform itself handles in every resource / data block.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider", "lifecycle", "connection", "provisioner"}


def tf_files(root: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def parse(path: pathlib.Path) -> dict:
    with path.open(encoding="utf-8") as f:
        try:
            return hcl2.load(f)
        except Exception as e:  # the parser raises lark errors of many kinds
            raise SystemExit(f"{path}: cannot be parsed as HCL: {e}") from e


def strip_quotes(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def blocks(doc: dict, kind: str):
    """Yield (type, name, body) of every `resource`/`data` block of a parsed file."""
    for entry in doc.get(kind, []) or []:
        for rtype, named in entry.items():
            for name, body in named.items():
                yield strip_quotes(rtype), strip_quotes(name), body


def used_types(root: pathlib.Path) -> tuple[set[str], set[str]]:
    resources: set[str] = set()
    data: set[str] = set()
    for path in tf_files(root):
        doc = parse(path)
        resources.update(t for t, _, _ in blocks(doc, "resource"))
        data.update(t for t, _, _ in blocks(doc, "data"))
    return resources, data


def die(msg: str) -> None:
    print(msg, file=sys.stderr)
    raise SystemExit(1)
