output "function_arns" {
  description = "ARN of each function, by crate name."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "invoke_arns" {
  description = "API Gateway invoke ARN of each function, by crate name."
  value       = { for k, f in aws_lambda_function.this : k => f.invoke_arn }
}

output "function_names" {
  description = "Deployed name of each function, by crate name."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "role_arns" {
  description = "Execution role of each function (what `cargo lambda deploy --iam-role` needs)."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "log_group_names" {
  description = "Log group of each function."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "environments" {
  description = "Environment variables of each function, by crate name (sensitive when a value is, e.g. usage plan key values)."
  value       = { for k, f in aws_lambda_function.this : k => f.environment[0].variables }
  sensitive   = true
}
