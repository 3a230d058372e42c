#!/usr/bin/env python3
"""Serve the web console (web/) on its own origin, with its config.json.

    .venv/bin/python scripts/web-serve.py                 # http://localhost:5173
    .venv/bin/python scripts/web-serve.py --write-only    # just write web/config.json

At start it writes web/config.json (git-ignored) from:

- the API base URL: --api-url, else $PORTCULLIS_API_URL, else
  http://localhost:$PORTCULLIS_LOCAL_PORT (3000), the local gateway;
- the Cognito app client: --client-id, else $COGNITO_CLIENT_ID, else
  COGNITO_CLIENT_ID of .local/env, else cognito_web_client_id of
  .local/terraform-local-outputs.json (what `make local` leaves there);
- the Cognito endpoint the browser calls: --cognito-endpoint, else
  $AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, else $AWS_ENDPOINT_URL, else
  AWS_ENDPOINT_URL of .local/env or .local/admin-credentials (the emulator);
  "aws" means Cognito itself (https://cognito-idp.<region>.amazonaws.com/);
- the region: --region, else $AWS_REGION, else us-east-1;
- the job types, services and usage plans of platform.yaml ($PLATFORM_FILE).

Terraform writes the same document for AWS (terraform/modules/web); its
shape is in docs/web.md. The console is served from 127.0.0.1 on --port
(5173, $WEB_PORT): the origin http://localhost:5173 is the one the API's CORS
allowlist names in env/local.tfvars and dev.tfvars. Every answer carries a
Content-Security-Policy that lets the page talk only to its own origin, the
API and Cognito. Ctrl-C (or SIGTERM) stops it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# envfile lives beside this script; tests/browser loads this file by path, so
# its folder is not always on sys.path already.
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))
from envfile import read_env_file  # noqa: E402  (the one parser of .local/env)
WEB_DIR = ROOT / "web"
LOCAL_DIR = Path(os.environ.get("PORTCULLIS_LOCAL_DIR") or ROOT / ".local")
DEFAULT_PORT = 5173
POLL_SECONDS = 3


def die(msg: str) -> "NoReturn":  # type: ignore[name-defined]  # noqa: F821
    print(f"web-serve: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def say(msg: str) -> None:
    print(f"web-serve: {msg}", file=sys.stderr, flush=True)


def terraform_output(path: Path, name: str) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not readable JSON: {err}") from err
    item = data.get(name) if isinstance(data, dict) else None
    value = item.get("value") if isinstance(item, dict) else None
    return value if isinstance(value, str) and value else None


def check_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def platform_entries(platform_file: Path) -> dict:
    """jobTypes, services and usagePlans of the registry, as the console reads them."""
    try:
        import yaml  # PyYAML: in the project venv (moto depends on it)
    except ImportError:
        die("PyYAML is missing: run this with the project venv (.venv/bin/python; scripts/ensure-venv.sh creates it)")
    try:
        doc = yaml.safe_load(platform_file.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise ValueError(f"cannot read {platform_file}: {err}") from err
    except yaml.YAMLError as err:
        raise ValueError(f"{platform_file} is not valid YAML: {err}") from err
    if not isinstance(doc, dict):
        raise ValueError(f"{platform_file}: the document must be a mapping")

    def section(name: str) -> dict:
        value = doc.get(name) or {}
        if not isinstance(value, dict):
            raise ValueError(f"{platform_file}: {name} must be a mapping")
        return value

    job_types = {}
    for name, jt in section("jobs").items():
        jt = jt if isinstance(jt, dict) else {}
        o = jt.get("overrides") if isinstance(jt.get("overrides"), dict) else {}
        overrides: dict = {"args": o.get("args", False), "env": list(o.get("env") or [])}
        for key in ("cpu", "memory"):
            if isinstance(o.get(key), dict):
                overrides[key] = {"min": o[key].get("min"), "max": o[key].get("max")}
        job_types[name] = {
            "description": jt.get("description", ""),
            "scope": jt.get("scope", "jobs:write"),
            "overrides": overrides,
        }
    services = {}
    for name, svc in section("services").items():
        svc = svc if isinstance(svc, dict) else {}
        services[name] = {
            "description": svc.get("description", ""),
            "scope": svc.get("scope", f"services:{name}"),
            "methods": list(svc.get("methods") or ["GET"]),
        }
    plans = {
        name: {"description": (p or {}).get("description", "") if isinstance(p, dict) else ""}
        for name, p in section("usage_plans").items()
    }
    return {"jobTypes": job_types, "services": services, "usagePlans": plans}


def build_config(args: argparse.Namespace, environ: dict[str, str]) -> dict:
    """The config.json document, or ValueError saying which input is missing."""
    local_env = read_env_file(args.local_dir / "env")
    creds = read_env_file(args.local_dir / "admin-credentials")
    outputs = args.local_dir / "terraform-local-outputs.json"

    api_url = args.api_url or environ.get("PORTCULLIS_API_URL")
    if not api_url:
        api_url = f"http://localhost:{environ.get('PORTCULLIS_LOCAL_PORT') or 3000}"

    client_id = (
        args.client_id
        or environ.get("COGNITO_CLIENT_ID")
        or local_env.get("COGNITO_CLIENT_ID")
        or terraform_output(outputs, "cognito_web_client_id")
    )
    if not client_id:
        raise ValueError(
            "no Cognito app client id: pass --client-id, set COGNITO_CLIENT_ID, or start the "
            "platform first (make local writes .local/env)"
        )

    region = args.region or environ.get("AWS_REGION") or local_env.get("AWS_REGION") or "us-east-1"
    endpoint = (
        args.cognito_endpoint
        or environ.get("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
        or environ.get("AWS_ENDPOINT_URL")
        or local_env.get("AWS_ENDPOINT_URL")
        or creds.get("AWS_ENDPOINT_URL")
    )
    if not endpoint:
        raise ValueError(
            "no Cognito endpoint: pass --cognito-endpoint URL (or 'aws' for Cognito itself), set "
            "AWS_ENDPOINT_URL, or start the platform first (make local)"
        )
    cognito: dict = {"region": region, "clientId": client_id}
    if endpoint != "aws":
        cognito["endpoint"] = check_url("the Cognito endpoint", endpoint)

    config = {
        "environment": args.environment,
        "apiBaseUrl": check_url("the API URL", api_url),
        "cognito": cognito,
        "pollSeconds": POLL_SECONDS,
    }
    config.update(platform_entries(args.platform_file))
    return config


def content_security_policy(config: dict) -> str:
    def origin(url: str) -> str:
        p = urlsplit(url)
        return f"{p.scheme}://{p.netloc}"

    cognito = config["cognito"].get("endpoint") or f"https://cognito-idp.{config['cognito']['region']}.amazonaws.com"
    connect = " ".join(sorted({"'self'", origin(config["apiBaseUrl"]), origin(cognito)}))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files of web/, and /config.json from memory (the document
    written at start), with security headers on every answer."""

    csp = ""
    config_body = b"{}"

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        # Always the files on disk: a reload after an edit shows the edit.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config_body)))
            self.end_headers()
            self.wfile.write(self.config_body)
            return
        super().do_GET()

    def list_directory(self, path):  # no directory listings
        self.send_error(404, "Not found")
        return None

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(f"web-serve: {self.address_string()} {fmt % args}\n")


def make_server(config: dict, web_dir: Path, bind: str, port: int) -> http.server.ThreadingHTTPServer:
    """A server of web_dir with this config (not started; OSError when the port is taken)."""
    handler_cls = type(
        "ConsoleHandler",
        (Handler,),
        {"csp": content_security_policy(config), "config_body": (json.dumps(config, indent=2) + "\n").encode()},
    )
    handler = functools.partial(handler_cls, directory=str(web_dir))
    return http.server.ThreadingHTTPServer((bind, port), handler)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=int(os.environ.get("WEB_PORT") or DEFAULT_PORT))
    p.add_argument("--bind", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--api-url")
    p.add_argument("--client-id")
    p.add_argument("--cognito-endpoint", help="URL, or 'aws' for https://cognito-idp.<region>.amazonaws.com/")
    p.add_argument("--region")
    p.add_argument("--environment", default=os.environ.get("PORTCULLIS_ENVIRONMENT", "local"))
    p.add_argument("--platform-file", type=Path, default=Path(os.environ.get("PLATFORM_FILE") or ROOT / "platform.yaml"))
    p.add_argument("--local-dir", type=Path, default=LOCAL_DIR, help="where make local keeps env and outputs (.local)")
    p.add_argument("--web-dir", type=Path, default=WEB_DIR)
    p.add_argument("--write-only", action="store_true", help="write config.json and exit")
    args = p.parse_args(argv)
    if not 1 <= args.port <= 65535:
        p.error(f"--port must be 1-65535, got {args.port}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not (args.web_dir / "index.html").is_file():
        die(f"{args.web_dir}/index.html not found: is --web-dir the console's folder?")
    try:
        config = build_config(args, dict(os.environ))
    except ValueError as err:
        die(str(err))
    target = args.web_dir / "config.json"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)
    say(f"wrote {target} (API {config['apiBaseUrl']}, Cognito client {config['cognito']['clientId']})")
    if args.write_only:
        return 0

    try:
        server = make_server(config, args.web_dir, args.bind, args.port)
    except OSError as err:
        die(f"cannot listen on {args.bind}:{args.port} ({err}); another console running? choose --port or WEB_PORT")
    host = "localhost" if args.bind in ("127.0.0.1", "::1", "localhost") else args.bind
    say(f"console on http://{host}:{args.port}/ (Ctrl-C stops it)")

    def stop(signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with server:
        server.serve_forever()
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
