"""scripts/web-serve.py without a browser: the config.json it builds from
the platform's files, every missing or malformed input, and what it serves."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, web_serve


def args(tmp_path: Path, **over) -> argparse.Namespace:
    base = dict(
        api_url=None,
        client_id=None,
        cognito_endpoint=None,
        region=None,
        environment="test",
        platform_file=ROOT / "platform.yaml",
        local_dir=tmp_path,
    )
    base.update(over)
    return argparse.Namespace(**base)


def test_config_from_the_files_make_local_writes(tmp_path):
    (tmp_path / "env").write_text("COGNITO_CLIENT_ID='client-1'\nAWS_REGION=eu-west-1\n# comment\n\nexport DEMO_USER=demo\n")
    (tmp_path / "admin-credentials").write_text("AWS_ENDPOINT_URL='http://127.0.0.1:4566'\n")
    cfg = web_serve.build_config(args(tmp_path), {"PORTCULLIS_LOCAL_PORT": "3100"})
    assert cfg["apiBaseUrl"] == "http://localhost:3100"
    assert cfg["cognito"] == {"region": "eu-west-1", "clientId": "client-1", "endpoint": "http://127.0.0.1:4566"}
    assert cfg["environment"] == "test"
    sample = cfg["jobTypes"]["sample"]
    assert sample["scope"] == "jobs:write"
    assert sample["overrides"]["args"] == 16
    assert "GREETING" in sample["overrides"]["env"]
    assert sample["overrides"]["cpu"] == {"min": 256, "max": 1024}
    assert cfg["services"]["sample"]["scope"] == "services:sample"
    assert "GET" in cfg["services"]["sample"]["methods"]
    assert "standard" in cfg["usagePlans"]


def test_terraform_outputs_and_explicit_values(tmp_path):
    (tmp_path / "terraform-local-outputs.json").write_text(json.dumps({"cognito_web_client_id": {"value": "from-tf", "sensitive": False}}))
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4600"}
    assert web_serve.build_config(args(tmp_path), env)["cognito"]["clientId"] == "from-tf"
    # Arguments win over the environment, which wins over the files.
    cfg = web_serve.build_config(
        args(tmp_path, client_id="arg", api_url="https://api.example.com/v1/", cognito_endpoint="aws", region="eu-west-1"),
        {**env, "COGNITO_CLIENT_ID": "env"},
    )
    assert cfg["cognito"] == {"region": "eu-west-1", "clientId": "arg"}
    assert cfg["apiBaseUrl"] == "https://api.example.com/v1"
    assert web_serve.build_config(args(tmp_path), {**env, "COGNITO_CLIENT_ID": "env"})["cognito"]["clientId"] == "env"


@pytest.mark.parametrize(
    ("files", "over", "env", "message"),
    [
        ({}, {}, {"AWS_ENDPOINT_URL": "http://x:1"}, "no Cognito app client id"),
        ({"env": "COGNITO_CLIENT_ID=c\n"}, {}, {}, "no Cognito endpoint"),
        ({"env": "COGNITO_CLIENT_ID=c\n"}, {"api_url": "localhost:3000"}, {"AWS_ENDPOINT_URL": "http://x:1"}, "the API URL must be an http"),
        ({"env": "COGNITO_CLIENT_ID=c\n"}, {"cognito_endpoint": "ftp://x"}, {}, "the Cognito endpoint must be an http"),
        ({"env": "COGNITO_CLIENT_ID c\n"}, {}, {}, "not a KEY=VALUE line"),
        ({"env": "COGNITO_CLIENT_ID='c\n"}, {}, {}, "No closing quotation"),
        ({"terraform-local-outputs.json": "{not json"}, {}, {"AWS_ENDPOINT_URL": "http://x:1"}, "is not readable JSON"),
        ({"env": "COGNITO_CLIENT_ID=c\n", "platform.yaml": "jobs: [1, 2]\n"}, {}, {"AWS_ENDPOINT_URL": "http://x:1"}, "jobs must be a mapping"),
        ({"env": "COGNITO_CLIENT_ID=c\n", "platform.yaml": "- a\n"}, {}, {"AWS_ENDPOINT_URL": "http://x:1"}, "the document must be a mapping"),
        ({"env": "COGNITO_CLIENT_ID=c\n", "platform.yaml": "jobs: {a: [\n"}, {}, {"AWS_ENDPOINT_URL": "http://x:1"}, "is not valid YAML"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(tmp_path, files, over, env, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    if "platform.yaml" in files:
        over = {**over, "platform_file": tmp_path / "platform.yaml"}
    with pytest.raises(ValueError, match=message):
        web_serve.build_config(args(tmp_path, **over), env)


def test_a_missing_platform_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        web_serve.build_config(args(tmp_path, client_id="c", cognito_endpoint="http://x:1", platform_file=tmp_path / "nope.yaml"), {})


def test_bad_ports_are_refused():
    for bad in (["--port", "0"], ["--port", "70000"], ["--port", "http"]):
        with pytest.raises(SystemExit):
            web_serve.parse_args(bad)


def test_the_server_answers_the_console_its_config_and_security_headers(tmp_path):
    cfg = web_serve.build_config(args(tmp_path, client_id="c", cognito_endpoint="http://127.0.0.1:4566", api_url="http://localhost:3000"), {})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = web_serve.make_server(cfg, ROOT / "web", "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(base + "/") as resp:
            assert resp.status == 200
            assert b'<script type="module" src="js/app.js">' in resp.read()
            csp = resp.headers["content-security-policy"]
            assert "connect-src 'self' http://127.0.0.1:4566 http://localhost:3000" in csp
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert resp.headers["x-content-type-options"] == "nosniff"
        with urllib.request.urlopen(base + "/config.json?x=1") as resp:
            assert json.loads(resp.read()) == cfg
        with urllib.request.urlopen(base + "/js/app.js") as resp:
            assert resp.headers["content-type"].startswith("text/javascript")
        for missing in ("/js/", "/nope.html", "/../platform.yaml"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + missing)
            assert err.value.code == 404, missing
    finally:
        server.shutdown()
        server.server_close()


def test_write_only_writes_config_json_and_exits(tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html>")
    rc = web_serve.main(
        ["--write-only", "--web-dir", str(web), "--local-dir", str(tmp_path), "--client-id", "c", "--cognito-endpoint", "http://127.0.0.1:1", "--api-url", "http://localhost:1"]
    )
    assert rc == 0
    assert json.loads((web / "config.json").read_text())["cognito"]["clientId"] == "c"
    with pytest.raises(SystemExit):
        web_serve.main(["--write-only", "--web-dir", str(tmp_path / "none")])
