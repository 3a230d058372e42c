"""The sample workloads (workloads/*) that `make images` builds: they stay
lean (portcullis-identity is the only Portcullis crate they may use) and
their Dockerfiles copy what cargo needs to build them."""

from __future__ import annotations

import re
import tomllib

from conftest import ROOT

WORKLOADS = sorted(p for p in (ROOT / "workloads").iterdir() if (p / "Cargo.toml").is_file())
OURS = re.compile(r"^portcullis-")


def manifest(path):
    return tomllib.loads(path.read_text(encoding="utf-8"))


def copied(dockerfile: str) -> set[str]:
    """First path component of every COPY source (build stage, not --from)."""
    out = set()
    for line in dockerfile.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "COPY" and not parts[1].startswith("--from"):
            out.update(src.split("/")[0] for src in parts[1:-1])
    return out


def test_sample_workloads_use_portcullis_identity_alone_among_our_crates():
    assert WORKLOADS, "no crate under workloads/"
    workspace_crates = {"portcullis-" + m.split("/")[1] for m in manifest(ROOT / "Cargo.toml")["workspace"]["members"] if m.startswith("shared/")}
    for wl in WORKLOADS:
        deps = manifest(wl / "Cargo.toml").get("dependencies", {})
        ours = {d for d in deps if OURS.match(d) or d in workspace_crates}
        assert ours <= {"portcullis-identity"}, f"workloads/{wl.name} depends on {sorted(ours)}: a private service may use portcullis-identity only"


def test_workload_dockerfiles_copy_every_workspace_member_they_resolve():
    members = manifest(ROOT / "Cargo.toml")["workspace"]["members"]
    tops = {m.split("/")[0] for m in members}
    for wl in WORKLOADS:
        text = (wl / "Dockerfile").read_text(encoding="utf-8")
        if "cargo build" not in text:
            continue
        if "[workspace]" in text:
            # Built on its own (a generated one-crate workspace): it must not
            # need any other crate of ours.
            assert not manifest(wl / "Cargo.toml").get("dependencies"), f"workloads/{wl.name} builds outside the workspace but has dependencies"
            continue
        have = copied(text)
        missing = sorted(({"Cargo.toml", "Cargo.lock"} | tops) - have)
        assert not missing, f"workloads/{wl.name}/Dockerfile builds in the workspace but does not COPY {missing} (cargo needs every member's manifest)"


def test_the_copy_parser_sees_sources():
    assert copied("COPY Cargo.toml Cargo.lock ./\nCOPY shared shared\nCOPY --from=build /a /b\n") == {"Cargo.toml", "Cargo.lock", "shared"}
