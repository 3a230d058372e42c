"""Cognito for the smoke suite, over HTTPS with the standard library.

- `sign_in`: InitiateAuth with USER_PASSWORD_AUTH, an unsigned call (what the
  web console does; the app client must allow ALLOW_USER_PASSWORD_AUTH and
  have no secret).
- `Admin`: the admin API (CreateGroup, AdminCreateUser, AdminSetUserPassword,
  AdminAddUserToGroup, AdminDeleteUser, DeleteGroup), signed with AWS
  Signature Version 4 from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
  (/ AWS_SESSION_TOKEN). AWS General Reference, "Create a signed AWS API
  request" (SigV4); Amazon Cognito API Reference for each action.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

TARGET_PREFIX = "AWSCognitoIdentityProviderService."


class CognitoError(Exception):
    def __init__(self, action: str, status: int, code: str, message: str):
        super().__init__(f"Cognito {action} answered {status} {code}: {message}")
        self.code = code


def endpoint_for(region: str, endpoint: str | None) -> str:
    return (endpoint or f"https://cognito-idp.{region}.amazonaws.com").rstrip("/") + "/"


def region_of_pool(pool_id: str) -> str | None:
    """A user pool id is `<region>_<id>` (us-east-1_AbCd)."""
    return pool_id.split("_", 1)[0] if "_" in pool_id else None


def sigv4_headers(*, method: str, url: str, region: str, service: str, body: bytes,
                  headers: dict[str, str], access_key: str, secret_key: str,
                  session_token: str | None = None, now: dt.datetime | None = None) -> dict[str, str]:
    """`headers` plus Authorization, X-Amz-Date (and X-Amz-Security-Token):
    Signature Version 4 over every header given, host and the payload."""
    now = now or dt.datetime.now(dt.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = now.strftime("%Y%m%d")
    parts = urllib.parse.urlsplit(url)
    signed = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    signed["host"] = parts.netloc
    signed["x-amz-date"] = amz_date
    if session_token:
        signed["x-amz-security-token"] = session_token
    names = sorted(signed)
    query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))
    canonical = "\n".join([
        method,
        urllib.parse.quote(parts.path or "/", safe="/-_.~"),
        query,
        "".join(f"{n}:{signed[n]}\n" for n in names),
        ";".join(names),
        hashlib.sha256(body).hexdigest(),
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = dict(headers)
    out["X-Amz-Date"] = amz_date
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                            f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return out


def _call(url: str, action: str, payload: dict[str, Any], headers: dict[str, str], timeout: float) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return json.loads(raw) if raw.strip() else {}
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = {}
        code = str(doc.get("__type", "")).split("#")[-1] or "error"
        raise CognitoError(action, err.code, code, doc.get("message") or doc.get("Message") or raw[:200].decode(errors="replace")) from None
    except (urllib.error.URLError, OSError) as err:
        raise CognitoError(action, 0, "unreachable", f"{url}: {getattr(err, 'reason', err)}") from None


def _headers(action: str) -> dict[str, str]:
    return {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET_PREFIX + action}


def sign_in(*, region: str, endpoint: str | None, client_id: str, username: str, password: str,
            timeout: float = 30.0) -> dict[str, str]:
    """AuthenticationResult of InitiateAuth USER_PASSWORD_AUTH (AccessToken, IdToken, ...)."""
    out = _call(endpoint_for(region, endpoint), "InitiateAuth", {
        "AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
        "AuthParameters": {"USERNAME": username, "PASSWORD": password},
    }, _headers("InitiateAuth"), timeout)
    result = out.get("AuthenticationResult")
    if not result:
        raise CognitoError("InitiateAuth", 200, out.get("ChallengeName", "no-result"),
                           "no tokens: the user must answer a challenge first (a permanent password is needed)")
    return result


@dataclass
class Admin:
    region: str
    endpoint: str | None
    pool_id: str
    access_key: str
    secret_key: str
    session_token: str | None = None
    timeout: float = 30.0

    def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = endpoint_for(self.region, self.endpoint)
        body = json.dumps(payload).encode()
        headers = sigv4_headers(method="POST", url=url, region=self.region, service="cognito-idp", body=body,
                                headers=_headers(action), access_key=self.access_key,
                                secret_key=self.secret_key, session_token=self.session_token)
        return _call(url, action, payload, headers, self.timeout)

    def create_user_in_group(self, username: str, password: str, group: str) -> None:
        self.call("CreateGroup", {"UserPoolId": self.pool_id, "GroupName": group,
                                  "Description": "portcullis smoke suite (deleted when it ends)"})
        self.call("AdminCreateUser", {"UserPoolId": self.pool_id, "Username": username, "MessageAction": "SUPPRESS",
                                      "UserAttributes": [{"Name": "email", "Value": username},
                                                         {"Name": "email_verified", "Value": "true"}]})
        self.call("AdminSetUserPassword", {"UserPoolId": self.pool_id, "Username": username,
                                           "Password": password, "Permanent": True})
        self.call("AdminAddUserToGroup", {"UserPoolId": self.pool_id, "Username": username, "GroupName": group})

    def delete_user(self, username: str) -> None:
        self.call("AdminDeleteUser", {"UserPoolId": self.pool_id, "Username": username})

    def delete_group(self, group: str) -> None:
        self.call("DeleteGroup", {"UserPoolId": self.pool_id, "GroupName": group})
