"""scripts/moto-server.py's patches make moto answer as AWS does where the
provider depends on it (run against moto's in-process mock, the same moto
5.2.5 the emulator pins)."""

from __future__ import annotations

import importlib.util
import json

import boto3
import pytest
from moto import mock_aws

from conftest import ROOT

spec = importlib.util.spec_from_file_location("moto_server", ROOT / "scripts" / "moto-server.py")
moto_server = importlib.util.module_from_spec(spec)
spec.loader.exec_module(moto_server)


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch):
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@mock_aws
def test_a_retried_create_secret_returns_the_secret_its_first_attempt_made():
    moto_server.patch_secret_create_retries()
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    token = "5f0c6d8e-6b1e-4c55-9d0a-2b8f6f1f9a01"
    first = sm.create_secret(Name="p/identity/sample", ClientRequestToken=token)
    # The SDK resends the same token when it lost the first answer.
    again = sm.create_secret(Name="p/identity/sample", ClientRequestToken=token)
    assert again["ARN"] == first["ARN"]
    # Another create of the name is still refused, as in AWS.
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.create_secret(Name="p/identity/sample", ClientRequestToken="another-token-0000000000000000000")
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.create_secret(Name="p/identity/sample")


@mock_aws
def test_a_rest_apis_policy_is_answered_escaped_as_api_gateway_does():
    moto_server.patch_rest_api_policy()
    apigw = boto3.client("apigateway", region_name="us-east-1")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}]})
    api = apigw.create_rest_api(name="private", policy=policy, endpointConfiguration={"types": ["PRIVATE"]})
    got = apigw.get_rest_api(restApiId=api["id"])["policy"]
    assert got == json.dumps(policy)[1:-1]
    assert got.startswith('{\\"Version\\"'), got


def test_a_retry_of_a_call_that_succeeded_gets_its_first_answer_and_nothing_runs_twice():
    """A lost answer (the emulator's server under load) made the SDK retry
    AuthorizeSecurityGroupEgress, which then failed on its own first attempt
    (InvalidPermission.Duplicate) and `terraform apply` with it."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    moto_server.patch_replay_retried_requests()
    app = Client(DomainDispatcherApplication(create_backend_app))
    auth = "AWS4-HMAC-SHA256 Credential=testing/20261129/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00"

    def ec2(params, invocation, attempt):
        return app.post(
            "/",
            data={"Version": "2016-11-15", **params},
            headers={"Host": "ec2.us-east-1.amazonaws.com", "Authorization": auth, "amz-sdk-invocation-id": invocation, "amz-sdk-request": f"attempt={attempt}; max=3"},
        )

    made = ec2({"Action": "CreateSecurityGroup", "GroupName": "jobs", "GroupDescription": "jobs"}, "inv-sg", 1)
    assert made.status_code == 200, made.text
    group = made.text.split("<groupId>")[1].split("</groupId>")[0]
    rule = {
        "Action": "AuthorizeSecurityGroupEgress", "GroupId": group,
        "IpPermissions.1.IpProtocol": "tcp", "IpPermissions.1.FromPort": "5432", "IpPermissions.1.ToPort": "5432",
        "IpPermissions.1.IpRanges.1.CidrIp": "10.0.0.0/16",
    }
    first = ec2(rule, "inv-rule", 1)
    assert first.status_code == 200, first.text
    # The SDK's retry of that call (same invocation id): the first answer, no second rule.
    again = ec2(rule, "inv-rule", 2)
    assert again.status_code == 200 and again.data == first.data, again.text
    # Another call adding the same rule is still a duplicate, as in AWS, and
    # so is its retry (nothing succeeded to replay).
    other = ec2(rule, "inv-other", 1)
    assert other.status_code == 400 and "InvalidPermission.Duplicate" in other.text, other.text
    assert "InvalidPermission.Duplicate" in ec2(rule, "inv-other", 2).text
    # A first attempt is never answered from the store: it runs.
    assert "InvalidPermission.Duplicate" in ec2(rule, "inv-rule", 1).text


GATEWAY_RESPONSES = {
    "UNAUTHORIZED": {
        "statusCode": "401",
        "responseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "method.request.header.Origin"},
        "responseTemplates": {"application/json": '{"title":"Unauthorized","detail":"$context.error.message"}'},
    },
    "DEFAULT_4XX": {
        "responseParameters": {"gatewayresponse.header.Vary": "'Origin'"},
        "responseTemplates": {"application/problem+json": '{"title":"Bad request"}'},
    },
}


def definition(gateway_responses=None) -> dict:
    doc = {
        "openapi": "3.0.1",
        "info": {"title": "portcullis", "description": "gateway responses in the body", "version": "1"},
        "paths": {"/v1/health": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    if gateway_responses is not None:
        doc["x-amazon-apigateway-gateway-responses"] = gateway_responses
    return doc


def responses_of(apigw, api_id) -> dict:
    return {i["responseType"]: {k: i[k] for k in ("statusCode", "responseParameters", "responseTemplates") if k in i} for i in apigw.get_gateway_responses(restApiId=api_id)["items"]}


@mock_aws
def test_an_import_creates_the_gateway_responses_its_body_declares_and_an_overwrite_without_them_resets_them():
    """The gateway responses live in the body; API Gateway
    creates them on import, and an overwrite import (what Terraform's
    aws_api_gateway_rest_api.body sends) deletes what the body lacks."""
    moto_server.patch_import_gateway_responses()
    apigw = boto3.client("apigateway", region_name="us-east-1")

    imported = apigw.import_rest_api(body=json.dumps(definition(GATEWAY_RESPONSES)).encode())
    assert responses_of(apigw, imported["id"]) == GATEWAY_RESPONSES

    # PutRestApi overwrite with the responses (every terraform apply): the same.
    api = apigw.create_rest_api(name="portcullis")["id"]
    apigw.put_rest_api(restApiId=api, mode="overwrite", body=json.dumps(definition(GATEWAY_RESPONSES)).encode())
    assert responses_of(apigw, api) == GATEWAY_RESPONSES

    # A response set apart from the body (the old aws_api_gateway_gateway_response
    # resources) is gone after the next overwrite whose body lacks it...
    apigw.put_gateway_response(restApiId=api, responseType="THROTTLED", statusCode="429")
    apigw.put_rest_api(restApiId=api, mode="overwrite", body=json.dumps(definition(GATEWAY_RESPONSES)).encode())
    assert set(responses_of(apigw, api)) == {"UNAUTHORIZED", "DEFAULT_4XX"}

    # ...and a body without any resets them all.
    apigw.put_rest_api(restApiId=api, mode="overwrite", body=json.dumps(definition()).encode())
    assert responses_of(apigw, api) == {}


@mock_aws
def test_a_merge_import_adds_the_gateway_responses_it_names_and_keeps_the_others():
    moto_server.patch_import_gateway_responses()
    apigw = boto3.client("apigateway", region_name="us-east-1")
    api = apigw.create_rest_api(name="portcullis")["id"]
    apigw.put_gateway_response(restApiId=api, responseType="THROTTLED", statusCode="429")
    apigw.put_rest_api(restApiId=api, mode="merge", body=json.dumps(definition({"UNAUTHORIZED": GATEWAY_RESPONSES["UNAUTHORIZED"]})).encode())
    got = responses_of(apigw, api)
    assert set(got) == {"THROTTLED", "UNAUTHORIZED"} and got["UNAUTHORIZED"] == GATEWAY_RESPONSES["UNAUTHORIZED"]


def test_the_launchers_header_and_the_local_gateway_doc_name_every_patch_it_applies():
    """Every patch_* function the launcher defines is applied at start, named
    in its module docstring and in docs/local-gateway.md's list, so neither
    can fall behind the code."""
    import inspect
    import re

    defined = {name for name, fn in inspect.getmembers(moto_server, inspect.isfunction) if name.startswith("patch_")}
    applied = set(re.findall(r"^\s+(patch_\w+)\(\)$", (ROOT / "scripts" / "moto-server.py").read_text(encoding="utf-8"), re.M))
    assert applied == defined, f"defined but not applied: {defined - applied}; applied but not defined: {applied - defined}"
    header = moto_server.__doc__
    doc = (ROOT / "docs" / "local-gateway.md").read_text(encoding="utf-8")
    for name in sorted(defined):
        assert f"`{name}`" in header, f"scripts/moto-server.py's header does not name {name}"
        assert f"`{name}`" in doc, f"docs/local-gateway.md's list of patches does not name {name}"
