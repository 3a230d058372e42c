#!/usr/bin/env python3
"""The AWS emulator (moto server) with IAM enforced, for `scripts/tf-local.sh`.

Run with the project venv's python (scripts/ensure-venv.sh installs the pinned
moto from requirements/local.txt):

    .venv/bin/python scripts/moto-server.py --port 4566 \
        --credentials-file .local/admin-credentials

What it does, in order:

1. refuses to run unless moto is exactly 5.2.5 (the version the SigV4 patch
   below was written for and checked against);
2. makes moto enforce IAM: `INITIAL_NO_AUTH_ACTION_COUNT` = the number of calls
   step 4 makes, so every later request is authorised against the IAM policies
   of its caller (IAM users and `sts:AssumeRole` role sessions alike), and the
   AWS managed policies are loaded (`MOTO_IAM_LOAD_MANAGED_POLICIES`) so that
   Terraform can attach `arn:aws:iam::aws:policy/...` as in AWS;
3. applies its patches of moto 5.2.5 (the ten of docs/local-gateway.md, in
   that order; tests/terraform/test_emulator_patches.py tests each one that
   changes an answer):
   1. `patch_sigv4_for_bodyless_requests`: the signature check of body-less
      GET/HEAD/DELETE requests (every read or delete of a REST-JSON API
      failed with SignatureDoesNotMatch);
   2. and 3. `patch_policy_statements`: the policy evaluation (AssumeRole of
      a role trusting a service answered 500; ARN-scoped Allow statements
      never matched, so they are judged on their action and conditions);
   4. `patch_application_autoscaling_tags`: the Application Auto Scaling
      tagging API moto lacks (the provider reads a scalable target's tags
      after creating it);
   5. `patch_apigateway_actions`: API Gateway calls checked under their real
      IAM actions (`apigateway:GET`, ...);
   6. `patch_rest_api_policy`: a REST API's policy answered escaped as API
      Gateway does (the private API);
   7. `patch_secret_create_retries`: a retried CreateSecret succeeds as in AWS;
   8. `patch_browser_cognito`: a browser signs in to Cognito as in AWS (CORS
      preflights answered, RespondToAuthChallenge and GlobalSignOut public;
      the web console, docs/web.md);
   9. `patch_replay_retried_requests`: an SDK's retry of a call that already
      succeeded gets the first answer (the server under load loses answers;
      a non-idempotent call would fail on its own first attempt);
   10. `patch_import_gateway_responses`: a REST API import (ImportRestApi,
      PutRestApi merge or overwrite) creates the gateway responses its body
      declares, an overwrite resetting the ones it lacks, as API Gateway does;
4. starts the server on 127.0.0.1 and, within the unauthenticated budget,
   creates the administrator IAM user `portcullis-admin` with an inline `"*"`
   policy (moto cannot attach `AdministratorAccess` unless managed policies are
   loaded, and an inline policy does not depend on that) and an access key;
5. writes the key to --credentials-file (mode 0600) as shell-quoted
   `KEY=VALUE` lines (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
   `AWS_ENDPOINT_URL`, `AWS_REGION`), then serves until SIGTERM/SIGINT.

Callers wait for the credentials file to appear: it is written only once the
server enforces IAM. Nothing else may call the emulator before that (any
earlier AWS request would use up the budget and the bootstrap would fail with
AccessDenied, which this script reports).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

MOTO_VERSION = "5.2.5"
ADMIN_USER = "portcullis-admin"
# CreateUser, PutUserPolicy, CreateAccessKey: the only unauthenticated calls.
BOOTSTRAP_CALLS = 3
BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE"})


def log(msg: str) -> None:
    print(f"moto-server: {msg}", file=sys.stderr, flush=True)


def check_moto_version() -> None:
    try:
        import moto
    except ImportError:
        sys.exit(
            "moto-server: moto is not installed in this python; run it with the project "
            "venv (.venv/bin/python, created by scripts/ensure-venv.sh)"
        )
    if moto.__version__ != MOTO_VERSION:
        sys.exit(
            f"moto-server: moto {moto.__version__} is installed, but this launcher patches "
            f"two IAM checks of moto {MOTO_VERSION} and was checked against that version only. "
            f"Install moto[server]=={MOTO_VERSION} (requirements/local.txt), or re-check the "
            "patches (patch_sigv4_for_bodyless_requests, patch_policy_statements) against the new version and update MOTO_VERSION"
        )


def patch_sigv4_for_bodyless_requests() -> None:
    """Fix moto 5.2.5's signature check of body-less GET/HEAD/DELETE requests.

    `IAMRequestBase._create_aws_request` rebuilds the request to re-sign it
    with `data=self._body or self._data`. For a request without a body,
    `self._data` is the parsed query string or, when there is none, the request
    headers; botocore then encodes that dict as a form body and hashes it into
    the payload, while the client signed an empty payload. Every read and
    delete on the REST-JSON APIs (Lambda GetFunction, API Gateway GetRestApi,
    ...) then fails with SignatureDoesNotMatch, even for an administrator.
    The wrapper hides `self._data` for the duration of that one call, so the
    payload of a body-less GET/HEAD/DELETE is empty, as the client signed it;
    the query string stays in the URL (moto passes path + query). `self._data`
    is restored afterwards: the trust-policy check of sts:AssumeRole reads it.
    """
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request
    if getattr(original, "_portcullis_patched", False):
        return

    def create_aws_request(self):  # type: ignore[no-untyped-def]
        if self._method.upper() in BODYLESS_METHODS and not self._body:
            saved = self._data
            self._data = {}
            try:
                return original(self)
            finally:
                self._data = saved
        return original(self)

    create_aws_request._portcullis_patched = True  # type: ignore[attr-defined]
    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]


def patch_policy_statements() -> None:
    """Fix two gaps of moto 5.2.5's policy evaluation that enforcement exposes.

    1. sts:AssumeRole of a role whose trust policy names a service:
       `IAMPolicyStatement._check_principal` evaluates `caller in Principal["AWS"]`;
       a statement whose Principal names only a service (`{"Service":
       "lambda.amazonaws.com"}`, every Lambda role) has no "AWS" entry, so the
       check raises TypeError and the server answers 500 to any AssumeRole of
       such a role, whatever else the trust policy allows. In AWS such a
       statement simply does not apply to an IAM caller; the wrapper says
       exactly that (NEUTRAL).
    2. Resource-scoped Allow statements: moto checks most requests against
       resource "*" (it determines the resource only for SQS, IAM, STS, S3),
       which no ARN-scoped statement matches, so every least-privilege role is
       denied everything. The wrapper judges such an Allow on its action and
       conditions: locally, enforcement is per action, not per resource.
    Every other statement is left to moto.
    """
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    original = IAMPolicyStatement.is_action_permitted
    if getattr(original, "_portcullis_patched", False):
        return

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):  # type: ignore[no-untyped-def]
        named = self._statement.get("Principal")
        if principal and isinstance(named, dict) and "AWS" not in named:
            return PermissionResult.NEUTRAL
        if (
            resource == "*"
            and principal is None
            and self._statement.get("Effect") == "Allow"
            and self._statement.get("Resource") not in (None, "*", ["*"])
        ):
            # moto does not determine the resource of most requests (only
            # SQS, IAM, STS and S3 do) and checks them against "*", which
            # never matches a statement scoped to an ARN: every least-privilege
            # Allow would deny. Such an Allow is judged on its action (and
            # conditions) instead; resource scoping is not checked locally.
            widened = IAMPolicyStatement({**self._statement, "Resource": "*"})
            return original(widened, action, resource, principal, incoming_condition_values)
        return original(self, action, resource, principal, incoming_condition_values)

    is_action_permitted._portcullis_patched = True  # type: ignore[attr-defined]
    IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


def patch_apigateway_actions() -> None:
    """Authorise API Gateway calls under their real IAM actions.

    API Gateway's management API is authorised per HTTP method
    (`apigateway:GET` on `/account`, `apigateway:DELETE` on
    `/restapis/<id>/stages/<stage>/cache/authorizers`, ...), but moto 5.2.5
    checks `apigateway:<OperationName>` (`apigateway:GetAccount`), which no
    real policy names: only `"*"` would pass. The wrapper sets the action to
    `apigateway:<METHOD>` after moto built the request.
    """
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase.__init__
    if getattr(original, "_portcullis_patched", False):
        return

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        if self._service == "apigateway":
            self._action = f"apigateway:{self._method.upper()}"

    init._portcullis_patched = True  # type: ignore[attr-defined]
    IAMRequestBase.__init__ = init  # type: ignore[method-assign]


def patch_rest_api_policy() -> None:
    """Answer a REST API's resource policy as API Gateway does.

    GetRestApi returns `policy` as the policy JSON with its quotes
    backslash-escaped (`{\\"Version\\":...}`); the provider undoes exactly
    that. moto 5.2.5 returns the raw JSON, which the provider cannot read back
    ("invalid character ... after top-level value"), so a REST API with a
    policy (the private API, docs/terraform.md) failed to apply.
    """
    import json

    from moto.apigateway.models import RestAPI

    original = RestAPI.to_dict
    if getattr(original, "_portcullis_patched", False):
        return

    def to_dict(self):  # type: ignore[no-untyped-def]
        out = original(self)
        policy = out.get(RestAPI.PROP_POLICY)
        if isinstance(policy, str) and policy.lstrip().startswith("{"):
            out[RestAPI.PROP_POLICY] = json.dumps(policy)[1:-1]
        return out

    to_dict._portcullis_patched = True  # type: ignore[attr-defined]
    RestAPI.to_dict = to_dict  # type: ignore[method-assign]


def patch_secret_create_retries() -> None:
    """Let a retried CreateSecret succeed as in AWS.

    The SDKs fill CreateSecret's ClientRequestToken and send the same one
    again when they retry a request whose answer they lost; AWS then answers
    with the secret the first attempt created. moto 5.2.5 compares the token
    with the secret's versions only, and a secret created without a value
    (Terraform's aws_secretsmanager_secret) has none, so the retry failed with
    ResourceExistsException and `terraform apply` with it (seen under load).
    The token of every create is remembered per secret name; a create with
    the same token and name returns that secret.
    """
    from moto.secretsmanager.exceptions import ResourceExistsException
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.create_secret
    if getattr(original, "_portcullis_patched", False):
        return

    def create_secret(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        token = kwargs.get("client_request_token")
        tokens = self.__dict__.setdefault("_portcullis_create_tokens", {})
        try:
            out = original(self, name, *args, **kwargs)
        except ResourceExistsException:
            if token and tokens.get(name) == token and name in self.secrets:
                return self.secrets[name].to_short_dict()
            raise
        if token:
            tokens[name] = token
        return out

    create_secret._portcullis_patched = True  # type: ignore[attr-defined]
    SecretsManagerBackend.create_secret = create_secret  # type: ignore[method-assign]


def patch_application_autoscaling_tags() -> None:
    """Give moto 5.2.5's Application Auto Scaling the tagging API it lacks.

    The AWS provider tags a scalable target on RegisterScalableTarget and reads
    the tags back with ListTagsForResource after every create; moto implements
    neither (NotImplementedError, HTTP 500, which the provider retries for
    minutes). The tags are kept per target ARN, as AWS does: RegisterScalableTarget
    `Tags`, TagResource, UntagResource, ListTagsForResource.
    """
    import json

    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    if getattr(ApplicationAutoScalingResponse, "_portcullis_tags", None) is not None:
        return
    tags: dict[str, dict[str, str]] = {}
    ApplicationAutoScalingResponse._portcullis_tags = tags  # type: ignore[attr-defined]
    register = ApplicationAutoScalingResponse.register_scalable_target

    def register_scalable_target(self):  # type: ignore[no-untyped-def]
        result = register(self)
        arn = json.loads(result)["ScalableTargetARN"]
        tags.setdefault(arn, {}).update(self._get_param("Tags") or {})
        return result

    def tag_resource(self):  # type: ignore[no-untyped-def]
        tags.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self):  # type: ignore[no-untyped-def]
        current = tags.get(self._get_param("ResourceARN"), {})
        for key in self._get_param("TagKeys") or []:
            current.pop(key, None)
        return "{}"

    def list_tags_for_resource(self):  # type: ignore[no-untyped-def]
        return json.dumps({"Tags": tags.get(self._get_param("ResourceARN"), {})})

    ApplicationAutoScalingResponse.register_scalable_target = register_scalable_target  # type: ignore[method-assign]
    ApplicationAutoScalingResponse.tag_resource = tag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.untag_resource = untag_resource  # type: ignore[attr-defined]
    ApplicationAutoScalingResponse.list_tags_for_resource = list_tags_for_resource  # type: ignore[attr-defined]


def patch_browser_cognito() -> None:
    """Let a browser sign in to the emulator's Cognito as it does to AWS's
    (the web console, docs/web.md).

    Cognito answers CORS preflights for any origin and serves its user-pool
    token operations without AWS credentials. With IAM enforced, moto 5.2.5
    sends a preflight (OPTIONS, no credentials, no X-Amz-Target) to its S3
    handler, whose signature check fails (HTTP 500), and treats only
    InitiateAuth, GetUser, SignUp, ConfirmSignUp and ForgotPassword as public.
    Here a preflight is answered before any service sees it (the request's
    origin, method and headers allowed, as Cognito does), and
    RespondToAuthChallenge and GlobalSignOut join the public operations.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    for op in ("RespondToAuthChallenge", "GlobalSignOut"):
        target = f"AWSCognitoIdentityProviderService.{op}"
        if target not in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            ActionAuthenticatorMixin.PUBLIC_OPERATIONS.append(target)
    call = DomainDispatcherApplication.__call__
    if getattr(call, "_portcullis_patched", False):
        return

    def dispatch(self, environ, start_response):  # type: ignore[no-untyped-def]
        method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if environ.get("REQUEST_METHOD") == "OPTIONS" and method:
            headers = [
                ("Access-Control-Allow-Origin", environ.get("HTTP_ORIGIN") or "*"),
                ("Access-Control-Allow-Methods", method),
                ("Access-Control-Max-Age", "600"),
                ("Vary", "Origin"),
                ("Content-Length", "0"),
            ]
            wanted = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
            if wanted:
                headers.append(("Access-Control-Allow-Headers", wanted))
            start_response("200 OK", headers)
            return [b""]
        return call(self, environ, start_response)

    dispatch._portcullis_patched = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]


def patch_import_gateway_responses() -> None:
    """Create a REST API's gateway responses from its definition, as API
    Gateway does.

    API Gateway reads `x-amazon-apigateway-gateway-responses` from an OpenAPI
    definition on ImportRestApi and PutRestApi (Developer Guide,
    "x-amazon-apigateway-gateway-responses object":
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.html),
    and an overwrite import (PutRestApi mode=overwrite, what Terraform's
    aws_api_gateway_rest_api.body sends) deletes what the definition does not
    hold: "In this mode, items from an existing API that are not specifically
    defined in the imported definition will be deleted" (Developer Guide,
    "Update a REST API by importing an OpenAPI definition":
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-import-api-update.html),
    so customised gateway responses go back to their defaults. A merge import
    (the default mode, and ImportRestApi) adds or replaces the ones it names
    and leaves the others. moto 5.2.5 ignores the extension: the responses
    stayed whatever PutGatewayResponse last set, so a body without them (the
    design the rendered body's gateway responses replaced) still looked right locally.
    """
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.put_rest_api
    if getattr(original, "_portcullis_patched", False):
        return

    def put_rest_api(self, function_id, api_doc, fail_on_warnings, mode="merge"):  # type: ignore[no-untyped-def]
        api = original(self, function_id, api_doc, fail_on_warnings=fail_on_warnings, mode=mode)
        if mode == "overwrite":
            api.gateway_responses.clear()  # back to API Gateway's defaults
        for response_type, spec in (api_doc.get("x-amazon-apigateway-gateway-responses") or {}).items():
            api.put_gateway_response(
                response_type,
                status_code=spec.get("statusCode"),
                response_parameters=spec.get("responseParameters"),
                response_templates=spec.get("responseTemplates"),
            )
        return api

    put_rest_api._portcullis_patched = True  # type: ignore[attr-defined]
    APIGatewayBackend.put_rest_api = put_rest_api  # type: ignore[method-assign]


def patch_replay_retried_requests(limit: int = 1024) -> None:
    """Answer an SDK's retry of a request that already succeeded with that
    first answer, instead of running it again.

    Under load the emulator's HTTP server sometimes loses an answer after the
    operation ran (seen: AuthorizeSecurityGroupEgress and CreateSecret during
    `terraform apply` while cargo builds); the SDK then retries and a
    non-idempotent operation fails on its own first attempt
    (InvalidPermission.Duplicate), failing the apply. AWS does not lose
    answers that way. The SDKs mark every attempt of one call with the same
    `amz-sdk-invocation-id` and `amz-sdk-request: attempt=<n>`; the last
    `limit` successful (2xx) answers are kept by invocation id, and a retry
    (attempt > 1) of one of them gets that answer back. First attempts, and
    retries of calls that failed, run as before, so a real duplicate still
    fails as in AWS.
    """
    import collections
    import re
    import threading

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    call = DomainDispatcherApplication.__call__
    if getattr(call, "_portcullis_replay", False):
        return
    answers: collections.OrderedDict[str, tuple[str, list, bytes]] = collections.OrderedDict()
    lock = threading.Lock()

    def dispatch(self, environ, start_response):  # type: ignore[no-untyped-def]
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        if not invocation:
            return call(self, environ, start_response)
        attempt = re.search(r"attempt=(\d+)", environ.get("HTTP_AMZ_SDK_REQUEST", ""))
        if attempt and int(attempt.group(1)) > 1:
            with lock:
                done = answers.get(invocation)
            if done is not None:
                log(f"replaying the answer to attempt {attempt.group(1)} of a call that already succeeded ({invocation})")
                start_response(done[0], done[1])
                return [done[2]]
        seen: dict[str, object] = {}

        def capture(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            seen["status"], seen["headers"] = status, list(headers)
            return start_response(status, headers, exc_info)

        chunks = call(self, environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if str(seen.get("status", "")).startswith("2"):
            with lock:
                answers[invocation] = (str(seen["status"]), list(seen["headers"]), body)  # type: ignore[arg-type]
                while len(answers) > limit:
                    answers.popitem(last=False)
        return [body]

    dispatch._portcullis_replay = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]


def enforce_iam(budget: int) -> None:
    """Every request after the first `budget` is authorised against IAM."""
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(budget)
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from moto import settings

    # settings reads the variable at import; set the attribute too in case
    # moto was imported before this ran.
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float(budget)


def bootstrap_admin(endpoint: str, region: str) -> tuple[str, str]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    # Dummy credentials: these three calls are inside the unauthenticated budget.
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )
    try:
        iam.create_user(UserName=ADMIN_USER, Tags=[{"Key": "Project", "Value": "portcullis"}])
        iam.put_user_policy(
            UserName=ADMIN_USER,
            PolicyName="administrator",
            PolicyDocument=(
                '{"Version":"2012-10-17","Statement":'
                '[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
            ),
        )
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
    except ClientError as err:
        raise SystemExit(
            f"moto-server: creating the administrator failed: {err}. Did something call the "
            f"emulator before the bootstrap? Only {BOOTSTRAP_CALLS} unauthenticated calls are allowed; "
            "start clients only once the credentials file exists"
        ) from err
    return key["AccessKeyId"], key["SecretAccessKey"]


def write_credentials(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# The emulator's administrator (scripts/moto-server.py); local use only.\n")
        for key, value in values.items():
            out.write(f"{key}={shlex.quote(value)}\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    parser.add_argument(
        "--credentials-file",
        default=str(Path(__file__).resolve().parent.parent / ".local" / "admin-credentials"),
        help="where the administrator's access key is written (mode 0600)",
    )
    args = parser.parse_args()

    check_moto_version()
    enforce_iam(BOOTSTRAP_CALLS)
    patch_sigv4_for_bodyless_requests()
    patch_policy_statements()
    patch_apigateway_actions()
    patch_application_autoscaling_tags()
    patch_rest_api_policy()
    patch_secret_create_retries()
    patch_browser_cognito()
    patch_import_gateway_responses()
    patch_replay_retried_requests()

    from moto.server import ThreadedMotoServer

    creds = Path(args.credentials_file)
    creds.unlink(missing_ok=True)
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    try:
        server.start()
    except OSError as err:
        log(f"cannot listen on {args.host}:{args.port}: {err}")
        return 1
    endpoint = f"http://{args.host}:{args.port}"
    access_key, secret_key = bootstrap_admin(endpoint, args.region)
    write_credentials(
        creds,
        {
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": args.region,
        },
    )
    log(
        f"serving {endpoint} with IAM enforced (moto {MOTO_VERSION}); administrator "
        f"{ADMIN_USER}, access key {access_key} in {creds}"
    )

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    # The state lives in memory only: nothing to flush. ThreadedMotoServer.stop
    # waits for open keep-alive connections, so exit at once instead.
    log("stopping")
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
