variable "project" {
  description = "Project name, the first part of every resource name."
  type        = string
  default     = "portcullis"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.project))
    error_message = "project must be 2-16 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod), the second part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters or digits, e.g. dev or prod."
  }
}

variable "region" {
  description = "AWS region of the whole platform."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as eu-west-1."
  }
}

variable "tags" {
  description = "Extra tags merged into the tags of every resource."
  type        = map(string)
  default     = {}
}

# --- network ---

variable "vpc_id" {
  description = "Existing VPC to deploy into; null creates a new one."
  type        = string
  default     = null
}

variable "existing_private_subnet_ids" {
  description = "Private subnets (two AZs or more) of the existing VPC, used when vpc_id is set."
  type        = list(string)
  default     = []
}

variable "vpc_cidr" {
  description = "CIDR block of the new VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to use (2 or more)."
  type        = number
  default     = 2
}

variable "single_nat_gateway" {
  description = "One NAT gateway (true, cheaper) or one per AZ (false)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "AWS services reached through interface VPC endpoints."
  type        = set(string)
  default     = ["secretsmanager", "ecs", "logs", "sts", "ecr.api", "ecr.dkr", "xray", "apigateway", "kms"]
}

# --- data ---

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_engine_version" {
  description = "PostgreSQL version."
  type        = string
  default     = "17"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB."
  type        = number
  default     = 20
}

variable "db_multi_az" {
  description = "Multi-AZ standby for RDS."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "RDS automated backup retention in days."
  type        = number
  default     = 7
}

variable "db_deletion_protection" {
  description = "Deletion protection on RDS (and a final snapshot on destroy)."
  type        = bool
  default     = true
}

variable "db_enable_proxy" {
  description = "Put an RDS Proxy in front of the database. The proxy logs in with the RDS-managed master secret, so it needs db_auth_mode = \"secret\"."
  type        = bool
  default     = false

  validation {
    condition     = !var.db_enable_proxy || var.db_auth_mode == "secret"
    error_message = "db_enable_proxy = true needs db_auth_mode = \"secret\": the proxy authenticates with the master secret (an auth block valid under provider 5 and 6)."
  }
}

variable "db_auth_mode" {
  description = "How the functions log in to PostgreSQL: iam (RDS IAM tokens as db_app_user; least privilege, the role must exist) or secret (the RDS-managed master secret)."
  type        = string
  default     = "iam"

  validation {
    condition     = contains(["iam", "secret"], var.db_auth_mode)
    error_message = "db_auth_mode must be iam or secret."
  }
}

variable "db_app_user" {
  description = "PostgreSQL user the functions log in as with IAM authentication (created by the migrate function)."
  type        = string
  default     = "portcullis_app"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.db_app_user))
    error_message = "db_app_user must be a lower-case PostgreSQL identifier."
  }
}

# --- compute ---

variable "image_tags" {
  description = "Content tag of each workload image, by workload (`scripts/images.py tags`; make images pushes them, make deploy checks ECR holds them and passes them). Every workload platform.yaml builds from ECR needs one (the compute module names the missing)."
  type        = map(string)
  default     = {}
}

variable "alb_deletion_protection" {
  description = "Deletion protection on the internal ALB."
  type        = bool
  default     = true
}

variable "workload_cpu_architecture" {
  description = "CPU architecture of the ECS tasks (X86_64 or ARM64); make images builds the workload images for it."
  type        = string
  default     = "X86_64"
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete ECR repositories that still hold images (dev)."
  type        = bool
  default     = false
}

# --- functions ---

variable "lambda_artifacts_dir" {
  description = "Where cargo lambda wrote <name>/bootstrap.zip, relative to this folder."
  type        = string
  default     = "../target/lambda"
}

variable "identity_key_versions" {
  description = "Version of each service's identity-signing key, by service name (default 1). Raising one makes Terraform write a new random key into that service's secret (write-only: never in state); see docs/proxy.md#rotation."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for s, v in var.identity_key_versions : v >= 1 && floor(v) == v])
    error_message = "identity_key_versions values must be whole numbers >= 1 (raise one to rotate that service's key)."
  }
}

variable "log_retention_days" {
  description = "Retention of every log group (functions, tasks, API access logs, flow logs), in days."
  type        = number
  default     = 365
}

variable "log_level" {
  description = "Function log level: DEBUG, INFO, WARN or ERROR (TRACE is refused: the Lambda runtime would log raw events with credentials)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR. TRACE is refused: at TRACE the Lambda runtime logs every raw event (API keys, bearer tokens, request bodies) and the AWS SDK whole requests with their session tokens; DEBUG is the most verbose safe level."
  }
}

variable "cognito_jwks_json" {
  description = "Optional JWKS document pre-loaded into the authorizer (COGNITO_JWKS_JSON) so it never needs egress to Cognito; null lets it fetch the JWKS through the NAT."
  type        = string
  default     = null
  sensitive   = false
}

variable "cognito_group_scopes" {
  description = "Portcullis scopes granted to members of each Cognito group (COGNITO_GROUP_SCOPES of the authorizer)."
  type        = map(list(string))
  default = {
    admins = ["keys:admin", "jobs:read", "jobs:write"]
  }
}

variable "cognito_tenants" {
  description = "Tenants whose Cognito group tenant:<id> Terraform creates, besides platform_tenant's (always created). A Cognito user belongs to the tenant of its one tenant: group (docs/auth.md#tenancy)."
  type        = list(string)
  default     = []
}

variable "cognito_machine_client_tenant" {
  description = "Tenant of the machine (client-credentials) app client's tokens (COGNITO_CLIENT_TENANTS of the authorizer). null: its tokens are refused."
  type        = string
  default     = null

  validation {
    condition     = var.cognito_machine_client_tenant == null || can(regex("^[A-Za-z0-9._:@-]{1,128}$", var.cognito_machine_client_tenant))
    error_message = "cognito_machine_client_tenant must be a tenant id: 1 to 128 characters of ASCII letters, digits, '-', '_', '.', ':' or '@'."
  }
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long a warm authorizer keeps a verified credential (AUTH_CACHE_TTL_SECS, 0-3600; 0 = off). A revoked API key may keep working this long on a warm instance (docs/auth.md). Local runs use the dev value."
  type        = number
  default     = 10

  validation {
    condition     = var.authorizer_cache_ttl_seconds >= 0 && var.authorizer_cache_ttl_seconds <= 3600 && floor(var.authorizer_cache_ttl_seconds) == var.authorizer_cache_ttl_seconds
    error_message = "authorizer_cache_ttl_seconds must be a whole number of seconds between 0 and 3600."
  }
}

variable "function_role_trusted_principals" {
  description = "IAM principal ARNs allowed to assume every function role besides Lambda itself. Leave empty in AWS; the local environment (env/local) names the AWS emulator's administrator so the local gateway can run each function with its own role's credentials."
  type        = list(string)
  default     = []
}

variable "platform_tenant" {
  description = "Tenant whose keys:admin holders may manage every tenant's keys (PLATFORM_TENANT of the keys function)."
  type        = string
  default     = "platform"

  # Terraform names the tenant's usage key <prefix>tenant-<tenant> itself
  # (platform_users_usage_key in usage.tf), the form portcullis_auth::usage
  # gives such tenants.
  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,64}$", var.platform_tenant))
    error_message = "platform_tenant must be 1 to 64 ASCII letters, digits or '-'."
  }
}

variable "platform_user_plan" {
  description = "Usage plan (a platform.yaml usage_plans name) metering the platform tenant's Cognito users: Terraform creates their tenant's API Gateway usage key in it, so the first administrator can call the API right after the apply (other tenants' come from PUT /v1/tenants/{tenant})."
  type        = string
  default     = "standard"
}

# --- api ---

variable "stage_name" {
  description = "API Gateway stage name."
  type        = string
  default     = "v1"
}

variable "cors_allow_origins" {
  description = "Web origins allowed to call the API from a browser (exact scheme://host[:port]); with the hosted console's origin they become CORS_ALLOW_ORIGINS of the keys, jobs and proxy functions (docs/terraform.md#cors)."
  type        = list(string)
  default     = ["http://localhost:5173"]

  validation {
    condition     = alltrue([for o in var.cors_allow_origins : can(regex("^https?://([A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?$", o))])
    error_message = "cors_allow_origins must list exact origins such as https://app.example.com or http://localhost:5173 (http or https, a host, an optional port; no path, no trailing /, no *)."
  }
}

variable "api_throttle_rate_limit" {
  description = "Stage-wide request rate limit (requests per second)."
  type        = number
  default     = 100
}

variable "api_throttle_burst_limit" {
  description = "Stage-wide burst limit."
  type        = number
  default     = 200
}

variable "domain_name" {
  description = "Optional custom domain of the API (needs hosted_zone_id)."
  type        = string
  default     = null
}

variable "hosted_zone_id" {
  description = "Route 53 zone of domain_name."
  type        = string
  default     = null
}

variable "waf_acl_arn" {
  description = "Optional regional WAFv2 web ACL for the API stage."
  type        = string
  default     = null
}

variable "manage_apigateway_account" {
  description = "Manage the account-wide API Gateway CloudWatch role (set false if another stack owns it)."
  type        = bool
  default     = true
}

variable "private_api_enabled" {
  description = "Add a private REST API (endpoint type PRIVATE) for internal consumers, serving private_api_paths through an interface VPC endpoint for execute-api in the private subnets (private DNS on: inside the VPC every *.execute-api hostname, the public API's included, then goes through it; docs/terraform.md#private-api)."
  type        = bool
  default     = false
}

variable "private_api_paths" {
  description = "Paths of api/openapi.yaml the private API serves, written exactly as in the contract (e.g. [\"/v1/jobs\", \"/v1/jobs/{id}\"]): every operation of a chosen path, with its authorizer, integration and CORS preflight. Used when private_api_enabled."
  type        = list(string)
  default     = []

  validation {
    condition     = !var.private_api_enabled || length(var.private_api_paths) > 0
    error_message = "private_api_enabled needs private_api_paths: the contract paths the private API serves, e.g. [\"/v1/jobs\", \"/v1/jobs/{id}\", \"/v1/jobs/{id}/events\"]."
  }

  validation {
    condition     = alltrue([for p in var.private_api_paths : startswith(p, "/")])
    error_message = "private_api_paths are paths of api/openapi.yaml such as /v1/jobs/{id} (starting with /; no method, no stage)."
  }
}

# --- auth ---

variable "cognito_domain_prefix" {
  description = "Globally unique prefix of the Cognito hosted domain; null uses <project>-<environment>-<account id>."
  type        = string
  default     = null
}

variable "web_callback_urls" {
  description = "OAuth callback URLs of the web client."
  type        = list(string)
  default     = ["http://localhost:5173/callback"]
}

variable "web_logout_urls" {
  description = "Sign-out URLs of the web client."
  type        = list(string)
  default     = ["http://localhost:5173/"]
}

variable "cognito_deletion_protection" {
  description = "Deletion protection on the user pool."
  type        = bool
  default     = true
}

# --- events ---

variable "reconciler_schedule" {
  description = "Schedule of the reconciler."
  type        = string
  default     = "rate(1 minute)"
}

variable "alarm_email" {
  description = "Optional e-mail for alarm notifications."
  type        = string
  default     = null
}

variable "run_migrations" {
  description = "Invoke the migrate function on apply (after the database and the function exist)."
  type        = bool
  default     = true
}

variable "alarm_thresholds" {
  description = "Alarm thresholds (modules/observability; docs/observability.md#alarms): any left out keeps its default."
  type = object({
    api_5xx_rate_percent      = optional(number) # 5
    api_5xx_min_requests      = optional(number) # 20 per 5 minutes
    api_latency_p99_ms        = optional(number) # 3000
    alb_target_5xx_count      = optional(number) # 10 per 5 minutes
    ecs_below_desired_minutes = optional(number) # 10
    rds_cpu_percent           = optional(number) # 80
    rds_free_storage_bytes    = optional(number) # 2 GiB
    rds_connections           = optional(number) # 60
    job_failure_rate_percent  = optional(number) # 25
    job_failure_min_jobs      = optional(number) # 5 per 15 minutes
    api_key_count             = optional(number) # 9000 (quota 10,000)
    authorizer_error_count    = optional(number) # 0 per 5 minutes
  })
  default = {}
}

variable "alb_log_retention_days" {
  description = "Days the internal ALB's access logs are kept in their S3 bucket."
  type        = number
  default     = 90
}
