variable "name" {
  description = "Name prefix of every resource (project-environment)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC of the cluster, the ALB and the tasks."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the tasks and the internal ALB."
  type        = list(string)
}

variable "services" {
  description = "Private HTTP services, normalised from platform.yaml `services` by the root module."
  type = map(object({
    workload          = string
    image             = optional(string)
    port              = number
    path_prefix       = string
    health_check_path = string
    desired_count     = number
    min_count         = number
    max_count         = number
    cpu_target        = number
    cpu               = number
    memory            = number
    environment       = map(string)
  }))
}

variable "jobs" {
  description = "Job types, normalised from platform.yaml `jobs` by the root module."
  type = map(object({
    family      = string
    container   = string
    entrypoint  = optional(list(string))
    takes_args  = bool
    workload    = string
    image       = optional(string)
    cpu         = number
    memory      = number
    environment = map(string)
  }))

  # The jobs function sends a caller's args as the RunTask command override;
  # with entryPoint fixed here they are only ever its arguments. The Rust
  # loader (shared/platform/src/jobs.rs) refuses the same registry.
  validation {
    condition     = alltrue([for k, j in var.jobs : !j.takes_args || try(length(j.entrypoint) > 0, false)])
    error_message = "Job types that let callers pass args (overrides.args) must declare an entrypoint in platform.yaml, the image's exec-form ENTRYPOINT (e.g. entrypoint: [\"/app/<name>\"]), so args can never become the container's command; add one or set overrides.args: false. Missing: ${join(", ", sort([for k, j in var.jobs : k if j.takes_args && !try(length(j.entrypoint) > 0, false)]))}."
  }
}

variable "image_tag" {
  description = "Tag of the workload images in ECR (pushed by `make images`)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "proxy_security_group_id" {
  description = "Security group of the proxy Lambda, the only client of the internal ALB."
  type        = string
}

variable "identity_secret_arns" {
  description = "Each service's identity-signing key secret, by service name; a service gets its own as IDENTITY_SECRET to verify the proxy's signed headers."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.services) : contains(keys(var.identity_secret_arns), k)])
    error_message = "Every service needs its own identity secret in identity_secret_arns. Missing: ${join(", ", sort([for k in keys(var.services) : k if !contains(keys(var.identity_secret_arns), k)]))}."
  }
}

variable "kms_key_arn" {
  description = "KMS key for ECR repositories and log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the task log groups, in days."
  type        = number
  default     = 365
}

variable "alb_deletion_protection" {
  description = "Protect the internal ALB from deletion."
  type        = bool
  default     = true
}

variable "cpu_architecture" {
  description = "CPU architecture of every task (X86_64 or ARM64); the workload images must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete ECR repositories that still hold images."
  type        = bool
  default     = false
}

variable "ecr_keep_images" {
  description = "Number of tagged images each ECR repository keeps."
  type        = number
  default     = 20
}
