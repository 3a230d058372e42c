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

variable "async_retry_attempts" {
  description = "Retries Lambda makes of a failed asynchronous invocation of task-events or reconciler before sending it to the on-failure destination (0-2)."
  type        = number
  default     = 2

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts must be 0, 1 or 2."
  }
}

variable "async_max_event_age_seconds" {
  description = "Oldest asynchronous event Lambda still processes for task-events and reconciler (60-21600 s); older ones go to the on-failure destination."
  type        = number
  default     = 3600

  validation {
    condition     = var.async_max_event_age_seconds >= 60 && var.async_max_event_age_seconds <= 21600
    error_message = "async_max_event_age_seconds must be between 60 and 21600."
  }
}
