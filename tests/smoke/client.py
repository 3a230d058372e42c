"""HTTP for the smoke suite: the Python standard library only (urllib).

One call, `Http.request`, answers every status (4xx and 5xx are answers, not
exceptions), never follows a redirect (a 303 is what the suite checks), and
raises `Unreachable` only when no HTTP answer came at all.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


class Unreachable(Exception):
    """No HTTP answer: DNS, connection refused, TLS, timeout."""


@dataclass
class Answer:
    method: str
    url: str
    status: int
    headers: Message
    body: bytes
    sent_headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_list(self, name: str) -> list[str]:
        """A comma-separated header's items, lower-cased (every occurrence)."""
        items: list[str] = []
        for value in self.headers.get_all(name) or []:
            items += [v.strip().lower() for v in value.split(",") if v.strip()]
        return items

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise ValueError(f"{self.method} {self.path} answered {self.status} with a body that is not JSON ({err}): {self.text(200)!r}") from None

    def text(self, limit: int = 300) -> str:
        text = self.body.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + "..."

    @property
    def path(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def brief(self) -> str:
        """`GET /v1/me -> 401 application/problem+json` and the body's start."""
        return f"{self.method} {self.path} -> {self.status} {self.content_type or '(no content-type)'}: {self.text(200)}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 (urllib's hook)
        return None


class Http:
    def __init__(self, base_url: str, timeout: float = 30.0, insecure: bool = False):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        context = ssl.create_default_context()
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))
        self.requests = 0

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                json_body: Any = None, body: bytes | None = None, timeout: float | None = None) -> Answer:
        sent = {"user-agent": "portcullis-smoke/1", "accept": "*/*"}
        sent.update({k.lower(): v for k, v in (headers or {}).items()})
        data = body
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("content-type", "application/json")
        url = self.url(path)
        req = urllib.request.Request(url, data=data, method=method, headers=sent)
        self.requests += 1
        try:
            with self._opener.open(req, timeout=timeout or self.timeout) as resp:
                return Answer(method, url, resp.status, resp.headers, resp.read(), sent)
        except urllib.error.HTTPError as err:
            try:
                payload = err.read()
            except OSError:
                payload = b""
            return Answer(method, url, err.code, err.headers, payload, sent)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", err)
            raise Unreachable(f"{method} {url}: no HTTP answer ({reason})") from None

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)
