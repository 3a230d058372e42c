variable "name" {
  description = "Name prefix of every resource (project-environment)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "functions" {
  description = "The Lambdas, by crate name: size, environment and the IAM statements each one needs beyond logs, X-Ray and VPC networking."
  type = map(object({
    description          = string
    memory_size          = number
    timeout              = number
    environment          = map(string)
    vpc                  = bool
    reserved_concurrency = optional(number)
    statements = list(object({
      sid       = string
      actions   = list(string)
      resources = list(string)
      conditions = optional(list(object({
        test     = string
        variable = string
        values   = list(string)
      })), [])
    }))
  }))

  validation {
    condition     = alltrue([for f in var.functions : f.timeout >= 1 && f.timeout <= 900])
    error_message = "Every function timeout must be between 1 and 900 seconds."
  }

  validation {
    condition     = alltrue([for f in var.functions : f.memory_size >= 128 && f.memory_size <= 10240])
    error_message = "Every function memory_size must be between 128 and 10240 MB."
  }
}

variable "artifacts_dir" {
  description = "Directory holding <name>/bootstrap.zip for every function (cargo lambda build --output-format zip writes target/lambda)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the VPC-attached functions."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security group of each VPC-attached function, by function name."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting environment variables and log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of every function log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ...)."
  }
}

variable "log_level" {
  description = "Application log level (AWS_LAMBDA_LOG_LEVEL / RUST_LOG filter)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR. TRACE is refused: at TRACE the Lambda runtime logs every raw event (API keys, bearer tokens, request bodies) and the AWS SDK whole requests with their session tokens; DEBUG is the most verbose safe level."
  }
}

variable "trusted_principal_arns" {
  description = "IAM principals that may assume the function roles besides Lambda. Empty in AWS; the local environment names the emulator's administrator, which runs each function locally with its own role."
  type        = list(string)
  default     = []
}
