output "rest_api_id" {
  description = "ID of the REST API (APIGW_REST_API_ID of the keys function)."
  value       = aws_api_gateway_rest_api.this["public"].id
}

output "execution_arn" {
  description = "Execution ARN of the REST API (prefix of every method ARN)."
  value       = aws_api_gateway_rest_api.this["public"].execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_api_gateway_stage.this["public"].stage_name
}

output "stage_arn" {
  description = "ARN of the stage."
  value       = aws_api_gateway_stage.this["public"].arn
}

output "invoke_url" {
  description = "Base URL of the API (custom domain when configured)."
  value       = local.custom_domain ? "https://${var.domain_name}" : aws_api_gateway_stage.this["public"].invoke_url
}

output "usage_plan_ids" {
  description = "ID of the API Gateway usage plan of each platform.yaml usage plan (USAGE_PLAN_IDS of the keys function, which puts each consumer's usage key in its plan)."
  value       = { for k, p in aws_api_gateway_usage_plan.this : k => p.id }
}

output "private_rest_api_id" {
  description = "ID of the private REST API; null without var.private_api."
  value       = local.private ? aws_api_gateway_rest_api.this["private"].id : null
}

output "private_execution_arn" {
  description = "Execution ARN of the private REST API; null without var.private_api."
  value       = local.private ? aws_api_gateway_rest_api.this["private"].execution_arn : null
}

output "private_invoke_url" {
  description = "Base URL of the private API inside the VPC (private DNS of the execute-api endpoint resolves it there); null without var.private_api."
  value       = local.private ? aws_api_gateway_stage.this["private"].invoke_url : null
}

output "private_vpce_invoke_urls" {
  description = "Base URL of the private API through each of its VPC endpoints (https://<api-id>-<vpce-id>.execute-api.<region>.amazonaws.com/<stage>: the Route 53 alias API Gateway keeps for an associated endpoint, usable where the endpoint's private DNS is not, e.g. from a peered network); {} without var.private_api."
  value = local.private ? {
    for id in var.private_api.vpc_endpoint_ids : id => "https://${aws_api_gateway_rest_api.this["private"].id}-${id}.execute-api.${data.aws_region.current.name}.amazonaws.com/${aws_api_gateway_stage.this["private"].stage_name}"
  } : {}
}

output "access_log_format" {
  description = "The access-log format of both stages (one JSON line per request: principal, principalType, tenant, httpMethod, path, status, ...): the audit trail of the vpc_link services' mutations; the local gateway writes the same line."
  value       = local.access_log_format
}

output "access_log_group" {
  description = "Name of the public stage's access-log group (CloudWatch Logs)."
  value       = aws_cloudwatch_log_group.access["public"].name
}

output "vpc_link_id" {
  description = "Id of the API Gateway VPC link (v2) to the internal ALB (the vpc_link integrations' connectionId); null without one (var.vpc_link)."
  value       = one(aws_apigatewayv2_vpc_link.this[*].id)
}

output "vpc_link_security_group_id" {
  description = "Security group of the VPC link's network interfaces; null without a VPC link."
  value       = one(aws_security_group.vpc_link[*].id)
}
