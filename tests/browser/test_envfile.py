"""scripts/envfile.py: the one reader and writer of the env files `make local`
keeps (.local/env, admin-credentials), which shells also source."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from envfile import read_env_file, write_env_file  # noqa: E402

VALUES = {
    "PLAIN": "abc",
    "SPACES": "a b  c",
    "QUOTES": "it's \"quoted\"",
    "SHELLY": "$HOME `id` ; rm -rf /",
    "EMPTY": "",
    "LIST": "sample=arn:aws:secretsmanager:us-east-1:000000000000:secret:x,web=arn:y",
}


def test_what_is_written_reads_back_the_same_in_python_and_in_a_shell(tmp_path):
    path = tmp_path / "sub" / "env"
    write_env_file(path, VALUES, header="a test file")
    assert read_env_file(path) == VALUES
    assert path.read_text().startswith("# a test file\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (tmp_path / "sub" / "env.tmp").exists()
    shell = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; for k in "${@:2}"; do printf "%s\\0" "${!k}"; done', "-", str(path), *VALUES],
        check=True, capture_output=True, text=True,
    )
    assert shell.stdout.split("\0")[:-1] == list(VALUES.values())


def test_rewriting_replaces_the_file(tmp_path):
    path = tmp_path / "env"
    write_env_file(path, {"A": "1", "B": "2"}, header="h")
    write_env_file(path, {"A": "3"}, header="h")
    assert read_env_file(path) == {"A": "3"}


def test_a_missing_file_reads_as_empty(tmp_path):
    assert read_env_file(tmp_path / "nope") == {}


def test_comments_blank_lines_and_export_are_allowed(tmp_path):
    (tmp_path / "env").write_text("# c\n\n  export A='x y'\nB=2\n")
    assert read_env_file(tmp_path / "env") == {"A": "x y", "B": "2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [("A 1\n", r"env:1: not a KEY=VALUE line"), ("A=1\n=2\n", r"env:2: not a KEY=VALUE line"), ("A='x\n", r"env:1: No closing quotation")],
)
def test_bad_lines_are_refused_with_file_and_line(tmp_path, text, message):
    (tmp_path / "env").write_text(text)
    with pytest.raises(ValueError, match=message):
        read_env_file(tmp_path / "env")
