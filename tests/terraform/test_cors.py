"""CORS is the functions' (portcullis_core::cors): Terraform gives the HTTP
functions their policy, routes preflights to them, and puts what API Gateway
can express on its own error answers (docs/terraform.md#cors)."""

from __future__ import annotations

import re

from conftest import TF, val

HTTP_FUNCTIONS = ("keys", "jobs", "proxy")
CORS_VARS = {"CORS_ALLOW_ORIGINS", "CORS_ALLOW_HEADERS", "CORS_EXPOSE_HEADERS", "CORS_MAX_AGE_SECS", "CORS_ALLOW_CREDENTIALS"}


def test_the_http_functions_get_the_cors_policy(root_locals):
    functions = val(root_locals, "functions")
    for name in HTTP_FUNCTIONS:
        env = str(val(functions[name], "environment"))
        assert "local.cors_env" in env, f"{name}: its environment must merge local.cors_env (it answers browsers)"
    for name in set(functions) - set(HTTP_FUNCTIONS):
        assert "local.cors_env" not in str(val(functions[name], "environment")), f"{name} answers no browser"
    cors_env = val(root_locals, "cors_env")
    assert set(cors_env) == CORS_VARS, sorted(cors_env)
    assert "local.cors_allow_origins" in str(cors_env["CORS_ALLOW_ORIGINS"])
    origins = str(val(root_locals, "cors_allow_origins"))
    assert "var.cors_allow_origins" in origins and "local.web_origins" in origins, origins
    for var in CORS_VARS - {"CORS_ALLOW_ORIGINS"}:
        assert "module.openapi.cors" in str(cors_env[var]), f"{var} must come from x-portcullis-cors, its one source"


def test_no_environment_keeps_the_mock_preflight_mode():
    for path in [*(TF / "env").glob("*.tfvars"), *TF.glob("*.tf"), *(TF / "modules" / "openapi").glob("*.tf")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*cors_preflight\s*=", text, re.M), f"{path.name}: cors_preflight is gone (the functions answer preflights)"
        assert "cors_allow_origin " not in text and "cors_allow_origin=" not in text, f"{path.name}: no single static origin any more"


def test_gateway_responses_echo_the_origin_without_credentials(resources):
    """The gateway responses are in the body (openapi module), on every REST API: no separate resource any more."""
    assert resources("aws_api_gateway_gateway_response") == [], "gateway responses live in the body (x-amazon-apigateway-gateway-responses)"
    text = (TF / "modules" / "openapi" / "main.tf").read_text(encoding="utf-8")
    assert '"gatewayresponse.header.Access-Control-Allow-Origin" = "method.request.header.Origin"' in text
    assert "\"gatewayresponse.header.Vary\"                        = \"'Origin'\"" in text
    assert "Access-Control-Allow-Credentials" not in text, "an echoed origin must never come with credentials"
    assert "responseParameters = local.gateway_cors_headers" in text


def test_every_gateway_response_type_a_browser_meets_carries_cors():
    text = (TF / "modules" / "openapi" / "main.tf").read_text(encoding="utf-8")
    for kind in ("UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "QUOTA_EXCEEDED", "INVALID_API_KEY", "MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "INTEGRATION_TIMEOUT", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "DEFAULT_4XX", "DEFAULT_5XX"):
        assert re.search(rf"^\s*{kind}\s*=", text, re.M), f"gateway response {kind} is not configured"


def test_the_gateway_responses_expose_the_contracts_headers():
    text = (TF / "modules" / "openapi" / "main.tf").read_text(encoding="utf-8")
    assert 'try(local.document["x-portcullis-cors"].exposeHeaders, [])' in text, "Access-Control-Expose-Headers comes from x-portcullis-cors, its one source"
