output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "alb_dns_name" {
  description = "DNS name of the internal ALB (the proxy's upstream host)."
  value       = aws_lb.this.dns_name
}

output "alb_arn" {
  description = "ARN of the internal ALB (the VPC link integrations' integrationTarget)."
  value       = aws_lb.this.arn
}

output "alb_security_group_id" {
  description = "Security group of the internal ALB: the api module's VPC link is admitted to it on the listener port."
  value       = aws_security_group.alb.id
}

output "alb_listener_port" {
  description = "Port of the internal ALB's listener (HTTP), the only port the VPC link may reach."
  value       = aws_lb_listener.this.port
}

output "alb_base_url" {
  description = "Base URL of the internal ALB listener; a service lives under base URL + path_prefix."
  value       = "http://${aws_lb.this.dns_name}"
}

output "job_task_definition_families" {
  description = "Task definition family of each job type."
  value       = { for k, t in aws_ecs_task_definition.job : k => t.family }
}

output "job_task_definition_family_arns" {
  description = "Family ARN pattern (all revisions) of each job type, for ecs:RunTask."
  value       = { for k, t in aws_ecs_task_definition.job : k => "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:task-definition/${t.family}:*" }
}

output "job_pass_role_arns" {
  description = "Roles a RunTask caller must be allowed to pass: the job execution role and every job task role."
  value       = concat([aws_iam_role.execution["job"].arn], [for r in aws_iam_role.job_task : r.arn])
}

output "job_security_group_id" {
  description = "Security group given to job tasks."
  value       = aws_security_group.job.id
}

output "docker_platform" {
  description = "docker build --platform value matching the tasks' CPU architecture."
  value       = var.cpu_architecture == "ARM64" ? "linux/arm64" : "linux/amd64"
}

output "ecr_repository_urls" {
  description = "ECR repository URL of each workload."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "service_names" {
  description = "ECS service name of each platform service."
  value       = { for k, s in aws_ecs_service.this : k => s.name }
}

output "alb_arn_suffix" {
  description = "ARN suffix of the internal ALB (the LoadBalancer dimension of AWS/ApplicationELB metrics)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffixes" {
  description = "ARN suffix of each service's target group (the TargetGroup dimension of AWS/ApplicationELB metrics)."
  value       = { for k, tg in aws_lb_target_group.this : k => tg.arn_suffix }
}

output "alb_log_bucket" {
  description = "S3 bucket of the internal ALB's access logs (under alb/AWSLogs/<account>/)."
  value       = aws_s3_bucket.alb_logs.id
}
