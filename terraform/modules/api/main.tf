data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  custom_domain = var.domain_name != null

  # The gateway responses (401, 403, 429, ...) are in the body (the openapi
  # module's x-amazon-apigateway-gateway-responses), on both APIs: every
  # PutRestApi overwrite carries them (moved.tf removes the old separate
  # resources from the state without deleting them).

  # One JSON line per request, the same on the public and the private stage.
  # It is the audit trail of the vpc_link services' mutations (no proxy
  # function sits on that path to log them): who (principal and
  # its type, from the authorizer's context), which tenant, the method, the
  # path as the caller sent it ($context.path: the stage and the resource
  # path with its values) and the status (API Gateway Developer Guide,
  # "Variables for access logging for API Gateway"). A public route runs no
  # authorizer and takes no mutation (its principal fields are empty).
  access_log_format = jsonencode({
    requestId        = "$context.requestId"
    extendedId       = "$context.extendedRequestId"
    ip               = "$context.identity.sourceIp"
    userAgent        = "$context.identity.userAgent"
    requestTime      = "$context.requestTime"
    httpMethod       = "$context.httpMethod"
    resourcePath     = "$context.resourcePath"
    path             = "$context.path"
    status           = "$context.status"
    responseLength   = "$context.responseLength"
    latencyMs        = "$context.responseLatency"
    principal        = "$context.authorizer.principal_id"
    principalType    = "$context.authorizer.principal_type"
    tenant           = "$context.authorizer.tenant"
    authorizerError  = "$context.authorizer.error"
    integrationError = "$context.integration.error"
    xrayTraceId      = "$context.xrayTraceId"
  })
}

# --- The REST APIs: the public one and, with var.private_api, the private
# --- one (below). Each gets the same gateway responses, deployment, access-log
# --- group, stage and method settings from one definition per kind: only
# --- what local.apis says differs. ---

locals {
  apis = {
    for key, api in {
      public = {
        name             = var.name
        description      = "Portcullis: controlled public access to private container applications"
        body             = var.body
        policy           = null
        endpoint_type    = "REGIONAL"
        vpc_endpoint_ids = null
        redeploy_on      = [var.body]
      }
      private = {
        name             = "${var.name}-private"
        description      = "Portcullis: the chosen routes for internal consumers, through the platform's VPC endpoint only"
        body             = local.private_body
        policy           = one(data.aws_iam_policy_document.private[*].json)
        endpoint_type    = "PRIVATE"
        vpc_endpoint_ids = local.private ? var.private_api.vpc_endpoint_ids : null
        redeploy_on      = [local.private_body, one(data.aws_iam_policy_document.private[*].json)]
      }
    } : key => api if key == "public" || local.private
  }
}

resource "aws_api_gateway_rest_api" "this" {
  for_each = local.apis

  name             = each.value.name
  description      = each.value.description
  body             = each.value.body
  api_key_source   = "AUTHORIZER"
  fail_on_warnings = false
  policy           = each.value.policy

  endpoint_configuration {
    types            = [each.value.endpoint_type]
    vpc_endpoint_ids = each.value.vpc_endpoint_ids
  }

  lifecycle {
    create_before_destroy = true
  }

  tags = var.tags
}

resource "aws_api_gateway_deployment" "this" {
  for_each    = local.apis
  rest_api_id = aws_api_gateway_rest_api.this[each.key].id

  # Redeployed when the body (its paths and its gateway responses) or the
  # resource policy (it takes effect with the next deployment) change.
  triggers = {
    redeployment = sha1(join(",", each.value.redeploy_on))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:retention is a per-environment choice (var.log_retention_days; prod 365)
  for_each          = local.apis
  name              = "/aws/apigateway/${each.value.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:response caching stays off: responses are per caller and the authorizer must run on every request
  #checkov:skip=CKV2_AWS_51:client certificates authenticate API Gateway to HTTP backends; the integrations here are Lambda
  #checkov:skip=CKV2_AWS_77:the WAF web ACL and its rules (Log4j AMR included) are managed outside this stack and passed as var.waf_acl_arn (public stage); the private stage has none: only the platform's VPC endpoint reaches it (resource policy)
  #checkov:skip=CKV2_AWS_29:the WAF web ACL is optional (var.waf_acl_arn) and associated with the public stage below when given; the private stage has none: only the platform's VPC endpoint reaches it (resource policy)
  for_each             = local.apis
  rest_api_id          = aws_api_gateway_rest_api.this[each.key].id
  deployment_id        = aws_api_gateway_deployment.this[each.key].id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access[each.key].arn
    format          = local.access_log_format
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:caching disabled on purpose (see the stage)
  for_each    = local.apis
  rest_api_id = aws_api_gateway_rest_api.this[each.key].id
  stage_name  = aws_api_gateway_stage.this[each.key].stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "ERROR"
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttle_rate_limit
    throttling_burst_limit = var.throttle_burst_limit
    caching_enabled        = false
  }
}

# --- Account-level CloudWatch role for API Gateway logging ---

data "aws_iam_policy_document" "apigw_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cloudwatch" {
  count              = var.manage_account_cloudwatch_role ? 1 : 0
  name               = "${var.name}-apigateway-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.apigw_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "cloudwatch" {
  count      = var.manage_account_cloudwatch_role ? 1 : 0
  role       = aws_iam_role.cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count               = var.manage_account_cloudwatch_role ? 1 : 0
  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn
  depends_on          = [aws_iam_role_policy_attachment.cloudwatch]
}

# --- Lambda permissions, scoped to this API ---

resource "aws_lambda_permission" "this" {
  for_each = var.integrated_functions

  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = each.value
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this["public"].execution_arn}/*"
}

# --- Usage plans. Their API keys are per consumer and made at run time by
# --- the keys function (one per Portcullis key, one per tenant for its
# --- Cognito users; portcullis_auth::usage), whose values the authorizer
# --- returns as usageIdentifierKey. None is made here: one key per plan would
# --- put every consumer of a plan in one bucket and one quota. ---

resource "aws_api_gateway_usage_plan" "this" {
  for_each = var.usage_plans

  name        = "${var.name}-${each.key}"
  description = each.value.description

  # Every stage: the public one and the private API's. A consumer's usage key
  # is in one plan (the keys function puts it there), and its quota and
  # throttle hold across both APIs.
  dynamic "api_stages" {
    for_each = aws_api_gateway_stage.this
    content {
      api_id = api_stages.value.rest_api_id
      stage  = api_stages.value.stage_name
    }
  }

  dynamic "throttle_settings" {
    for_each = each.value.throttle == null ? [] : [each.value.throttle]
    content {
      rate_limit  = throttle_settings.value.rate_limit
      burst_limit = throttle_settings.value.burst_limit
    }
  }

  dynamic "quota_settings" {
    for_each = each.value.quota == null ? [] : [each.value.quota]
    content {
      limit  = quota_settings.value.limit
      period = quota_settings.value.period
    }
  }

  tags = var.tags
}

# --- Optional WAF ---

resource "aws_wafv2_web_acl_association" "this" {
  count        = var.waf_acl_arn == null ? 0 : 1
  resource_arn = aws_api_gateway_stage.this["public"].arn
  web_acl_arn  = var.waf_acl_arn
}

# --- Optional custom domain with ACM ---

resource "aws_acm_certificate" "this" {
  count             = local.custom_domain ? 1 : 0
  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "validation" {
  for_each = local.custom_domain ? {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  } : {}

  zone_id         = var.hosted_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  count                   = local.custom_domain ? 1 : 0
  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_api_gateway_domain_name" "this" {
  count                    = local.custom_domain ? 1 : 0
  domain_name              = var.domain_name
  regional_certificate_arn = aws_acm_certificate_validation.this[0].certificate_arn
  security_policy          = "TLS_1_2"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  tags = var.tags
}

resource "aws_api_gateway_base_path_mapping" "this" {
  count       = local.custom_domain ? 1 : 0
  api_id      = aws_api_gateway_rest_api.this["public"].id
  stage_name  = aws_api_gateway_stage.this["public"].stage_name
  domain_name = aws_api_gateway_domain_name.this[0].domain_name
}

resource "aws_route53_record" "alias" {
  count   = local.custom_domain ? 1 : 0
  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_api_gateway_domain_name.this[0].regional_domain_name
    zone_id                = aws_api_gateway_domain_name.this[0].regional_zone_id
    evaluate_target_health = false
  }
}

# --- Optional private API (var.private_api): endpoint type PRIVATE, reachable
# --- only through the platform's interface VPC endpoint for execute-api. It
# --- serves the chosen paths of the same rendered contract, with the same
# --- authorizer, integrations, gateway responses, stage settings and usage
# --- plans (docs/terraform.md#private-api). Its REST API, gateway responses,
# --- deployment, access-log group, stage and method settings are the
# --- "private" instances of the resources above (local.apis); what is its
# --- own follows. ---

locals {
  private = var.private_api != null
  # The rendered contract restricted to the chosen paths: their operations
  # (security requirement, integration) and CORS preflights as they are on the
  # public API; components (the authorizer, the api_key scheme) unchanged.
  private_document = local.private ? jsondecode(var.body) : null
  private_body = local.private ? jsonencode(merge(local.private_document, {
    paths = { for path, item in local.private_document.paths : path => item if contains(var.private_api.paths, path) }
  })) : null
  # The functions the chosen paths invoke (their integrations, preflights and
  # the authorizer: var.path_function_arns, known at plan while the body may
  # not be): only those get a permission.
  private_arns = local.private ? flatten([for path in var.private_api.paths : lookup(var.path_function_arns, path, [])]) : []
  private_functions = local.private ? {
    for key, function_name in var.integrated_functions : key => function_name
    if anytrue([for arn in local.private_arns : endswith(arn, ":function:${function_name}")])
  } : {}
}

# The standard pattern: deny every call that does not come through the
# platform's endpoint(s), allow the rest (the authorizer then decides per
# caller). execute-api:/* is this API's own ARN in a resource policy.
data "aws_iam_policy_document" "private" {
  count = local.private ? 1 : 0

  statement {
    sid       = "DenyOutsideThePlatformVpcEndpoint"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = ["execute-api:/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:SourceVpce"
      values   = var.private_api.vpc_endpoint_ids
    }
  }

  statement {
    sid       = "AllowThroughThePlatformVpcEndpoint"
    effect    = "Allow"
    actions   = ["execute-api:Invoke"]
    resources = ["execute-api:/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

# Its own Lambda permissions: another statement id, on its execution ARN, for
# the functions its paths invoke only. Kept apart from the public API's
# (keyed by the caller's function keys, which a moved block cannot name).
resource "aws_lambda_permission" "private" {
  for_each = local.private_functions

  statement_id  = "AllowPrivateApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = each.value
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this["private"].execution_arn}/*"
}

# --- The VPC link (v2) from API Gateway to the internal ALB, for the services
# --- with integration vpc_link (docs/decisions.md: v2 to the ALB, not v1
# --- through an NLB). It belongs to API Gateway, so it lives with the REST
# --- API; the compute module owns the ALB it reaches. API Gateway's elastic
# --- network interfaces in the private subnets carry this security group: out
# --- to the listener only; the ALB admits it. The root's moved blocks
# --- (terraform/moved.tf) carry a state from when the compute module made
# --- them, so nothing is replaced. ---

locals {
  vpc_link = var.vpc_link == null ? 0 : 1
}

resource "aws_security_group" "vpc_link" {
  count       = local.vpc_link
  name        = "${var.name}-vpc-link"
  description = "API Gateway VPC link: only to the internal ALB listener"
  vpc_id      = var.vpc_link.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-vpc-link" })
}

resource "aws_vpc_security_group_egress_rule" "vpc_link_to_alb" {
  count                        = local.vpc_link
  security_group_id            = aws_security_group.vpc_link[0].id
  description                  = "HTTP to the internal ALB listener"
  ip_protocol                  = "tcp"
  from_port                    = var.vpc_link.alb_listener_port
  to_port                      = var.vpc_link.alb_listener_port
  referenced_security_group_id = var.vpc_link.alb_security_group_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_vpc_link" {
  #checkov:skip=CKV_AWS_260:the source is the VPC link's security group, not 0.0.0.0/0
  count                        = local.vpc_link
  security_group_id            = var.vpc_link.alb_security_group_id
  description                  = "HTTP from the API Gateway VPC link"
  ip_protocol                  = "tcp"
  from_port                    = var.vpc_link.alb_listener_port
  to_port                      = var.vpc_link.alb_listener_port
  referenced_security_group_id = aws_security_group.vpc_link[0].id
}

resource "aws_apigatewayv2_vpc_link" "this" {
  count              = local.vpc_link
  name               = "${var.name}-alb"
  security_group_ids = [aws_security_group.vpc_link[0].id]
  subnet_ids         = var.vpc_link.subnet_ids
  tags               = var.tags
}
