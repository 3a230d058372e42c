"""Fixtures of the browser tests: Debian's chromium driven by Playwright,
the console served on its allowlisted origin, the running platform.

Run them with scripts/browser-test.sh while `make local` runs. What they read
(environment first, then the files `make local` writes):

- PORTCULLIS_API_URL, else http://localhost:$PORTCULLIS_LOCAL_PORT (3000);
- PORTCULLIS_DEMO_USER / PORTCULLIS_DEMO_PASSWORD, else DEMO_USER /
  DEMO_PASSWORD of .local/env ($PORTCULLIS_LOCAL_DIR/env);
- the Cognito client and endpoint as scripts/web-serve.py finds them;
- WEB_PORT (5173): the console's origin must be on the API's CORS allowlist;
- PORTCULLIS_CHROMIUM: the browser (default: chromium on PATH).

Without chromium the tests are skipped, unless PORTCULLIS_BROWSER_TESTS is
set: then a missing browser is a failure (CI sets it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import socket
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("PORTCULLIS_LOCAL_DIR") or ROOT / ".local")
ARTIFACTS = LOCAL_DIR / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _load_web_serve():
    spec = importlib.util.spec_from_file_location("web_serve", ROOT / "scripts" / "web-serve.py")
    assert spec and spec.loader, "scripts/web-serve.py is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


web_serve = _load_web_serve()


def _required() -> bool:
    return bool(os.environ.get("PORTCULLIS_BROWSER_TESTS"))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    explicit = os.environ.get("PORTCULLIS_CHROMIUM")
    if explicit:
        if not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
            pytest.fail(f"PORTCULLIS_CHROMIUM={explicit} is not an executable file")
        return explicit
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    msg = (
        "chromium is not installed (on Debian/Ubuntu: apt-get install -y chromium); "
        "set PORTCULLIS_CHROMIUM to another Chromium executable"
    )
    if _required():
        pytest.fail(msg + " [PORTCULLIS_BROWSER_TESTS is set: a missing browser is a failure]")
    pytest.skip(msg + " [set PORTCULLIS_BROWSER_TESTS=1 to make this a failure]")


@dataclass
class Platform:
    api_url: str
    user: str
    password: str
    config: dict

    def call(self, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict]:
        """A direct call to the API (not through the browser): status and JSON body."""
        req = urllib.request.Request(self.api_url + path, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body or b"null")
            except json.JSONDecodeError:
                return err.code, {"raw": body.decode(errors="replace")}


@pytest.fixture(scope="session")
def platform(chromium_path) -> Platform:
    local_env = web_serve.read_env_file(LOCAL_DIR / "env")
    api_url = os.environ.get("PORTCULLIS_API_URL") or f"http://localhost:{os.environ.get('PORTCULLIS_LOCAL_PORT') or 3000}"
    api_url = api_url.rstrip("/")
    try:
        with urllib.request.urlopen(api_url + "/v1/health", timeout=10):
            pass
    except urllib.error.HTTPError:
        pass  # 503 (a dependency down) still means the gateway answers
    except OSError as err:
        pytest.fail(
            f"no Portcullis API answers at {api_url} ({err}): start the platform with `make local` "
            "(or set PORTCULLIS_API_URL / PORTCULLIS_LOCAL_PORT to the running one)"
        )
    user = os.environ.get("PORTCULLIS_DEMO_USER") or local_env.get("DEMO_USER")
    password = os.environ.get("PORTCULLIS_DEMO_PASSWORD") or local_env.get("DEMO_PASSWORD")
    if not user or not password:
        pytest.fail("no demo login: set PORTCULLIS_DEMO_USER and PORTCULLIS_DEMO_PASSWORD, or run `make local` (it writes .local/env)")
    args = argparse.Namespace(
        api_url=api_url,
        client_id=None,
        cognito_endpoint=None,
        region=None,
        environment="browser-test",
        platform_file=Path(os.environ.get("PLATFORM_FILE") or ROOT / "platform.yaml"),
        local_dir=LOCAL_DIR,
    )
    try:
        config = web_serve.build_config(args, dict(os.environ))
    except ValueError as err:
        pytest.fail(f"cannot build the console's config.json: {err}")
    return Platform(api_url=api_url, user=user, password=password, config=config)


def _serve(config: dict, port: int):
    server = web_serve.make_server(config, ROOT / "web", "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture(scope="session")
def console(platform) -> str:
    """The console on its allowlisted origin (http://localhost:$WEB_PORT, 5173)."""
    port = int(os.environ.get("WEB_PORT") or web_serve.DEFAULT_PORT)
    try:
        server = _serve(platform.config, port)
    except OSError as err:
        pytest.fail(
            f"cannot serve the console on 127.0.0.1:{port} ({err}): stop what listens there (another "
            "scripts/web-serve.py?), or set WEB_PORT to another port whose origin is on the API's CORS allowlist"
        )
    yield f"http://localhost:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def foreign_console(platform) -> str:
    """The same console on an origin NOT on the CORS allowlist (127.0.0.1, a free port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = _serve(platform.config, port)
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run the browser tests with scripts/browser-test.sh (it installs requirements/browser.txt)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class PageErrors(list):
    """JavaScript errors the page raised; a test fails if there are any."""


@pytest.fixture
def page(browser, console):
    context = browser.new_context(base_url=console, viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console)
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors = PageErrors()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    context.close()
    assert not errors, f"the page raised JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
