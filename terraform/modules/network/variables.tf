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
  description = "Private subnets (at least two AZs) of the existing VPC; required when vpc_id is set. With a vpc_link service they must be in Availability Zone IDs that support a VPC link (v2) (vpc_link_supported_az_ids; not checked for given subnets)."
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

variable "vpc_link" {
  description = "An API Gateway VPC link (v2) will be made in the private subnets (a service has integration: vpc_link): they then go only to Availability Zone IDs that support it (vpc_link_supported_az_ids)."
  type        = bool
  default     = false
}

variable "vpc_link_supported_az_ids" {
  description = "Per region, the Availability Zone IDs where API Gateway supports a VPC link (v2), from the API Gateway Developer Guide, \"Set up VPC links V2 in API Gateway\", Availability by Region (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-vpc-links-v2.html). A region absent here is not checked: add its row from that page before deploying a vpc_link service there."
  type        = map(list(string))
  # The rows read from that page (checked when the VPC link was added).
  default = {
    "us-east-1"      = ["use1-az1", "use1-az2", "use1-az4", "use1-az5", "use1-az6"]
    "us-east-2"      = ["use2-az1", "use2-az2", "use2-az3"]
    "us-west-1"      = ["usw1-az1", "usw1-az3"]
    "us-west-2"      = ["usw2-az1", "usw2-az2", "usw2-az3", "usw2-az4"]
    "ap-east-1"      = ["ape1-az2", "ape1-az3"]
    "ap-south-1"     = ["aps1-az1", "aps1-az2", "aps1-az3"]
    "ap-northeast-2" = ["apne2-az1", "apne2-az2", "apne2-az3"]
    "ap-southeast-1" = ["apse1-az1", "apse1-az2", "apse1-az3"]
    "ap-southeast-2" = ["apse2-az1", "apse2-az2", "apse2-az3"]
  }

  validation {
    condition     = alltrue(flatten([for region, ids in var.vpc_link_supported_az_ids : [for id in ids : can(regex("^[a-z]+[0-9]+-az[0-9]+$", id))]]))
    error_message = "vpc_link_supported_az_ids: Availability Zone IDs such as use1-az1 (not zone names such as us-east-1a)."
  }
}
