# The platform tenant's usage key. Every Cognito principal is
# metered on its tenant's API Gateway usage key (portcullis_auth::usage), made
# by PUT /v1/tenants/{tenant} for other tenants. The platform tenant's comes
# from here: its first administrator signs in with Cognito before any API key
# exists, and without the key API Gateway refuses every secured call (403).
# The value is no secret (api_key_source = AUTHORIZER: only the authorizer
# names it), so it may sit in the state. The keys function refuses
# PUT /v1/tenants/<platform_tenant>: this is the one place its plan is set.
locals {
  # portcullis_auth::usage::usage_key(prefix, Tenant(platform_tenant)): the
  # literal form (platform_tenant is restricted to it), padded with '_' to
  # API Gateway's 20-character minimum.
  platform_users_usage_key_raw = "${local.usage_key_prefix}tenant-${var.platform_tenant}"
  platform_users_usage_key     = "${local.platform_users_usage_key_raw}${substr("____________________", 0, max(0, 20 - length(local.platform_users_usage_key_raw)))}"
}

resource "aws_api_gateway_api_key" "platform_users" {
  name        = local.platform_users_usage_key
  value       = local.platform_users_usage_key
  description = "Usage key of the Cognito users of tenant ${var.platform_tenant} (usageIdentifierKey; not a credential)"
  enabled     = true
  tags        = local.tags
}

resource "aws_api_gateway_usage_plan_key" "platform_users" {
  key_id        = aws_api_gateway_api_key.platform_users.id
  key_type      = "API_KEY"
  usage_plan_id = lookup(module.api.usage_plan_ids, var.platform_user_plan, "")

  lifecycle {
    precondition {
      condition     = contains(keys(module.api.usage_plan_ids), var.platform_user_plan)
      error_message = "platform_user_plan ${jsonencode(var.platform_user_plan)} is not a usage plan of platform.yaml (usage_plans: ${join(", ", keys(module.api.usage_plan_ids))})."
    }
  }
}
