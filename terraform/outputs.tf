output "api_url" {
  description = "Base URL of the API; try <api_url>/v1/health."
  value       = module.api.invoke_url
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = module.api.rest_api_id
}

output "private_api_id" {
  description = "ID of the private REST API; null unless private_api_enabled."
  value       = module.api.private_rest_api_id
}

output "private_api_url" {
  description = "Base URL of the private API, resolvable inside the VPC (private DNS of the execute-api endpoint); null unless private_api_enabled."
  value       = module.api.private_invoke_url
}

output "private_api_vpce_url" {
  description = "Base URL of the private API through the execute-api endpoint's own DNS alias (https://<api-id>-<vpce-id>.execute-api...), for callers that do not use the VPC's DNS; null unless private_api_enabled."
  value       = try(module.api.private_vpce_invoke_urls[module.network.execute_api_endpoint_id], null)
}

output "execute_api_endpoint_id" {
  description = "Interface VPC endpoint for execute-api through which the private API is reachable; null unless private_api_enabled."
  value       = module.network.execute_api_endpoint_id
}

output "region" {
  description = "Region of the deployment."
  value       = local.region
}

output "function_names" {
  description = "Deployed name of each Lambda, by crate name."
  value       = module.functions.function_names
}

output "function_roles" {
  description = "Execution role ARN of each Lambda (for `make deploy-fn`)."
  value       = module.functions.role_arns
}

output "function_subnet_ids" {
  description = "Private subnets of the VPC Lambdas (for `make deploy-fn`)."
  value       = module.network.private_subnet_ids
}

output "function_security_group_ids" {
  description = "Security group of each VPC Lambda (for `make deploy-fn`)."
  value       = module.network.function_security_group_ids
}

output "ecr_repository_urls" {
  description = "ECR repository of each workload (for `make images`)."
  value       = module.compute.ecr_repository_urls
}

output "workload_docker_platform" {
  description = "Platform make images builds the workload images for (linux/amd64 or linux/arm64)."
  value       = module.compute.docker_platform
}

output "ecs_cluster_name" {
  description = "ECS cluster of the services and jobs."
  value       = module.compute.cluster_name
}

output "ecs_service_names" {
  description = "ECS service of each platform service."
  value       = module.compute.service_names
}

output "cognito_user_pool_id" {
  description = "Cognito user pool."
  value       = module.auth.user_pool_id
}

output "cognito_web_client_id" {
  description = "Cognito app client for browsers."
  value       = module.auth.web_client_id
}

output "cognito_machine_client_id" {
  description = "Cognito app client for machines (client credentials)."
  value       = module.auth.machine_client_id
}

output "cognito_machine_client_secret" {
  description = "Secret of the machine client (terraform output -raw cognito_machine_client_secret)."
  value       = module.auth.machine_client_secret
  sensitive   = true
}

output "cognito_domain" {
  description = "Cognito hosted UI / token endpoint domain."
  value       = module.auth.hosted_ui_domain
}

output "cognito_issuer" {
  description = "JWT issuer the authorizer accepts."
  value       = module.auth.issuer
}

output "database_secret_arn" {
  description = "Secrets Manager secret of the RDS master user (used by migrate only)."
  value       = module.data.master_user_secret_arn
}

output "dlq_urls" {
  description = "Dead-letter queues of task-events and reconciler."
  value       = module.events.dlq_urls
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.events.alarm_topic_arn
}

# --- What the local gateway reads (scripts/tf-local.sh; docs/local-gateway.md) ---

output "rest_api_body" {
  description = "The REST API body Terraform rendered and imported (routes, integrations, authorizer). Read it from here: an import may drop parts (the AWS emulator drops the authorizer)."
  value       = module.openapi.body
}

output "function_arns" {
  description = "ARN of each Lambda, by crate name."
  value       = module.functions.function_arns
}

output "function_environments" {
  description = "Environment variables of each Lambda, by crate name, as deployed (sensitive: they may carry settings such as the JWKS document)."
  value       = module.functions.environments
  sensitive   = true
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster (ECS_CLUSTER of the jobs functions)."
  value       = module.compute.cluster_arn
}

output "job_security_group_id" {
  description = "Security group of the job tasks (JOB_SECURITY_GROUPS)."
  value       = module.compute.job_security_group_id
}

output "job_task_definition_families" {
  description = "Task definition family of each job type."
  value       = module.compute.job_task_definition_families
}

output "identity_secret_arns" {
  description = "Secrets Manager secret of each service's identity-signing key, by service (IDENTITY_SECRET_ARNS of the proxy; IDENTITY_SECRET of that service)."
  value       = { for s, secret in aws_secretsmanager_secret.identity : s => secret.arn }
}

output "usage_plan_ids" {
  description = "API Gateway usage plan of each platform.yaml usage plan (USAGE_PLAN_IDS of the keys function)."
  value       = module.api.usage_plan_ids
}

output "usage_key_prefix" {
  description = "USAGE_KEY_PREFIX of the authorizer and the keys function: every per-consumer API Gateway usage key is named <prefix>key-<key id> or <prefix>tenant-<tenant> (portcullis_auth::usage)."
  value       = local.usage_key_prefix
}

output "dlq_arns" {
  description = "DLQ of task-events and reconciler: EventBridge/Scheduler target DLQ and Lambda on-failure destination."
  value       = module.events.dlq_arns
}

output "authorizer_cache_ttl_seconds" {
  description = "AUTH_CACHE_TTL_SECS of the authorizer."
  value       = var.authorizer_cache_ttl_seconds
}

output "access_log_format" {
  description = "The stages' access-log format (one JSON line per request: principal, principalType, tenant, httpMethod, path, status, ...): the audit trail of the vpc_link services' mutations; the local gateway writes the same line (deployment.json)."
  value       = module.api.access_log_format
}

output "access_log_group" {
  description = "The public stage's access-log group (CloudWatch Logs)."
  value       = module.api.access_log_group
}
