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
