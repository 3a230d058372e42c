variable "name" {
  description = "Name prefix of every resource (project-environment)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "body" {
  description = "OpenAPI body of the REST API (JSON rendered from api/openapi.yaml by the openapi module)."
  type        = string
}

variable "stage_name" {
  description = "Name of the deployment stage (also the first path segment of the invoke URL)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may hold letters, digits, '-' and '_' only."
  }
}

variable "integrated_functions" {
  description = "Function name of every Lambda API Gateway invokes (the integrations and the authorizer), by crate name."
  type        = map(string)
}

variable "usage_plans" {
  description = "Usage plans from platform.yaml: throttle (rate_limit, burst_limit) and optional quota (limit, period)."
  type = map(object({
    description = optional(string, "")
    throttle = optional(object({
      rate_limit  = number
      burst_limit = number
    }))
    quota = optional(object({
      limit  = number
      period = string
    }))
  }))
}

variable "throttle_rate_limit" {
  description = "Stage-wide steady-state request rate limit (requests per second)."
  type        = number
  default     = 100
}

variable "throttle_burst_limit" {
  description = "Stage-wide burst limit (requests)."
  type        = number
  default     = 200
}

variable "kms_key_arn" {
  description = "KMS key of the access-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the access-log group, in days."
  type        = number
  default     = 365
}

variable "manage_account_cloudwatch_role" {
  description = "Set the account-wide API Gateway CloudWatch role (needed once per account and region for access logs)."
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Optional custom domain (api.example.com); null keeps the execute-api URL only."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone of domain_name, for the ACM validation and alias records."
  type        = string
  default     = null
}

variable "waf_acl_arn" {
  description = "Optional WAFv2 web ACL (REGIONAL) associated with the stage."
  type        = string
  default     = null
}

variable "private_api" {
  description = "Optional private REST API (endpoint type PRIVATE) for internal consumers: the paths of the contract it serves (exact keys of api/openapi.yaml's paths, e.g. /v1/jobs/{id}) and the interface VPC endpoints for execute-api it accepts calls through (its resource policy denies every other caller). null: none."
  type = object({
    paths            = list(string)
    vpc_endpoint_ids = list(string)
  })
  default = null

  validation {
    condition     = var.private_api == null || try(length(var.private_api.paths) > 0 && length(var.private_api.vpc_endpoint_ids) > 0, false)
    error_message = "private_api needs at least one path and one VPC endpoint id (the platform's execute-api endpoint)."
  }

  validation {
    condition     = var.private_api == null || try(length(setsubtract(var.private_api.paths, keys(jsondecode(var.body).paths))) == 0, false)
    error_message = "private_api.paths must be paths of api/openapi.yaml, written exactly as there (e.g. /v1/jobs/{id}). Not in the contract: ${var.private_api == null ? "" : join(", ", try(setsubtract(var.private_api.paths, keys(jsondecode(var.body).paths)), var.private_api.paths))}."
  }
}

variable "path_function_arns" {
  description = "Per path of the body, the Lambda function ARNs its operations invoke, the authorizer included (the openapi module's output of the same name): the private API's Lambda permissions go to the functions of its paths. Known at plan, unlike the body while the VPC link is being made."
  type        = map(list(string))
  default     = {}
}

variable "vpc_link" {
  description = "Make the API Gateway VPC link (v2) to the internal ALB, for the services with integration vpc_link: in these private subnets of this VPC, with its own security group whose only rule is egress to the ALB's listener port, and an ingress rule on the ALB's security group admitting it. null (no vpc_link service deployed): none."
  type = object({
    vpc_id                = string
    subnet_ids            = list(string)
    alb_security_group_id = string
    alb_listener_port     = number
  })
  default = null
}
