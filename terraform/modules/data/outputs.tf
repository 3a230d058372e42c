output "endpoint_host" {
  description = "Host name the functions connect to (the RDS Proxy when enabled, else the instance)."
  value       = var.enable_proxy ? aws_db_proxy.this[0].endpoint : aws_db_instance.this.address
}

output "instance_host" {
  description = "Host name of the instance itself (password logins such as migrate's bypass the IAM-only RDS Proxy)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of the application database."
  value       = aws_db_instance.this.db_name
}

output "resource_id" {
  description = "DBI resource id of the instance (used in rds-db:connect ARNs)."
  value       = aws_db_instance.this.resource_id
}

output "proxy_resource_id" {
  description = "Resource id of the RDS Proxy (prx-...) used in rds-db:connect ARNs, or null."
  value       = var.enable_proxy ? element(split(":", aws_db_proxy.this[0].arn), 6) : null
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS manages for the master user."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "security_group_id" {
  description = "Security group of the database."
  value       = aws_security_group.this.id
}

output "instance_identifier" {
  description = "Identifier of the RDS instance (the DBInstanceIdentifier dimension of AWS/RDS metrics)."
  value       = aws_db_instance.this.identifier
}
