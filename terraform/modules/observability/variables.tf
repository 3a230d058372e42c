variable "name" {
  description = "Name prefix of every resource (project-environment); also the public REST API's name (ApiName)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "region" {
  description = "Region of every metric the dashboard shows."
  type        = string
}

variable "environment" {
  description = "The Environment dimension of the code's metrics (DEPLOYMENT_ENVIRONMENT of the functions)."
  type        = string
}

variable "metrics_namespace" {
  description = "Namespace of the code's metrics (CloudWatch Embedded Metric Format records)."
  type        = string
  default     = "Portcullis"
}

variable "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (the events module's)."
  type        = string
}

variable "api_stage" {
  description = "Stage of the public REST API (the Stage dimension)."
  type        = string
}

variable "api_routes" {
  description = "The public API's operations (path, method; the openapi module's routes): the dashboard's per-route widgets."
  type        = list(object({ path = string, method = string }))
  default     = []
}

variable "function_names" {
  description = "Lambda function name by crate: a Throttles alarm each; the authorizer's also on the dashboard."
  type        = map(string)
}

variable "cluster_name" {
  description = "ECS cluster of the services (Container Insights must be on)."
  type        = string
}

variable "service_names" {
  description = "ECS service name by registry service (ServiceName dimension)."
  type        = map(string)
}

variable "alb_arn_suffix" {
  description = "The internal ALB's ARN suffix (LoadBalancer dimension)."
  type        = string
}

variable "target_group_arn_suffixes" {
  description = "Target group ARN suffix by registry service (TargetGroup dimension)."
  type        = map(string)
}

variable "db_instance_identifier" {
  description = "RDS instance identifier (DBInstanceIdentifier dimension)."
  type        = string
}

# --- Thresholds (docs/observability.md#alarms says why each default) ---

variable "api_5xx_rate_percent" {
  description = "Alarm when more than this percentage of the public API's requests in 5 minutes answered 5XX (three periods in a row)."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.api_5xx_rate_percent > 0 && var.api_5xx_rate_percent <= 100
    error_message = "api_5xx_rate_percent must be in (0, 100]."
  }
}

variable "api_5xx_min_requests" {
  description = "Requests a 5-minute period needs before its 5XX rate counts (a few failures of a handful of calls is no outage)."
  type        = number
  default     = 20
  nullable    = false
}

variable "api_latency_p99_ms" {
  description = "Alarm when the public API's p99 latency (ms, API Gateway's Latency) stays above this for three 5-minute periods."
  type        = number
  default     = 3000
  nullable    = false
}

variable "alb_target_5xx_count" {
  description = "Alarm when a service's targets answered more than this many 5XX in 5 minutes (ALB HTTPCode_Target_5XX_Count)."
  type        = number
  default     = 10
  nullable    = false
}

variable "ecs_below_desired_minutes" {
  description = "Minutes a service may run fewer tasks than desired (deployments and replacements) before the alarm."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.ecs_below_desired_minutes >= 1 && var.ecs_below_desired_minutes <= 60
    error_message = "ecs_below_desired_minutes must be 1-60."
  }
}

variable "rds_cpu_percent" {
  description = "Alarm when the database's average CPU stays above this percentage for 15 minutes."
  type        = number
  default     = 80
  nullable    = false
}

variable "rds_free_storage_bytes" {
  description = "Alarm when the database's free storage falls below this many bytes."
  type        = number
  default     = 2147483648
  nullable    = false
}

variable "rds_connections" {
  description = "Alarm when the database holds more than this many connections (db.t4g.micro allows about 80; raise with the instance class)."
  type        = number
  default     = 60
  nullable    = false
}

variable "job_failure_rate_percent" {
  description = "Alarm when more than this percentage of the jobs that finished in 15 minutes failed (JobFailed / (JobSucceeded + JobFailed + JobTimedOut))."
  type        = number
  default     = 25
  nullable    = false
}

variable "job_failure_min_jobs" {
  description = "Finished jobs a 15-minute period needs before its failure rate counts."
  type        = number
  default     = 5
  nullable    = false
}

variable "api_key_count_threshold" {
  description = "Alarm when the account holds this many API Gateway API keys (ApiKeyCount); the quota is 10,000 per account and Region and cannot be raised."
  type        = number
  default     = 9000
  nullable    = false

  validation {
    condition     = var.api_key_count_threshold > 0 && var.api_key_count_threshold < 10000
    error_message = "api_key_count_threshold must be below the 10,000 API keys quota."
  }
}

variable "authorizer_error_count" {
  description = "Alarm when the authorizer decided `error` (its own failure: database, signing) more than this many times in 5 minutes."
  type        = number
  default     = 0
  nullable    = false
}
