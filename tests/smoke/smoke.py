"""The acceptance (smoke) suite: what any Portcullis deployment must do,
checked black-box over HTTP(S). `make smoke BASE_URL=... ADMIN_API_KEY=...`
(or `python3 scripts/smoke.py --help`). Standard library only.

It provisions its own tenants (PUT /v1/tenants/<unique id>), mints its own
keys, runs the checks below, cleans up (revokes every key it made, cancels a
job left running, deletes the Cognito user and group it made; tenants stay:
the API cannot delete them, and the summary names them), prints one line per
check (`PASS|FAIL|SKIP <name>: <detail>`) and a summary, and exits 1 when a
check failed (2 when the settings are wrong). tests/smoke/README.md lists the
checks and every setting.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from client import Answer, Http, Unreachable
import cognito

CREDENTIAL_HEADERS = ("authorization", "x-api-key", "cookie")
TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass
class Settings:
    base_url: str
    admin_key: str
    origin: str
    revocation_bound: float
    job_timeout: float
    lambda_service: str
    vpc_service: str
    tenant_prefix: str
    private_base_url: str | None
    private_path: str
    cognito_pool_id: str | None
    cognito_client_id: str | None
    cognito_username: str | None
    cognito_password: str | None
    cognito_region: str | None
    cognito_endpoint: str | None
    cognito_admin: bool
    aws_access_key: str | None
    aws_secret_key: str | None
    aws_session_token: str | None
    insecure: bool
    only: list[str]


def read_env_file(path: str) -> dict[str, str]:
    """KEY=value lines (the .local/env and admin-credentials format); quotes stripped."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("export "):
                    line = line[len("export "):]
                if not line or line.startswith("#") or "=" not in line:
                    continue
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip().strip("'\"")
    except OSError:
        pass
    return out


def local_defaults(local_dir: str | None) -> dict[str, str]:
    """Settings of a platform `make local` (scripts/local.sh) runs, read from
    its state directory: the demo admin key, the Cognito demo login and pool,
    the emulator's administrator (Cognito admin API) and the authorizer's
    AUTH_CACHE_TTL_SECS from deployment.json. Explicit settings win."""
    if not local_dir:
        return {}
    import json
    out: dict[str, str] = {"BASE_URL": "http://127.0.0.1:3000"}
    try:
        with open(os.path.join(local_dir, "demo-api-key"), encoding="utf-8") as f:
            out["ADMIN_API_KEY"] = f.read().strip()
    except OSError:
        pass
    e = read_env_file(os.path.join(local_dir, "env"))
    c = read_env_file(os.path.join(local_dir, "admin-credentials"))
    for ours, theirs, src in (("COGNITO_USER_POOL_ID", "COGNITO_USER_POOL_ID", e), ("COGNITO_CLIENT_ID", "COGNITO_CLIENT_ID", e),
                              ("COGNITO_USERNAME", "DEMO_USER", e), ("COGNITO_PASSWORD", "DEMO_PASSWORD", e),
                              ("COGNITO_REGION", "AWS_REGION", e), ("COGNITO_ENDPOINT", "AWS_ENDPOINT_URL", e),
                              ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", c), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", c)):
        if src.get(theirs):
            out[ours] = src[theirs]
    if c.get("AWS_ACCESS_KEY_ID"):
        out["COGNITO_ADMIN"] = "1"
    try:
        with open(os.path.join(local_dir, "deployment.json"), encoding="utf-8") as f:
            ttl = json.load(f)["functions"]["authorizer"]["environment"].get("AUTH_CACHE_TTL_SECS")
        if ttl:
            out["AUTH_CACHE_TTL_SECS"] = ttl
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return out


def parse_settings(argv: list[str]) -> Settings:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--local-dir", default=os.environ.get("SMOKE_LOCAL_DIR") or None)
    known, _ = pre.parse_known_args(argv)
    local = local_defaults(known.local_dir)

    def setting(name: str, default: str | None = None) -> str | None:
        """The environment, else the local dir's value, else the default."""
        value = os.environ.get(name)
        return value if value not in (None, "") else local.get(name, default)

    p = argparse.ArgumentParser(
        prog="smoke", description="Black-box acceptance checks of a Portcullis deployment (tests/smoke/README.md). "
        "Every option also reads the environment variable named in its help.")
    p.add_argument("--local-dir", default=known.local_dir,
                   help="the state directory of a platform scripts/local.sh runs (.local, or .local/test for make test): "
                   "fills every setting not given from its files (demo-api-key, env, admin-credentials, deployment.json) "
                   "and lets the suite create a Cognito user with the emulator's administrator (SMOKE_LOCAL_DIR)")
    p.add_argument("--base-url", default=setting("BASE_URL"), help="the API's URL with no trailing /v1 (BASE_URL), e.g. http://127.0.0.1:3000")
    p.add_argument("--admin-api-key", default=setting("ADMIN_API_KEY"), help="a keys:admin API key of the platform tenant (ADMIN_API_KEY)")
    p.add_argument("--origin", default=setting("SMOKE_ORIGIN", "http://localhost:5173"),
                   help="a browser origin on the deployment's CORS allowlist (SMOKE_ORIGIN; default http://localhost:5173)")
    p.add_argument("--revocation-bound", type=float, default=float(setting("AUTH_CACHE_TTL_SECS", "10")),
                   help="seconds a revoked key may keep working: the deployment's AUTH_CACHE_TTL_SECS "
                   "(terraform authorizer_cache_ttl_seconds: 10 by default, 5 in dev and local) (AUTH_CACHE_TTL_SECS; default 10)")
    p.add_argument("--job-timeout", type=float, default=float(setting("SMOKE_JOB_TIMEOUT_SECS", "300")),
                   help="seconds a sample job may take to reach a terminal state (SMOKE_JOB_TIMEOUT_SECS; default 300)")
    p.add_argument("--lambda-service", default=setting("SMOKE_LAMBDA_SERVICE", "sample"),
                   help="a platform.yaml service with integration lambda: the sample service (SMOKE_LAMBDA_SERVICE)")
    p.add_argument("--vpc-service", default=setting("SMOKE_VPC_SERVICE", "web"),
                   help="a platform.yaml service with integration vpc_link: the sample web app (SMOKE_VPC_SERVICE)")
    p.add_argument("--tenant-prefix", default=setting("SMOKE_TENANT_PREFIX", "smoke"),
                   help="prefix of the tenants the run provisions (SMOKE_TENANT_PREFIX; default smoke)")
    p.add_argument("--private-base-url", default=setting("PRIVATE_BASE_URL"),
                   help="the private API's URL, reachable from where the suite runs (PRIVATE_BASE_URL); absent: skipped")
    p.add_argument("--private-path", default=setting("PRIVATE_PATH", "/v1/jobs"),
                   help="a GET path the private API serves (PRIVATE_PATH; default /v1/jobs)")
    p.add_argument("--cognito-user-pool-id", default=setting("COGNITO_USER_POOL_ID"), help="(COGNITO_USER_POOL_ID)")
    p.add_argument("--cognito-client-id", default=setting("COGNITO_CLIENT_ID"),
                   help="an app client without a secret that allows USER_PASSWORD_AUTH (COGNITO_CLIENT_ID)")
    p.add_argument("--cognito-username", default=setting("COGNITO_USERNAME"), help="a user of a provisioned tenant (COGNITO_USERNAME)")
    p.add_argument("--cognito-password", default=setting("COGNITO_PASSWORD"), help="(COGNITO_PASSWORD)")
    p.add_argument("--cognito-region", default=setting("COGNITO_REGION", setting("AWS_REGION")),
                   help="(COGNITO_REGION, else AWS_REGION, else the pool id's prefix)")
    p.add_argument("--cognito-endpoint", default=setting("COGNITO_ENDPOINT", setting("AWS_ENDPOINT_URL")),
                   help="Cognito's endpoint (COGNITO_ENDPOINT, else AWS_ENDPOINT_URL; default https://cognito-idp.<region>.amazonaws.com)")
    p.add_argument("--cognito-admin", action="store_true", default=setting("COGNITO_ADMIN", "0") == "1",
                   help="may create (and then delete) a user and a tenant group in the pool with the admin API, "
                   "signed with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] (COGNITO_ADMIN=1)")
    p.add_argument("--insecure", action="store_true", default=setting("SMOKE_INSECURE", "0") == "1",
                   help="do not verify TLS certificates (SMOKE_INSECURE=1)")
    p.add_argument("--only", default=setting("SMOKE_ONLY", ""),
                   help="comma-separated words: run only the checks whose name contains one (SMOKE_ONLY); setup always runs")
    a = p.parse_args(argv)
    missing = [n for n, v in (("BASE_URL", a.base_url), ("ADMIN_API_KEY", a.admin_api_key)) if not v]
    if missing:
        p.error(f"{' and '.join(missing)} missing: make smoke BASE_URL=<url> ADMIN_API_KEY=<a keys:admin key of the platform tenant>")
    base = a.base_url.rstrip("/")
    if base.endswith("/v1"):
        base = base[:-3]
    region = a.cognito_region or (cognito.region_of_pool(a.cognito_user_pool_id) if a.cognito_user_pool_id else None)
    return Settings(
        base_url=base, admin_key=a.admin_api_key.strip(), origin=a.origin.rstrip("/"),
        revocation_bound=a.revocation_bound, job_timeout=a.job_timeout,
        lambda_service=a.lambda_service, vpc_service=a.vpc_service, tenant_prefix=a.tenant_prefix,
        private_base_url=a.private_base_url, private_path=a.private_path,
        cognito_pool_id=a.cognito_user_pool_id, cognito_client_id=a.cognito_client_id,
        cognito_username=a.cognito_username, cognito_password=a.cognito_password,
        cognito_region=region, cognito_endpoint=a.cognito_endpoint, cognito_admin=a.cognito_admin,
        aws_access_key=setting("AWS_ACCESS_KEY_ID"), aws_secret_key=setting("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=setting("AWS_SESSION_TOKEN") if not local.get("AWS_ACCESS_KEY_ID") else None, insecure=a.insecure,
        only=[w.strip() for w in a.only.split(",") if w.strip()],
    )


def expect(answer: Answer, *statuses: int, what: str = "") -> Answer:
    if answer.status not in statuses:
        want = " or ".join(str(s) for s in statuses)
        raise Fail(f"{what + ': ' if what else ''}expected {want}, got {answer.brief()}")
    return answer


def field_of(doc: Any, name: str, answer: Answer) -> Any:
    if not isinstance(doc, dict) or name not in doc:
        raise Fail(f"{answer.method} {answer.path}: no '{name}' in the answer: {answer.text(200)}")
    return doc[name]


PROBLEM = {"accept": "application/problem+json"}


def is_problem(answer: Answer, strict_type: bool = True) -> str | None:
    """None when the answer is an RFC 9457 problem document (and, strict,
    served as application/problem+json), else what is wrong."""
    if strict_type and answer.content_type != "application/problem+json":
        return (f"content-type {answer.content_type or '(none)'}, not application/problem+json "
                f"(Accept: {answer.sent_headers.get('accept')}; {answer.text(120)})")
    try:
        doc = answer.json()
    except ValueError as err:
        return str(err)
    if not isinstance(doc, dict) or not isinstance(doc.get("title"), str) or "type" not in doc:
        return f"the body has no problem 'type' and 'title': {answer.text(120)}"
    return None


@dataclass
class Key:
    id: str
    key: str
    tenant: str
    principal: str | None = None


@dataclass
class State:
    run: str
    tenant_a: str
    tenant_b: str
    tenant_unprovisioned: str
    tenants_made: list[str] = field(default_factory=list)
    keys: dict[str, Key] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    job_id: str | None = None
    job_submitted_at: float = 0.0
    cognito_user: str | None = None
    cognito_group: str | None = None
    throttle_problem: Answer | None = None


class Smoke:
    def __init__(self, s: Settings):
        self.s = s
        self.http = Http(s.base_url, insecure=s.insecure)
        run = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
        base = f"{s.tenant_prefix}-{run}"
        self.st = State(run=run, tenant_a=base, tenant_b=f"{base}-b", tenant_unprovisioned=f"{base}-unprovisioned")
        self.results: list[tuple[str, str, str]] = []
        self.failed_setup: dict[str, str] = {}

    # --- plumbing --------------------------------------------------------------
    def admin(self) -> dict[str, str]:
        return {"x-api-key": self.s.admin_key}

    def key(self, name: str) -> Key:
        if name not in self.st.keys:
            why = self.failed_setup.get("keys", "it was not created")
            raise Fail(f"needs the '{name}' key, which the setup could not make ({why})")
        return self.st.keys[name]

    def with_key(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"x-api-key": self.key(name).key, **(extra or {})}

    def wanted(self, name: str) -> bool:
        return not self.s.only or any(w in name for w in self.s.only)

    def check(self, name: str, fn: Callable[[], str], setup: str | None = None) -> bool:
        if setup is None and not self.wanted(name):
            return True
        try:
            detail = fn()
            status = "PASS"
        except Skip as skip:
            status, detail = "SKIP", str(skip)
        except Fail as fail:
            status, detail = "FAIL", str(fail)
        except Unreachable as err:
            status, detail = "FAIL", str(err)
        except (ValueError, KeyError, TypeError, cognito.CognitoError) as err:
            status, detail = "FAIL", f"{type(err).__name__}: {err}"
        if status == "FAIL" and setup:
            self.failed_setup[setup] = detail
        self.results.append((status, name, detail))
        print(f"{status} {name}: {detail}", flush=True)
        return status != "FAIL"

    # --- setup -------------------------------------------------------------------
    def c_health(self) -> str:
        a = self.http.get("/v1/health")
        expect(a, 200)
        doc = a.json()
        if doc.get("status") != "ok":
            raise Fail(f"status is {doc.get('status')!r}: {a.text(200)}")
        if "no-store" not in (a.header("cache-control") or ""):
            raise Fail(f"Cache-Control is {a.header('cache-control')!r}, not no-store")
        deps = ", ".join(f"{k} {v.get('status')}" for k, v in doc.items() if isinstance(v, dict))
        return f"200 status ok ({deps})"

    def c_admin(self) -> str:
        a = expect(self.http.get("/v1/me", headers=self.admin()), 200, what="GET /v1/me with ADMIN_API_KEY")
        me = a.json()
        if "keys:admin" not in me.get("scopes", []):
            raise Fail(f"ADMIN_API_KEY has no keys:admin scope: {a.text(200)}")
        self.platform_tenant = me.get("tenant")
        return f"tenant {me.get('tenant')}, principal {me.get('principal_id')}, scopes {' '.join(me.get('scopes', []))}"

    def put_tenant(self, tenant: str, services: list[str], plans: list[str]) -> dict[str, Any]:
        a = self.http.request("PUT", f"/v1/tenants/{tenant}", headers=self.admin(),
                              json_body={"services": services, "plans": plans, "user_plan": plans[0]})
        expect(a, 200, what=f"PUT /v1/tenants/{tenant}")
        self.st.tenants_made.append(tenant)
        doc = a.json()
        if doc.get("created") is not True:
            raise Fail(f"PUT /v1/tenants/{tenant}: created is {doc.get('created')!r} for a new tenant")
        usage = (doc.get("usage_key") or {}).get("status")
        if usage not in ("ready", "skipped"):
            raise Fail(f"PUT /v1/tenants/{tenant}: usage_key {doc.get('usage_key')!r}")
        return doc

    def c_tenants(self) -> str:
        s = self.s
        a = self.put_tenant(self.st.tenant_a, [s.lambda_service, s.vpc_service], ["standard", "trial"])
        self.put_tenant(self.st.tenant_b, [], ["standard"])
        got = expect(self.http.get(f"/v1/tenants/{self.st.tenant_a}", headers=self.admin()), 200).json()
        if sorted(got.get("services", [])) != sorted([s.lambda_service, s.vpc_service]):
            raise Fail(f"GET /v1/tenants/{self.st.tenant_a} answers services {got.get('services')}")
        return (f"PUT /v1/tenants/{self.st.tenant_a} (services {s.lambda_service}, {s.vpc_service}; plans standard, trial) "
                f"and /{self.st.tenant_b} (no services): 200, usage key {a['usage_key']['status']}")

    def mint(self, name: str, tenant: str, scopes: list[str], plan: str = "standard") -> Key:
        a = self.http.request("POST", "/v1/keys", headers=self.admin(), json_body={
            "name": f"smoke {self.st.run} {name}", "tenant": tenant, "scopes": scopes, "plan": plan})
        expect(a, 201, what=f"POST /v1/keys ({name})")
        doc = a.json()
        key = Key(id=field_of(doc, "id", a), key=field_of(doc, "key", a), tenant=tenant)
        self.st.keys[name] = key
        if a.header("location") != f"/v1/keys/{key.id}":
            raise Fail(f"POST /v1/keys: Location is {a.header('location')!r}, not /v1/keys/{key.id}")
        if "no-store" not in (a.header("cache-control") or ""):
            raise Fail("POST /v1/keys: the answer holding the key is not Cache-Control: no-store")
        if not key.key.startswith("pcs_"):
            raise Fail(f"POST /v1/keys: the key does not start with pcs_ ({key.key[:8]}...)")
        return key

    def c_keys(self) -> str:
        s, A, B = self.s, self.st.tenant_a, self.st.tenant_b
        self.mint("main", A, ["jobs:read", "jobs:write", f"services:{s.lambda_service}", f"services:{s.vpc_service}"])
        self.mint("life", A, ["jobs:read"])
        self.mint("trial", A, ["jobs:read"], plan="trial")
        self.mint("other", B, ["jobs:read", "jobs:write"])
        got = expect(self.http.get(f"/v1/keys/{self.key('main').id}", headers=self.admin()), 200).json()
        if "key" in got or got.get("status") != "active":
            raise Fail(f"GET /v1/keys/<id> shows the secret or a status other than active: {sorted(got)} {got.get('status')}")
        for k in self.st.keys.values():
            me = expect(self.http.get("/v1/me", headers={"x-api-key": k.key}), 200, what="a new key on GET /v1/me").json()
            k.principal = me.get("principal_id")
            if me.get("tenant") != k.tenant or me.get("key_id") != k.id:
                raise Fail(f"GET /v1/me with a new key of {k.tenant} answers tenant {me.get('tenant')}, key_id {me.get('key_id')}")
        return (f"4 keys: 201 with Location and no-store, shown once (GET /v1/keys/<id> has no secret); "
                f"each answers GET /v1/me with its tenant and key id")

    # --- keys ------------------------------------------------------------------------
    def c_key_entitlements(self) -> str:
        B = self.st.tenant_b
        a = self.http.request("POST", "/v1/keys", headers=self.admin(), json_body={
            "name": f"smoke {self.st.run} not entitled", "tenant": B, "scopes": [f"services:{self.s.lambda_service}"]})
        if a.status == 201:
            self.st.keys["unexpected"] = Key(id=a.json().get("id", ""), key="", tenant=B)
        expect(a, 403, what=f"a services:{self.s.lambda_service} key for {B}, which is not entitled to it")
        if f"/v1/tenants/{B}" not in a.text(2000):
            raise Fail(f"the 403 does not name PUT /v1/tenants/{B}: {a.text(300)}")
        return f"403 naming PUT /v1/tenants/{B}"

    def c_key_lifecycle(self) -> str:
        life = self.key("life")
        expect(self.http.get("/v1/me", headers=self.with_key("life")), 200, what="the key before revocation")
        a = expect(self.http.request("DELETE", f"/v1/keys/{life.id}", headers=self.admin()), 200, what="DELETE /v1/keys/<id>")
        self.revoked_at = time.monotonic()
        self.st.revoked.add(life.id)
        doc = a.json()
        if doc.get("status") != "revoked" or doc.get("already_revoked") is not False:
            raise Fail(f"DELETE answered {a.text(300)}")
        again = expect(self.http.request("DELETE", f"/v1/keys/{life.id}", headers=self.admin()), 200, what="DELETE again").json()
        if again.get("already_revoked") is not True or again.get("revoked_at") != doc.get("revoked_at"):
            raise Fail(f"a second DELETE is not idempotent: {again}")
        got = expect(self.http.get(f"/v1/keys/{life.id}", headers=self.admin()), 200).json()
        if got.get("status") != "revoked":
            raise Fail(f"GET /v1/keys/<id> after revocation shows status {got.get('status')!r}")
        return (f"used (200), revoked (200, authorizer_cache {(doc.get('authorizer_cache') or {}).get('status')}, "
                f"usage_key {(doc.get('usage_key') or {}).get('status')}), DELETE again: already_revoked, same revoked_at")

    def c_key_revocation_bound(self) -> str:
        if not hasattr(self, "revoked_at"):
            raise Fail("needs the revocation of 'key lifecycle' (it failed, or SMOKE_ONLY left it out)")
        bound, slack = self.s.revocation_bound, 1.0
        polls = 0
        while True:
            a = self.http.get("/v1/me", headers=self.with_key("life"))
            polls += 1
            elapsed = time.monotonic() - self.revoked_at
            if a.status in (401, 403):
                if elapsed > bound + slack:
                    raise Fail(f"first refused {elapsed:.1f} s after revocation, over the bound of {bound:g} s (+{slack:g} s)")
                return (f"refused ({a.status}) {elapsed:.1f} s after the revocation answered: within the bound of {bound:g} s "
                        f"(+{slack:g} s for round trips; {polls} polls)")
            if a.status != 200:
                raise Fail(f"while polling the revoked key: {a.brief()}")
            if elapsed > bound + slack:
                raise Fail(f"the revoked key still works {elapsed:.1f} s after revocation (bound {bound:g} s + {slack:g} s)")
            time.sleep(0.25)

    def c_jwt(self) -> str:
        s = self.s
        need = {"COGNITO_CLIENT_ID": s.cognito_client_id, "COGNITO_USERNAME": s.cognito_username,
                "COGNITO_PASSWORD": s.cognito_password, "COGNITO_REGION (or COGNITO_USER_POOL_ID)": s.cognito_region}
        missing = [k for k, v in need.items() if not v]
        if missing:
            raise Skip(f"no Cognito settings ({', '.join(missing)} not given)")
        tokens = cognito.sign_in(region=s.cognito_region, endpoint=s.cognito_endpoint, client_id=s.cognito_client_id,
                                 username=s.cognito_username, password=s.cognito_password)
        token = tokens["AccessToken"]
        a = expect(self.http.get("/v1/me", headers={"authorization": f"Bearer {token}"}), 200, what="GET /v1/me with the access token")
        me = a.json()
        head, _, sig = token.rpartition(".")
        forged = head + "." + ("A" if sig[:1] != "A" else "B") + sig[1:]
        bad = expect(self.http.get("/v1/me", headers={"authorization": f"Bearer {forged}"}), 401, what="a token with a broken signature")
        return (f"{s.cognito_username} signed in (USER_PASSWORD_AUTH); GET /v1/me 200 as {me.get('principal_type')} "
                f"of tenant {me.get('tenant')}; a broken signature {bad.status}")

    # --- jobs ------------------------------------------------------------------------
    def submit(self, key: str, idem: str, args: list[str]) -> Answer:
        return self.http.request("POST", "/v1/jobs", headers=self.with_key(key, {"idempotency-key": idem}),
                                 json_body={"type": "sample", "args": args})

    def c_job_submit(self) -> str:
        self.idem = str(uuid.uuid4())
        a = expect(self.submit("main", self.idem, ["--exit-code", "0"]), 202, what="POST /v1/jobs")
        job = a.json()
        self.st.job_id = field_of(job, "id", a)
        self.st.job_submitted_at = time.monotonic()
        if a.header("location") != f"/v1/jobs/{self.st.job_id}":
            raise Fail(f"Location is {a.header('location')!r}")
        return f"202 job {self.st.job_id} ({job.get('status')})"

    def job(self) -> str:
        if not self.st.job_id:
            raise Fail("needs the job of 'job submit', which failed")
        return self.st.job_id

    def c_job_replay(self) -> str:
        job = self.job()
        a = expect(self.submit("main", self.idem, ["--exit-code", "0"]), 200, what="the same Idempotency-Key and body again")
        if a.json().get("id") != job:
            raise Fail(f"the replay answered another job: {a.json().get('id')} (first: {job})")
        c = expect(self.submit("main", self.idem, ["--exit-code", "1"]), 409, what="the same Idempotency-Key, another body")
        return f"same key and body: 200 with the same job; same key, other body: {c.status}"

    def c_job_other_tenant(self) -> str:
        job = self.job()
        expect(self.http.get(f"/v1/jobs/{job}", headers=self.with_key("main")), 200, what="the job's own tenant")
        a = expect(self.http.get(f"/v1/jobs/{job}", headers=self.with_key("other")), 404, what=f"tenant {self.st.tenant_b} reading it")
        expect(self.http.request("POST", f"/v1/jobs/{job}/cancel", headers=self.with_key("other")), 404,
               what=f"tenant {self.st.tenant_b} cancelling it")
        return f"GET and cancel by {self.st.tenant_b}: {a.status}"

    def c_job_terminal(self) -> str:
        job = self.job()
        deadline = self.st.job_submitted_at + self.s.job_timeout
        while True:
            a = expect(self.http.get(f"/v1/jobs/{job}", headers=self.with_key("main")), 200)
            status = a.json().get("status")
            if status in TERMINAL:
                break
            if time.monotonic() > deadline:
                raise Fail(f"still {status} {self.s.job_timeout:g} s after the submit (SMOKE_JOB_TIMEOUT_SECS)")
            time.sleep(1.0)
        took = time.monotonic() - self.st.job_submitted_at
        events = expect(self.http.get(f"/v1/jobs/{job}/events", headers=self.with_key("main")), 200).json()
        items = events.get("items", events) if isinstance(events, dict) else events
        steps = ([items[0]["from_status"]] if items and items[0].get("from_status") else []) + [e.get("to_status") for e in items]
        walk = " -> ".join(str(x) for x in steps) if steps else "(no events)"
        if status != "succeeded":
            raise Fail(f"ended {status} ({a.json().get('error')}) after {took:.0f} s: {walk}")
        return f"succeeded {took:.0f} s after the submit: {walk}"

    # --- services ----------------------------------------------------------------------
    def svc(self, service: str, rest: str) -> str:
        return f"/v1/services/{service}/{rest}"

    def c_lambda_public(self) -> str:
        a = expect(self.http.get(self.svc(self.s.lambda_service, "items")), 200, what="a public route with no credential")
        return f"GET {a.path} with no credential: 200"

    def c_lambda_scoped(self) -> str:
        n = self.s.lambda_service
        none = expect(self.http.get(self.svc(n, "echo")), 401, what="no credential")
        other = expect(self.http.get(self.svc(n, "echo"), headers=self.with_key("other")), 403, what=f"a key without services:{n}")
        ok = expect(self.http.get(self.svc(n, "echo"), headers=self.with_key("main")), 200, what=f"a services:{n} key")
        sub = expect(self.http.request("PUT", self.svc(n, "items/smoke"), headers=self.with_key("main"), json_body={"name": "smoke"}),
                     403, what=f"PUT /items/{{id}} (route scope services:{n}.write) with a key holding only services:{n}")
        return (f"/echo: {none.status} without a credential, {other.status} without the scope, {ok.status} with it; "
                f"PUT /items/{{id}} without services:{n}.write: {sub.status}")

    def c_lambda_no_credential(self) -> str:
        a = expect(self.http.get(self.svc(self.s.lambda_service, "echo"), headers=self.with_key("main")), 200)
        names = {str(h[0]).lower() for h in a.json().get("headers", [])}
        leaked = sorted(names & {"authorization", "x-api-key"})
        if leaked:
            raise Fail(f"the service received {', '.join(leaked)}")
        return f"the service received {len(names)} headers, no authorization or x-api-key"

    def c_lambda_identity(self) -> str:
        main = self.key("main")
        a = expect(self.http.get(self.svc(self.s.lambda_service, "echo"), headers=self.with_key("main")), 200)
        ident = a.json().get("identity") or {}
        if ident.get("principal") != main.principal or ident.get("tenant") != main.tenant:
            raise Fail(f"the service verified {ident.get('principal')!r} of {ident.get('tenant')!r}, "
                       f"the caller is {main.principal!r} of {main.tenant!r}")
        return f"the service verified principal {ident.get('principal')} of tenant {ident.get('tenant')} (body signed: {ident.get('body_signed')})"

    def c_vpc_public(self) -> str:
        a = expect(self.http.get(self.svc(self.s.vpc_service, "home")), 200, what="a public route with no credential")
        return f"GET {a.path} with no credential: 200 {a.content_type}"

    def c_vpc_scoped(self) -> str:
        n = self.s.vpc_service
        none = expect(self.http.get(self.svc(n, "notes")), 401, what="no credential")
        other = expect(self.http.get(self.svc(n, "notes"), headers=self.with_key("other")), 403, what=f"a key without services:{n}")
        ok = expect(self.http.get(self.svc(n, "notes"), headers=self.with_key("main")), 200, what=f"a services:{n} key")
        return f"/notes: {none.status} without a credential, {other.status} without the scope, {ok.status} with it"

    def headers_seen(self, path: str, headers: dict[str, str]) -> dict[str, Any]:
        a = self.http.get(self.svc(self.s.vpc_service, path), headers=headers)
        expect(a, 200, what=f"GET {self.svc(self.s.vpc_service, path)} (sample web's header report)")
        doc = a.json()
        if not isinstance(doc.get("headers"), list):
            raise Fail(f"{a.path}: no 'headers' list: {a.text(200)}")
        return doc

    def c_vpc_no_credential(self) -> str:
        key = self.key("main").key
        sent_scoped = {"x-api-key": key, "cookie": "smoke=1"}
        sent_public = {"x-api-key": key, "cookie": "smoke=1", "authorization": "Bearer smoke-not-a-token"}
        found, overwritten = [], []
        for label, path, sent in (("/headers", "headers", sent_scoped), ("/public/headers", "public/headers", sent_public)):
            doc = self.headers_seen(path, sent)
            # `headers`: the names received; `credentials`: {name: value} of the
            # credential headers received (the sample web app's report). A value is
            # what settles it: API Gateway's placeholder passes, the caller's fails.
            values: dict[str, str | None] = {}
            for h in doc["headers"]:
                if isinstance(h, str):
                    values.setdefault(h.lower(), None)
                elif isinstance(h, (list, tuple)) and h:
                    values[str(h[0]).lower()] = str(h[1]) if len(h) > 1 else None
                elif isinstance(h, dict) and "name" in h:
                    values[str(h["name"]).lower()] = h.get("value")
            values.update({str(k).lower(): v for k, v in (doc.get("credentials") or {}).items()})
            unknown, leaked = [], []
            for name in CREDENTIAL_HEADERS:
                if name not in values:
                    continue
                value = values[name]
                if value is None:
                    unknown.append(name)
                elif sent.get(name) and sent[name] in value:
                    leaked.append(name)
                else:
                    overwritten.append(f"{label} {name}={value!r}")
            if leaked:
                found.append(f"{label} received the caller's {', '.join(leaked)}")
            if unknown:
                found.append(f"{label} received {', '.join(unknown)} headers (it reports names only, not their values)")
        if found:
            raise Fail("; ".join(found) + ". Every vpc_link operation overwrites them with 'portcullis-removed' "
                       "(docs/proxy.md#vpc-link-services): a service receiving a caller's value means the "
                       "rendered body lost those mappings, or the service reports names without values")
        if overwritten:
            return "no credential arrived; overwritten: " + ", ".join(overwritten)
        return "neither /headers nor /public/headers received authorization, x-api-key or cookie"

    def c_vpc_identity(self) -> str:
        main = self.key("main")
        scoped = self.headers_seen("headers", self.with_key("main"))
        if scoped.get("principal") != main.principal:
            raise Fail(f"/headers shows principal {scoped.get('principal')!r}, the caller is {main.principal!r}")
        forged = {"x-portcullis-principal": "smoke-forged", "x-portcullis-tenant": self.st.tenant_b}
        public = self.headers_seen("public/headers", forged)
        if public.get("principal") != "anonymous":
            raise Fail(f"/public/headers with forged x-portcullis-* headers shows principal {public.get('principal')!r}, not anonymous")
        return f"/headers verified {scoped.get('principal')}; /public/headers with forged identity headers: anonymous"

    # --- throttling, CORS, gateway responses --------------------------------------------
    def c_throttle(self) -> str:
        trial = self.with_key("trial")
        answers: list[Answer] = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
            for _ in range(8):
                batch = list(pool.map(lambda _: self.http.get("/v1/me", headers=trial), range(10)))
                answers += batch
                if any(a.status == 429 for a in batch):
                    break
        limited = [a for a in answers if a.status == 429]
        others = sorted({a.status for a in answers} - {200, 429})
        if others:
            raise Fail(f"the trial key got {others} besides 200 and 429: {[a.brief() for a in answers if a.status in others][0]}")
        if not limited:
            raise Fail(f"{len(answers)} quick requests with a trial-plan key (usage_plans.trial) were all answered 200")
        self.st.throttle_problem = limited[0]
        main = expect(self.http.get("/v1/me", headers=self.with_key("main")), 200, what="a standard-plan key of the same tenant right after")
        ok = sum(1 for a in answers if a.status == 200)
        return (f"trial key: {len(limited)} x 429 ({limited[0].json().get('title') if limited[0].body else 'no body'}) "
                f"among {len(answers)} requests ({ok} x 200); another key right after: {main.status}")

    def c_cors_success(self) -> str:
        o = self.s.origin
        a = expect(self.http.get("/v1/me", headers=self.with_key("main", {"origin": o})), 200)
        if a.header("access-control-allow-origin") != o:
            raise Fail(f"Access-Control-Allow-Origin is {a.header('access-control-allow-origin')!r}, not {o}")
        if "origin" not in a.header_list("vary"):
            raise Fail(f"Vary is {a.header('vary')!r}, without Origin")
        return f"GET /v1/me from {o}: 200, Access-Control-Allow-Origin {o}, Vary: Origin"

    def c_cors_preflight(self) -> str:
        o = self.s.origin
        a = expect(self.http.request("OPTIONS", "/v1/jobs", headers={
            "origin": o, "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,idempotency-key,x-api-key"}), 200, 204, what="preflight")
        if a.header("access-control-allow-origin") != o:
            raise Fail(f"preflight Access-Control-Allow-Origin is {a.header('access-control-allow-origin')!r}")
        methods, allowed = a.header_list("access-control-allow-methods"), a.header_list("access-control-allow-headers")
        if "post" not in methods or not {"content-type", "idempotency-key", "x-api-key"} <= set(allowed):
            raise Fail(f"preflight allows methods {methods}, headers {allowed}")
        stranger = self.http.request("OPTIONS", "/v1/jobs", headers={
            "origin": "https://smoke.invalid", "access-control-request-method": "POST"})
        if stranger.header("access-control-allow-origin"):
            raise Fail(f"an origin off the allowlist got Access-Control-Allow-Origin {stranger.header('access-control-allow-origin')!r}")
        return (f"OPTIONS /v1/jobs from {o}: {a.status}, methods {', '.join(methods)}; "
                f"from https://smoke.invalid: {stranger.status} without Access-Control-Allow-Origin")

    def gateway_error(self, what: str, a: Answer, status: int) -> str:
        expect(a, status, what=what)
        wrong = is_problem(a)
        if wrong:
            raise Fail(f"{what}: {wrong}")
        if a.header("access-control-allow-origin") != self.s.origin:
            raise Fail(f"{what}: {a.status} without Access-Control-Allow-Origin {self.s.origin} "
                       f"(got {a.header('access-control-allow-origin')!r})")
        return f"{what} {a.status} '{a.json().get('title')}'"

    def c_cors_error(self) -> str:
        o = self.s.origin
        return self.gateway_error("no credential", self.http.get("/v1/me", headers={"origin": o, **PROBLEM}), 401) + \
            f": problem+json with Access-Control-Allow-Origin {o}"

    def c_gateway_responses(self) -> str:
        o = {"origin": self.s.origin, **PROBLEM}
        browser = self.http.get("/v1/me", headers={"origin": self.s.origin})
        expect(browser, 401, what="no credential, Accept: */*")
        wrong = is_problem(browser, strict_type=False)
        if wrong:
            raise Fail(f"the 401 for Accept: */*: {wrong}")
        parts = [
            f"Accept */*: 401 a problem document as {browser.content_type}",
            self.gateway_error("UNAUTHORIZED (no credential)", self.http.get("/v1/jobs", headers=o), 401),
            self.gateway_error("UNAUTHORIZED (unknown key)", self.http.get("/v1/jobs", headers={
                **o, "x-api-key": "pcs_smokeUnknownKey_" + secrets.token_hex(16)}), 401),
            self.gateway_error("ACCESS_DENIED (scope missing)", self.http.get("/v1/keys", headers=self.with_key("other", o)), 403),
            self.gateway_error("MISSING_AUTHENTICATION_TOKEN (no such route)", self.http.get("/v1/smoke-no-such-route", headers=o), 403),
        ]
        if self.st.throttle_problem is not None:
            t = self.st.throttle_problem
            wrong = is_problem(t, strict_type=False)
            if wrong:
                raise Fail(f"the 429 of 'throttling per consumer': {wrong}")
            parts.append(f"THROTTLED/QUOTA_EXCEEDED 429 '{t.json().get('title')}'")
        return "problem+json with CORS: " + "; ".join(parts)

    def c_unprovisioned(self) -> str:
        s = self.s
        need = {"COGNITO_ADMIN=1": s.cognito_admin, "COGNITO_USER_POOL_ID": s.cognito_pool_id,
                "COGNITO_CLIENT_ID": s.cognito_client_id, "COGNITO_REGION": s.cognito_region,
                "AWS_ACCESS_KEY_ID": s.aws_access_key, "AWS_SECRET_ACCESS_KEY": s.aws_secret_key}
        missing = [k for k, v in need.items() if not v]
        if missing:
            raise Skip(f"creating a Cognito user needs {', '.join(missing)}")
        admin = cognito.Admin(region=s.cognito_region, endpoint=s.cognito_endpoint, pool_id=s.cognito_pool_id,
                              access_key=s.aws_access_key, secret_key=s.aws_secret_key, session_token=s.aws_session_token)
        tenant = self.st.tenant_unprovisioned
        user = f"{tenant}@example.com"
        password = "Sm0ke-" + secrets.token_urlsafe(12) + "!a1"
        self.st.cognito_group = f"tenant:{tenant}"
        self.cognito_admin = admin
        admin.call("CreateGroup", {"UserPoolId": s.cognito_pool_id, "GroupName": self.st.cognito_group,
                                   "Description": "portcullis smoke suite (deleted when it ends)"})
        self.st.cognito_user = user
        admin.call("AdminCreateUser", {"UserPoolId": s.cognito_pool_id, "Username": user, "MessageAction": "SUPPRESS",
                                       "UserAttributes": [{"Name": "email", "Value": user}, {"Name": "email_verified", "Value": "true"}]})
        admin.call("AdminSetUserPassword", {"UserPoolId": s.cognito_pool_id, "Username": user, "Password": password, "Permanent": True})
        admin.call("AdminAddUserToGroup", {"UserPoolId": s.cognito_pool_id, "Username": user, "GroupName": self.st.cognito_group})
        token = cognito.sign_in(region=s.cognito_region, endpoint=s.cognito_endpoint, client_id=s.cognito_client_id,
                                username=user, password=password)["AccessToken"]
        a = self.http.get("/v1/me", headers={"authorization": f"Bearer {token}", "origin": s.origin})
        expect(a, 403, what=f"a user of tenant {tenant}, which has no entitlements")
        if f"PUT /v1/tenants/{tenant}" not in a.text(4000):
            raise Fail(f"the 403 does not tell the user to ask for PUT /v1/tenants/{tenant}: {a.text(300)}")
        return f"a signed-in user of {tenant}: 403 naming PUT /v1/tenants/{tenant}"

    def c_private(self) -> str:
        s = self.s
        if not s.private_base_url:
            raise Skip("PRIVATE_BASE_URL not given (the private API answers only inside its VPC: run the suite there "
                       "with PRIVATE_BASE_URL=https://<api id>-<vpce id>.execute-api.<region>.amazonaws.com)")
        base = s.private_base_url.rstrip("/").removesuffix("/v1")
        none = expect(self.http.get(base + s.private_path), 401, what=f"GET {s.private_path} on the private API, no credential")
        ok = expect(self.http.get(base + s.private_path, headers=self.with_key("main")), 200, what="with a key")
        return f"GET {base}{s.private_path}: {none.status} without a credential, {ok.status} with a key"

    # --- clean-up ----------------------------------------------------------------------------
    def cleanup(self) -> str:
        done, problems = [], []
        if self.st.job_id:
            try:
                a = self.http.get(f"/v1/jobs/{self.st.job_id}", headers=self.with_key("main"))
                if a.status == 200 and a.json().get("status") not in TERMINAL:
                    c = self.http.request("POST", f"/v1/jobs/{self.st.job_id}/cancel", headers=self.with_key("main"))
                    (done if c.status == 202 else problems).append(f"cancel of the unfinished job: {c.status}")
            except (Fail, Unreachable, ValueError) as err:
                problems.append(f"job: {err}")
        revoked = 0
        for name, k in self.st.keys.items():
            if k.id in self.st.revoked or not k.id:
                continue
            try:
                a = self.http.request("DELETE", f"/v1/keys/{k.id}", headers=self.admin())
                if a.status == 200:
                    revoked += 1
                else:
                    problems.append(f"revoking key {name} ({k.id}): {a.status}")
            except Unreachable as err:
                problems.append(f"revoking key {name}: {err}")
        done.append(f"revoked {revoked} key(s)")
        if self.st.cognito_user or self.st.cognito_group:
            admin = getattr(self, "cognito_admin", None)
            for what, fn, arg in (("user", "delete_user", self.st.cognito_user), ("group", "delete_group", self.st.cognito_group)):
                if admin and arg:
                    try:
                        getattr(admin, fn)(arg)
                        done.append(f"deleted Cognito {what} {arg}")
                    except cognito.CognitoError as err:
                        problems.append(str(err))
        if self.st.tenants_made:
            done.append(f"tenants {', '.join(self.st.tenants_made)} left in place (the API has no DELETE /v1/tenants; their keys are revoked)")
        if problems:
            raise Fail("; ".join(done + problems))
        return "; ".join(done)

    # --- the run -----------------------------------------------------------------------------
    def run(self) -> int:
        start = time.monotonic()
        s = self.s
        print(f"smoke: {s.base_url} (origin {s.origin}, revocation bound {s.revocation_bound:g} s), "
              f"tenants {self.st.tenant_a} and {self.st.tenant_b}", flush=True)
        try:
            if not self.check("health", self.c_health, setup="health"):
                self.results.append(("FAIL", "(stopped)", "the deployment is not healthy; nothing else was run"))
                return self.summary(start)
            if self.check("setup: admin key", self.c_admin, setup="admin") and \
                    self.check("setup: tenants provisioned", self.c_tenants, setup="tenants"):
                self.check("setup: keys minted", self.c_keys, setup="keys")
            L, V = s.lambda_service, s.vpc_service
            checks: list[tuple[str, Callable[[], str]]] = [
                ("job submit", self.c_job_submit),
                ("key lifecycle (create, use, revoke)", self.c_key_lifecycle),
                ("key revocation bound", self.c_key_revocation_bound),
                ("key refused beyond the tenant's entitlements", self.c_key_entitlements),
                ("job idempotent replay", self.c_job_replay),
                ("job of another tenant is 404", self.c_job_other_tenant),
                ("jwt sign-in", self.c_jwt),
                (f"lambda service {L}: public route", self.c_lambda_public),
                (f"lambda service {L}: scoped routes", self.c_lambda_scoped),
                (f"lambda service {L}: no credential reaches it", self.c_lambda_no_credential),
                (f"lambda service {L}: identity verified", self.c_lambda_identity),
                (f"vpc_link service {V}: public route", self.c_vpc_public),
                (f"vpc_link service {V}: scoped route", self.c_vpc_scoped),
                (f"vpc_link service {V}: no credential reaches it", self.c_vpc_no_credential),
                (f"vpc_link service {V}: identity verified", self.c_vpc_identity),
                ("throttling per consumer", self.c_throttle),
                ("cors: success", self.c_cors_success),
                ("cors: preflight", self.c_cors_preflight),
                ("cors: gateway error", self.c_cors_error),
                ("gateway responses", self.c_gateway_responses),
                ("unprovisioned tenant user", self.c_unprovisioned),
                ("private api", self.c_private),
                ("job terminal state", self.c_job_terminal),
            ]
            for name, fn in checks:
                self.check(name, fn)
        finally:
            self.check("cleanup", self.cleanup, setup="cleanup")
        return self.summary(start)

    def summary(self, start: float) -> int:
        count = {k: sum(1 for r in self.results if r[0] == k) for k in ("PASS", "FAIL", "SKIP")}
        failed = [r[1] for r in self.results if r[0] == "FAIL"]
        print(f"smoke: {len(self.results)} checks: {count['PASS']} passed, {count['FAIL']} failed, {count['SKIP']} skipped "
              f"in {time.monotonic() - start:.0f} s ({self.http.requests} requests to {self.s.base_url})"
              + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
        return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(sys.argv[1:] if argv is None else argv)
    return Smoke(settings).run()


if __name__ == "__main__":
    sys.exit(main())
