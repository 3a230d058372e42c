#!/usr/bin/env python3
"""`make docs-check`: run the command blocks of the docs against a running
platform and compare each curl's HTTP status with what the doc says.

    scripts/docs-run.py [--base-url URL] [--local-dir DIR] [FILE ...]

Default FILEs: README.md, docs/operations.md, docs/keys.md, docs/jobs.md.
Standard library only; runs the blocks with bash and curl.

Which blocks run
  A fenced block marked by an HTML comment on the line(s) just before it
  (blank lines between are allowed), invisible when the doc is rendered:

      <!-- docs-run -->
      ```sh
      ...
      ```

  `<!-- docs-run: timeout=600 -->` gives the file's blocks more than the
  default 300 s. A file's marked blocks run in order in ONE bash session, so
  a walkthrough may set a variable in one block and use it in the next.
  FINGERPRINTS below also marks blocks of files this runner may not edit (a
  block containing that text), until their owner adds the comment.

What is compared
  Every command line (continuation lines joined) that runs curl is checked.
  Its expected status is the trailing comment's first word when it is an
  HTTP status or statuses joined by `|`:

      curl -s $B/v1/health                  # 200 with database and emulator status
      curl -s -X DELETE ... $B/v1/keys/$ID  # 200|404
      curl -s ... $B/v1/keys                # (no status: any 1xx-3xx passes)

  A curl line without one must answer below 400. Every curl it runs (a
  loop's too) is compared, and each checked line must run at least once.
  A command that fails (exit status, `set -e -o pipefail`) stops the file's
  session and fails the line.

Where it runs
  bash in the repository root with the doc's text rewritten for the target
  platform: `http://localhost:3000`, `http://127.0.0.1:3000`, `localhost:3000`
  and `127.0.0.1:3000` become --base-url (BASE_URL, default
  http://127.0.0.1:3000), and `.local/` becomes --local-dir
  (PORTCULLIS_LOCAL_DIR, default .local), which is also exported as
  PORTCULLIS_LOCAL_DIR for scripts/token.sh. curl is a shell function that
  records each status (`curl -D`), so the commands print what a reader sees.

Output: one line per checked command (PASS|FAIL file:line: got ... expected
...) and a summary; exit 1 when any failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FILES = ["README.md", "docs/operations.md", "docs/keys.md", "docs/jobs.md"]
# Blocks of docs whose owner has not marked them yet: (file, text the block contains).
FINGERPRINTS: list[tuple[str, str]] = []
MARKER = re.compile(r"^\s*<!--\s*docs-run(?::\s*(?P<opts>.*?))?\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")
STATUS = re.compile(r"^(?P<codes>[1-5]\d\d(?:\|[1-5]\d\d)*)(?![\d])")
SHELL_LANGS = {"sh", "bash", "shell", "console", ""}


@dataclass
class Command:
    file: str
    line: int            # 1-based line of the command's first line in the doc
    text: str            # the command as written (continuations joined with newlines)
    expected: set[int] | None
    checked: bool        # runs curl


@dataclass
class Block:
    file: str
    line: int
    commands: list[Command]
    timeout: float = 300.0


@dataclass
class Result:
    command: Command
    statuses: list[int] = field(default_factory=list)
    error: str | None = None


def comment_start(line: str) -> int | None:
    """Index of an unquoted ` #` comment's `#` in one line, or None (a tiny
    shell lexer: quotes, backslash escapes; `$#` and `${#x}` are not comments)."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t;"):
            return i
        i += 1
    return None


def trailing_comment(line: str) -> str | None:
    at = comment_start(line)
    return None if at is None else line[at + 1:].strip()


def code_of(line: str) -> str:
    at = comment_start(line)
    return (line if at is None else line[:at]).rstrip()


def expected_of(comment: str | None) -> set[int] | None:
    if not comment:
        return None
    m = STATUS.match(comment.lstrip("-> ").strip())
    return {int(c) for c in m.group("codes").split("|")} if m else None


def runs_curl(text: str) -> bool:
    code = "\n".join(code_of(l) for l in text.splitlines())
    return re.search(r"(^|[\s;|&($`])curl\s", code) is not None


def incomplete(text: str) -> bool:
    """Does bash need another line: an open quote or `$(`/`(`, or a line
    ending in `\\`, `|`, `&&` or `||` (outside a comment)?"""
    quote, depth, i = None, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t;"):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        i += 1
    if quote or depth > 0:
        return True
    return code_of(text.splitlines()[-1]).endswith(("\\", "|", "&&"))


def parse_commands(file: str, first_line: int, lines: list[str]) -> list[Command]:
    out: list[Command] = []
    i = 0
    while i < len(lines):
        start = i
        parts = [lines[i]]
        while incomplete("\n".join(parts)) and i + 1 < len(lines):
            i += 1
            parts.append(lines[i])
        i += 1
        text = "\n".join(parts)
        if not text.strip() or text.strip().startswith("#"):
            out.append(Command(file, first_line + start, text, None, False))
            continue
        comment = trailing_comment(parts[-1])
        out.append(Command(file, first_line + start, text, expected_of(comment), runs_curl(text)))
    return out


def extract(file: str, text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    fingerprints = [fp for f, fp in FINGERPRINTS if f == file]
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = m.group("indent"), m.group("fence"), m.group("lang").lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = [l[len(indent):] if l.startswith(indent) else l.lstrip() for l in lines[i + 1:j]]
        # the marker: the nearest non-blank line above the fence
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = MARKER.match(lines[k]) if k >= 0 else None
        marked = marker is not None or any(fp in "\n".join(body) for fp in fingerprints)
        if marked and lang in SHELL_LANGS:
            timeout = 300.0
            opts = (marker.group("opts") or "") if marker else ""
            for opt in opts.split():
                key, _, value = opt.partition("=")
                if key == "timeout":
                    timeout = float(value)
            blocks.append(Block(file, i + 2, parse_commands(file, i + 2, body), timeout))
        i = j + 1
    return blocks


def rewrite(text: str, base_url: str, local_dir: str) -> str:
    base = base_url.rstrip("/")
    hostport = urllib.parse.urlsplit(base).netloc
    for old in ("http://localhost:3000", "http://127.0.0.1:3000"):
        text = text.replace(old, base)
    text = re.sub(r"(?<![\w./-])(localhost|127\.0\.0\.1):3000\b", hostport, text)
    return re.sub(r"(?<![\w/-])\.local/", local_dir.rstrip("/") + "/", text)


PRELUDE = r"""
set -e -o pipefail
__docs_log=$1
curl() {
  local __h __rc=0 __code
  __h=$(mktemp)
  command curl -D "$__h" "$@" || __rc=$?
  __code=$(awk 'toupper($1) ~ /^HTTP\// {c=$2} END {print c}' "$__h" | tr -d '\r')
  rm -f "$__h"
  printf '%s %s\n' "${__docs_cmd:-0}" "${__code:-000}" >>"$__docs_log"
  return $__rc
}
trap 'printf "%s exit %s\n" "${__docs_cmd:-0}" "$?" >>"$__docs_log"' ERR
"""


def script_for(blocks: list[Block], base_url: str, local_dir: str) -> tuple[str, list[Command]]:
    commands: list[Command] = []
    out = [PRELUDE]
    for block in blocks:
        for cmd in block.commands:
            commands.append(cmd)
            n = len(commands)
            if cmd.text.strip() and not cmd.text.strip().startswith("#"):
                out.append(f"__docs_cmd={n}; printf '\\n%s\\n' {shlex.quote('$ ' + cmd.text.splitlines()[0].strip())} >&2")
            out.append(rewrite(cmd.text, base_url, local_dir))
    out.append("__docs_cmd=0")
    return "\n".join(out) + "\n", commands


def run_file(file: str, blocks: list[Block], base_url: str, local_dir: str) -> tuple[list[Result], str, int]:
    script, commands = script_for(blocks, base_url, local_dir)
    results = [Result(c) for c in commands]
    with tempfile.NamedTemporaryFile("r", suffix=".log", delete=False) as log:
        log_path = log.name
    env = dict(os.environ, PORTCULLIS_LOCAL_DIR=local_dir, B=base_url)
    timeout = sum(b.timeout for b in blocks)
    try:
        proc = subprocess.run(["bash", "-c", script, "docs-run", log_path], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        rc, output = proc.returncode, proc.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as err:
        rc, output = 124, (err.stdout or b"").decode(errors="replace") + f"\n(timed out after {timeout:g} s)"
    with open(log_path, encoding="utf-8") as f:
        records = [line.split() for line in f if line.strip()]
    os.unlink(log_path)
    for rec in records:
        n = int(rec[0])
        if n == 0:
            continue
        if rec[1] == "exit":
            results[n - 1].error = f"exited {rec[2]}"
        else:
            results[n - 1].statuses.append(int(rec[1]))
    if rc != 0 and not any(r.error for r in results):
        last = max((i for i, r in enumerate(results) if r.statuses), default=0)
        results[last].error = f"the session stopped (exit {rc})"
    shown = "\n".join(l if len(l) <= 400 else l[:400] + " ..." for l in output.strip("\n").splitlines())
    transcript = f"--- {file}: what the commands printed (bash exit {rc}) ---\n{shown}\n--- end of {file} ---"
    return results, transcript, rc


def verdict(r: Result) -> tuple[str, str] | None:
    c = r.command
    if r.error:
        got = f"; statuses {', '.join(map(str, r.statuses))}" if r.statuses else ""
        return "FAIL", f"{r.error}{got}"
    if not c.checked:
        return None
    if not r.statuses:
        return "FAIL", "did not run (an earlier command stopped the session)"
    want = c.expected
    bad = [s for s in r.statuses if (s not in want if want else not 100 <= s < 400)]
    shown = ", ".join(map(str, r.statuses)) if len(r.statuses) <= 6 else f"{len(r.statuses)} answers ending {r.statuses[-1]}"
    expected = "|".join(map(str, sorted(want))) if want else "below 400"
    return ("FAIL" if bad else "PASS"), f"got {shown}, expected {expected}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="docs-run", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="*", help=f"markdown files (default: {' '.join(DEFAULT_FILES)})")
    p.add_argument("--base-url", default=os.environ.get("BASE_URL") or "http://127.0.0.1:3000")
    p.add_argument("--local-dir", default=os.environ.get("PORTCULLIS_LOCAL_DIR") or ".local",
                   help="the .local directory of the platform at --base-url (its demo keys, env, credentials)")
    p.add_argument("--list", action="store_true", help="print the commands that would be checked, run nothing")
    p.add_argument("-v", "--verbose", action="store_true", help="show the commands' output")
    a = p.parse_args(argv)
    files = a.files or DEFAULT_FILES
    start = time.monotonic()
    passed = failed = 0
    for file in files:
        path = file if os.path.isabs(file) else os.path.join(ROOT, file)
        rel = os.path.relpath(path, ROOT)
        if not os.path.isfile(path):
            print(f"docs-run: {file}: no such file", file=sys.stderr)
            return 2
        with open(path, encoding="utf-8") as f:
            blocks = extract(rel, f.read())
        if not blocks:
            print(f"FAIL {rel}: no runnable block (mark one with <!-- docs-run --> before its ```sh fence)")
            failed += 1
            continue
        if a.list:
            for b in blocks:
                for c in b.commands:
                    if c.checked:
                        print(f"{rel}:{c.line}: expect {'|'.join(map(str, sorted(c.expected))) if c.expected else '<400'}: {c.text.splitlines()[0].strip()}")
            continue
        results, transcript, rc = run_file(rel, blocks, a.base_url, a.local_dir)
        file_failed = False
        for r in results:
            v = verdict(r)
            if v is None:
                continue
            status, detail = v
            passed, failed = passed + (status == "PASS"), failed + (status == "FAIL")
            file_failed = file_failed or status == "FAIL"
            first = r.command.text.splitlines()[0].strip()
            print(f"{status} {rel}:{r.command.line}: {detail}: {first[:110]}", flush=True)
        if a.verbose or file_failed or rc != 0:
            print(transcript, flush=True)
    if not a.list:
        print(f"docs-run: {passed} passed, {failed} failed in {time.monotonic() - start:.0f} s "
              f"({len(files)} files, against {a.base_url}, local dir {a.local_dir})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
