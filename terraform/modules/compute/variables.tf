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
  description = "Private HTTP services, normalised from platform.yaml `services` by the root module (the ones enabled in this environment)."
  type = map(object({
    workload    = string
    image       = optional(string)
    port        = number
    path_prefix = string
    # The ALB listener rule priority: explicit, so adding a service renumbers nothing.
    priority = optional(number)
    health_check = object({
      path                = string
      interval_seconds    = number
      timeout_seconds     = number
      healthy_threshold   = number
      unhealthy_threshold = number
      matcher             = string
    })
    desired_count      = number
    min_count          = number
    max_count          = number
    cpu_target         = number
    cpu                = number
    memory             = number
    environment        = map(string)
    secrets            = optional(map(string), {})
    log_retention_days = optional(number)
    # The service kit's Set-Cookie policy (PORTCULLIS_COOKIES): a vpc_link
    # service's `cookies`; a lambda service's `allow_cookies` (true:
    # own_path, the proxy's rule too; false: none).
    cookies = optional(string, "none")
  }))

  # The Rust loader (shared/platform/src/services.rs) refuses the same registries.
  validation {
    condition     = alltrue([for k, s in var.services : try(s.priority >= 1 && s.priority <= 50000 && floor(s.priority) == s.priority, false)])
    error_message = "Every service in platform.yaml needs its own ALB listener rule priority (services.<name>.priority, a whole number 1-50000, unique): an explicit number, so adding a service renumbers no other rule. Missing or out of range: ${join(", ", sort([for k, s in var.services : k if !try(s.priority >= 1 && s.priority <= 50000 && floor(s.priority) == s.priority, false)]))}."
  }

  validation {
    condition     = length(distinct([for s in var.services : s.priority if s.priority != null])) == length([for s in var.services : s.priority if s.priority != null])
    error_message = "Two services in platform.yaml share a listener rule priority; give each its own (services.<name>.priority). Shared: ${join("; ", [for p in distinct([for s in var.services : s.priority if s.priority != null]) : "${p}: ${join(", ", sort([for k, s in var.services : k if s.priority == p]))}" if length([for s in var.services : s if s.priority == p]) > 1])}."
  }

  validation {
    condition     = alltrue([for k, s in var.services : s.log_retention_days == null || contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], coalesce(s.log_retention_days, 0))])
    error_message = "services.<name>.log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653). Refused: ${join(", ", sort([for k, s in var.services : k if s.log_retention_days != null && !contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], coalesce(s.log_retention_days, 0))]))}."
  }

  # PORT, BASE_PATH, PORTCULLIS_COOKIES, PORTCULLIS_PUBLIC_PATH and
  # IDENTITY_* are set here; AWS_* and ECS_* by ECS.
  validation {
    condition = alltrue(flatten([for k, s in var.services : [
      for n in concat(keys(s.environment), keys(s.secrets)) :
      can(regex("^[A-Z_][A-Z0-9_]*$", n)) && !contains(["PORT", "BASE_PATH", "PORTCULLIS_COOKIES", "PORTCULLIS_PUBLIC_PATH"], n) && !can(regex("^(IDENTITY_|AWS_|ECS_)", n))
    ]]))
    error_message = "A service's environment or secrets name is not an upper-case variable name or is set by the platform (PORT, BASE_PATH, PORTCULLIS_COOKIES, PORTCULLIS_PUBLIC_PATH, IDENTITY_*, AWS_*, ECS_*); rename it in platform.yaml. Refused: ${join(", ", sort(flatten([for k, s in var.services : [for n in concat(keys(s.environment), keys(s.secrets)) : "services.${k}.${n}" if !(can(regex("^[A-Z_][A-Z0-9_]*$", n)) && !contains(["PORT", "BASE_PATH", "PORTCULLIS_COOKIES", "PORTCULLIS_PUBLIC_PATH"], n) && !can(regex("^(IDENTITY_|AWS_|ECS_)", n)))]])))}."
  }

  validation {
    condition = alltrue(flatten([for k, s in var.services : [
      for n, v in s.secrets : can(regex("^(arn:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+|[A-Za-z0-9/_+=.@-]{1,512})(:[^:[:space:]]+)?$", v)) && (!startswith(v, "arn:") || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:[:space:]]+)?$", v)))
    ]]))
    error_message = "A service's secrets entry is not a Secrets Manager reference: give the secret's name (letters, digits and /_+=.@-) or its ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<id>), optionally followed by :<json-key>. Refused: ${join(", ", sort(flatten([for k, s in var.services : [for n, v in s.secrets : "services.${k}.secrets.${n}" if !(can(regex("^(arn:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+|[A-Za-z0-9/_+=.@-]{1,512})(:[^:[:space:]]+)?$", v)) && (!startswith(v, "arn:") || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:[:space:]]+)?$", v))))]])))}."
  }
}

variable "jobs" {
  description = "Job types, normalised from platform.yaml `jobs` by the root module."
  type = map(object({
    family             = string
    container          = string
    entrypoint         = optional(list(string))
    takes_args         = bool
    workload           = string
    image              = optional(string)
    cpu                = number
    memory             = number
    environment        = map(string)
    secrets            = optional(map(string), {})
    log_retention_days = optional(number)
  }))

  validation {
    condition     = alltrue([for k, j in var.jobs : j.log_retention_days == null || contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], coalesce(j.log_retention_days, 0))])
    error_message = "jobs.<type>.log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653). Refused: ${join(", ", sort([for k, j in var.jobs : k if j.log_retention_days != null && !contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], coalesce(j.log_retention_days, 0))]))}."
  }

  validation {
    condition = alltrue(flatten([for k, j in var.jobs : [
      for n, v in j.secrets : can(regex("^[A-Z_][A-Z0-9_]*$", n)) && !can(regex("^(AWS_|ECS_)", n)) && !contains(keys(j.environment), n) && can(regex("^(arn:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+|[A-Za-z0-9/_+=.@-]{1,512})(:[^:[:space:]]+)?$", v)) && (!startswith(v, "arn:") || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:[:space:]]+)?$", v)))
    ]]))
    error_message = "A job type's secrets entry is refused: the name must be an upper-case variable name not in its environment and not AWS_* or ECS_*, the value a Secrets Manager secret name or ARN, optionally followed by :<json-key>. Refused: ${join(", ", sort(flatten([for k, j in var.jobs : [for n, v in j.secrets : "jobs.${k}.secrets.${n}" if !(can(regex("^[A-Z_][A-Z0-9_]*$", n)) && !can(regex("^(AWS_|ECS_)", n)) && !contains(keys(j.environment), n) && can(regex("^(arn:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+|[A-Za-z0-9/_+=.@-]{1,512})(:[^:[:space:]]+)?$", v)) && (!startswith(v, "arn:") || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+(:[^:[:space:]]+)?$", v))))]])))}."
  }

  # The jobs function sends a caller's args as the RunTask command override;
  # with entryPoint fixed here they are only ever its arguments. The Rust
  # loader (shared/platform/src/jobs.rs) refuses the same registry.
  validation {
    condition     = alltrue([for k, j in var.jobs : !j.takes_args || try(length(j.entrypoint) > 0, false)])
    error_message = "Job types that let callers pass args (overrides.args) must declare an entrypoint in platform.yaml, the image's exec-form ENTRYPOINT (e.g. entrypoint: [\"/app/<name>\"]), so args can never become the container's command; add one or set overrides.args: false. Missing: ${join(", ", sort([for k, j in var.jobs : k if j.takes_args && !try(length(j.entrypoint) > 0, false)]))}."
  }
}

variable "image_tags" {
  description = "Tag of each workload's image in ECR, by workload: the content tags `scripts/images.py tags` prints and `make images` pushes."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for w, t in var.image_tags : can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", t))])
    error_message = "image_tags values must be Docker tags (letters, digits, _ . -, at most 128, not starting with . or -). Refused: ${join(", ", sort([for w, t in var.image_tags : w if !can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", t))]))}."
  }

  # Every workload built from ECR (no `image:` in platform.yaml) needs its tag.
  validation {
    condition     = length(setsubtract(concat([for s in var.services : s.workload if s.image == null], [for j in var.jobs : j.workload if j.image == null]), keys(var.image_tags))) == 0
    error_message = "image_tags names no tag for these workloads, so their task definitions would point at no image: ${join(", ", sort(setsubtract(concat([for s in var.services : s.workload if s.image == null], [for j in var.jobs : j.workload if j.image == null]), keys(var.image_tags))))}. Pass -var image_tags=\"$(scripts/images.py tags)\" (make deploy does), after make images pushed them."
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

variable "stage_name" {
  description = "The API Gateway stage: a vpc_link service is reached at /<stage><path_prefix> (API Gateway puts the stage in front of a private integration's path)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold letters, digits, '-' and '_' only (at most 128: API Gateway's stage name rule)."
  }
}

variable "vpc_link_services" {
  description = "The services of var.services with integration: vpc_link (the root's vpc_link_services local), with their registry cookies policy (none | own_path): their listener rule and BASE_PATH are /<stage><path_prefix>, and their task gets PORTCULLIS_COOKIES and PORTCULLIS_PUBLIC_PATH=/v1/services/<name>."
  type = map(object({
    cookies = optional(string, "none")
  }))
  default = {}

  validation {
    condition     = alltrue([for k, s in var.vpc_link_services : contains(["none", "own_path"], s.cookies)])
    error_message = "vpc_link_services.<name>.cookies: none or own_path."
  }
}

variable "alb_log_retention_days" {
  description = "Days the internal ALB's access logs are kept in their S3 bucket (then expired; old versions after 7 more days)."
  type        = number
  default     = 90

  validation {
    condition     = var.alb_log_retention_days >= 1
    error_message = "alb_log_retention_days must be at least 1."
  }
}
