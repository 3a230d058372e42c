#!/usr/bin/env python3
"""Content tags for the workload images, and the check `make deploy` runs
before it points task definitions at them.

    images.py tags                      JSON {workload: tag} for workloads/*/Dockerfile
    images.py check --region R --name N --tags JSON
                                        exit 1, naming each missing image, unless
                                        every <N>/<workload>:<tag> is in ECR

A workload's tag is `c-` and the first 20 hex digits of a SHA-256 over the
files that decide its image: its Dockerfile, the root Cargo.toml and
Cargo.lock, and every tracked file under the workload's crate and the
workspace crates it depends on (path dependencies, build and normal, not
dev). A commit that changes none of them keeps the tag, so `make deploy`
after an unrelated commit points at the image already pushed; a change to any
of them needs `make images` first, and the check says so. The base images
(`FROM`) are not hashed: pin them by digest in the Dockerfile to make a tag
cover them too.

The check uses boto3 (the project venv, scripts/ensure-venv.sh) and the usual
AWS settings (profile, AWS_ENDPOINT_URL for the emulator).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAG_PREFIX = "c-"
TAG_HEX = 20
DEP_TABLES = ("dependencies", "build-dependencies")


def manifest(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def workspace_paths(root: Path) -> dict[str, Path]:
    """Crate name → folder, for `[workspace.dependencies]` given by path."""
    deps = manifest(root / "Cargo.toml").get("workspace", {}).get("dependencies", {})
    return {name: (root / spec["path"]).resolve() for name, spec in deps.items() if isinstance(spec, dict) and "path" in spec}


def crate_closure(root: Path, crate_dir: Path) -> list[Path]:
    """The crate's folder and those of every path dependency it builds with."""
    by_name = workspace_paths(root)
    seen: list[Path] = []
    todo = [crate_dir.resolve()]
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen.append(d)
        m = manifest(d / "Cargo.toml")
        for table in DEP_TABLES:
            for name, spec in m.get(table, {}).items():
                if not isinstance(spec, dict):
                    continue
                if "path" in spec:
                    todo.append((d / spec["path"]).resolve())
                elif spec.get("workspace") and name in by_name:
                    todo.append(by_name[name])
    return sorted(seen)


def tracked_files(root: Path, folders: list[Path]) -> list[Path]:
    """Files git tracks under the folders (what a clean checkout builds from)."""
    rel = [str(f.relative_to(root)) for f in folders]
    out = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--", *rel],
        check=True,
        capture_output=True,
    ).stdout
    return sorted(root / p for p in out.decode().split("\0") if p)


def content_tag(root: Path, workload: str) -> str:
    wl = root / "workloads" / workload
    files = [wl / "Dockerfile", root / "Cargo.toml", root / "Cargo.lock"]
    files += tracked_files(root, crate_closure(root, wl))
    h = hashlib.sha256()
    for f in sorted(set(files)):
        if not f.is_file():
            continue
        h.update(str(f.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return TAG_PREFIX + h.hexdigest()[:TAG_HEX]


def workloads(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "workloads").iterdir() if (p / "Dockerfile").is_file())


def tags(root: Path) -> dict[str, str]:
    return {w: content_tag(root, w) for w in workloads(root)}


def missing_images(ecr, name: str, wanted: dict[str, str]) -> list[str]:
    """`<repository>:<tag>` of each wanted image ECR does not hold."""
    missing = []
    for workload, tag in sorted(wanted.items()):
        repo = f"{name}/{workload}"
        try:
            ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        except ecr.exceptions.ImageNotFoundException:
            missing.append(f"{repo}:{tag}")
        except ecr.exceptions.RepositoryNotFoundException:
            missing.append(f"{repo}:{tag} (no repository {repo})")
    return missing


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("tags", help="print {workload: content tag} as JSON")
    c = sub.add_parser("check", help="refuse when an image is not in ECR")
    c.add_argument("--region", required=True)
    c.add_argument("--name", required=True, help="the deployment name (ECR repositories are <name>/<workload>)")
    c.add_argument("--tags", required=True, help="JSON {workload: tag}, as `tags` prints it")
    a = p.parse_args(argv)
    if a.cmd == "tags":
        print(json.dumps(tags(ROOT), sort_keys=True))
        return 0
    try:
        wanted = json.loads(a.tags)
    except json.JSONDecodeError as e:
        print(f"images.py: --tags is not JSON ({e}); pass what `images.py tags` prints", file=sys.stderr)
        return 2
    import boto3  # only the check needs AWS

    missing = missing_images(boto3.client("ecr", region_name=a.region), a.name, wanted)
    if missing:
        print("make deploy: these images are not in ECR, so the task definitions would point at nothing:", file=sys.stderr)
        for m in missing:
            print(f"  {m}", file=sys.stderr)
        print("build and push them first: make images ENV=<env>", file=sys.stderr)
        return 1
    print("images present: " + ", ".join(f"{w}:{t}" for w, t in sorted(wanted.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
