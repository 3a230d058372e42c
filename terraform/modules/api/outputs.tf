output "rest_api_id" {
  description = "ID of the REST API (APIGW_REST_API_ID of the keys function)."
  value       = aws_api_gateway_rest_api.this.id
}

output "execution_arn" {
  description = "Execution ARN of the REST API (prefix of every method ARN)."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_api_gateway_stage.this.stage_name
}

output "stage_arn" {
  description = "ARN of the stage."
  value       = aws_api_gateway_stage.this.arn
}

output "invoke_url" {
  description = "Base URL of the API (custom domain when configured)."
  value       = local.custom_domain ? "https://${var.domain_name}" : aws_api_gateway_stage.this.invoke_url
}

output "usage_plan_ids" {
  description = "ID of the API Gateway usage plan of each platform.yaml usage plan (USAGE_PLAN_IDS of the keys function, which puts each consumer's usage key in its plan)."
  value       = { for k, p in aws_api_gateway_usage_plan.this : k => p.id }
}
