"""The env files `make local` writes and reads: KEY=VALUE lines, values
shell-quoted (KEY='value'), so that `. .local/env` works in a shell too.

One home for the format: scripts/demo.py writes and reads $PORTCULLIS_LOCAL_DIR/env,
scripts/web-serve.py (and through it tests/browser) reads it and
admin-credentials. Import it from a script in scripts/ directly; from
elsewhere, put scripts/ on sys.path first.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (shell-quoted values, `export ` and # comments allowed);
    {} when the file is absent. ValueError, naming the file and line, for a
    line that is not KEY=VALUE or whose quoting does not close."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{lineno}: not a KEY=VALUE line")
        try:
            parts = shlex.split(raw)
        except ValueError as err:
            raise ValueError(f"{path}:{lineno}: {err}") from err
        values[key.strip()] = parts[0] if parts else ""
    return values


def write_env_file(path: Path, values: dict[str, str], header: str) -> None:
    """Replace PATH (mode 0600, it may hold secrets) with `# HEADER` and one
    KEY='value' line per item; a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"# {header}\n")
        for key, value in values.items():
            f.write(f"{key}={shlex.quote(value)}\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
