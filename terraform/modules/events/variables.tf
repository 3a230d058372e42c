variable "name" {
  description = "Name prefix of every resource (project-environment)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "cluster_arn" {
  description = "ECS cluster whose task state changes feed the task-events function."
  type        = string
}

variable "task_events_function_arn" {
  description = "ARN of the task-events function."
  type        = string
}

variable "reconciler_function_arn" {
  description = "ARN of the reconciler function."
  type        = string
}

variable "reconciler_schedule" {
  description = "EventBridge Scheduler expression for the reconciler."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate|cron|at)\\(.+\\)$", var.reconciler_schedule))
    error_message = "reconciler_schedule must be a rate(...), cron(...) or at(...) expression."
  }
}

variable "alarm_function_names" {
  description = "Functions with an Errors alarm, by crate name."
  type        = map(string)
}

variable "alarm_email" {
  description = "Optional e-mail subscribed to the alarm topic."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key of the DLQs and the alarm topic."
  type        = string
}
