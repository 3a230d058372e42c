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
  description = "Existing VPC to use; null creates a new VPC."
  type        = string
  default     = null
}

variable "existing_private_subnet_ids" {
  description = "Private subnets (at least two AZs) of the existing VPC; required when vpc_id is set."
  type        = list(string)
  default     = []
}

variable "cidr_block" {
  description = "CIDR block of the VPC created when vpc_id is null."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR block, e.g. 10.40.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the subnets over (2 or more)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6
    error_message = "az_count must be between 2 and 6: RDS and the ALB need two AZs."
  }
}

variable "single_nat_gateway" {
  description = "true: one NAT gateway for all AZs (cheaper); false: one per AZ (survives an AZ outage)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints from the private subnets (service suffix, e.g. secretsmanager)."
  type        = set(string)
  default     = ["secretsmanager", "ecs", "logs", "sts", "ecr.api", "ecr.dkr", "xray", "apigateway", "kms"]

  validation {
    condition     = !contains(var.interface_endpoints, "execute-api")
    error_message = "execute-api is not an interface_endpoints entry: the private API's endpoint has its own security group and is made by execute_api_endpoint = true (root: private_api_enabled)."
  }
}

variable "execute_api_endpoint" {
  description = "Create an interface VPC endpoint for execute-api (private DNS on, own security group: HTTPS from the VPC), the only way into the private API."
  type        = bool
  default     = false
}

variable "function_security_groups" {
  description = "Names of the VPC-attached Lambdas; each gets its own security group (allowed egress: HTTPS)."
  type        = set(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the flow-log group."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow-log group, in days."
  type        = number
  default     = 365
}
