#!/usr/bin/env python3
"""List production Rust functions longer than a limit (default 80 lines).

    python3 scripts/long-functions.py [--limit N] [--count]

Production code: the tracked `*.rs` files under functions/, shared/, local/
and workloads/ (not tests/, benches/, build.rs kept), each up to its first
`#[cfg(test)]`. A function runs from its `fn` line to the line of the brace
that closes its body (braces in strings, chars and comments are skipped).
Prints `lines path:line name`, longest first; `--count` prints the number only.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], check=True, capture_output=True, text=True).stdout.strip())
FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")


def production_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "functions", "shared", "local", "workloads"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()
    return [ROOT / f for f in out if f.endswith(".rs") and "/tests/" not in f and "/benches/" not in f]


def strip(line: str, in_block: bool) -> tuple[str, bool]:
    """The line without strings, chars and comments; whether a block comment continues."""
    out, i = [], 0
    while i < len(line):
        if in_block:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 2, False
            continue
        two = line[i:i + 2]
        if two == "//":
            break
        if two == "/*":
            in_block, i = True, i + 2
            continue
        c = line[i]
        if c == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            i = j + 1
            continue
        if c == "'" and re.match(r"'(\\.|[^\\'])'", line[i:]):
            i += len(re.match(r"'(\\.|[^\\'])'", line[i:]).group(0))
            continue
        out.append(c)
        i += 1
    return "".join(out), in_block


def functions(path: Path):
    lines = path.read_text(errors="replace").splitlines()
    in_block = False
    stack: list[tuple[str, int, int]] = []  # (name, start line, depth at which its body opened)
    pending: tuple[str, int] | None = None
    depth = 0
    for no, raw in enumerate(lines, 1):
        if raw.strip().startswith("#[cfg(test)]"):
            break
        m = FN.match(raw)
        code, in_block = strip(raw, in_block)
        if m:
            pending = (m.group(1), no)
        for ch in code:
            if ch == "{":
                depth += 1
                if pending:
                    stack.append((pending[0], pending[1], depth))
                    pending = None
            elif ch == "}":
                if stack and stack[-1][2] == depth:
                    name, start, _ = stack.pop()
                    yield name, start, no - start + 1
                depth -= 1
            elif ch == ";" and pending and depth >= 0:
                pending = None  # a declaration without a body (trait method)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=80)
    ap.add_argument("--count", action="store_true")
    args = ap.parse_args()
    long = []
    for path in production_files():
        for name, start, length in functions(path):
            if length > args.limit:
                long.append((length, f"{path.relative_to(ROOT)}:{start}", name))
    long.sort(reverse=True)
    if args.count:
        print(len(long))
    else:
        for length, where, name in long:
            print(f"{length:5} {where} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
