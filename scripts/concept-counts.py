#!/usr/bin/env python3
"""How many homes each cross-cutting concept has in production Rust code.

    python3 scripts/concept-counts.py [REPO]     (default: this repository)

Production code: every `.rs` file git tracks (or would add) outside `tests/`
and `benches/` folders and `shared/testkit`, read up to its test module
(`#[cfg(test)]` followed by `mod <name> {`). Each concept is found by the
shape of its code, so the count is of implementations, not of mentions:

- start-error types: the error type of a function's `State::from_env`;
- `ConfigError` types: `pub enum|struct ConfigError`;
- IAM wildcard matchers: a loop comparing a pattern element with `*`;
- hop-by-hop lists: a string list holding "keep-alive";
- readers of api/openapi.yaml: code walking the document's `paths`;
- readers of platform.yaml: code walking `services` untyped, or deserialising
  the registry;
- production functions over 80 lines: scripts/long-functions.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
    ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
).stdout.strip()

CONCEPTS = [
    ("start-error types (the error of State::from_env)", r"fn from_env\w*\(.*\) -> Result<State, *([A-Za-z_:]+)>", True),
    ("ConfigError types", r"pub (enum|struct) ConfigError\b", False),
    ("IAM wildcard matchers", r"p\[pi\] == (b?'\*'|any_run)|fn (glob_match|policy_matches)\(", False),
    ("hop-by-hop lists", r'^\s*"keep-alive",', False),
    ("readers of api/openapi.yaml", r'get\("paths"\)|\["paths"\]', False),
    ("readers of platform.yaml", r'get\("services"\)|Option<RawPlatform> = serde_norway', False),
]


def production_files() -> list[str]:
    out = subprocess.run(
        ["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.rs"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return sorted({
        f for f in out
        if not re.search(r"(^|/)(tests|benches)/", f) and not f.startswith("shared/testkit/")
        and os.path.isfile(os.path.join(ROOT, f))
    })


def main() -> int:
    files = production_files()
    for title, pattern, by_type in CONCEPTS:
        rx = re.compile(pattern)
        hits: dict[str, list[int]] = {}
        types: set[str] = set()
        for f in files:
            lines = open(os.path.join(ROOT, f), encoding="utf-8", errors="replace").read().split("\n")
            for n, line in enumerate(lines, 1):
                if line.startswith("#[cfg(test)]") and n < len(lines) and re.match(r"mod \w+ \{", lines[n]):
                    break
                m = rx.search(line)
                if m:
                    hits.setdefault(f, []).append(n)
                    if by_type:
                        types.add(f"{f.split('/src/')[0]}::{m.group(1)}" if m.group(1) in ("Error",) else m.group(1))
        count = len(types) if by_type else len(hits)
        print(f"== {title}: {count}" + (f" ({', '.join(sorted(types))})" if by_type else ""))
        for f, ns in hits.items():
            print(f"   {f}:{','.join(map(str, ns))}")
    longest = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "long-functions.py")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    print(f"== production functions over 80 lines: {len(longest)}")
    for line in longest:
        print(f"   {line.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
