# The web console in AWS: web/ in a private S3 bucket
# behind CloudFront (modules/web), its config.json rendered from this root's
# outputs. docs/web.md says what the console does; modules/web/README.md what
# the module creates.

variable "web_console_enabled" {
  description = "Host the web console (web/) in S3 + CloudFront and add its origin to the CORS allowlist and the Cognito web client's callback and logout URLs. Off in the local environment: the emulator lacks CloudFront response headers policies, and scripts/web-serve.py serves the console there."
  type        = bool
  default     = true
}

locals {
  # The console's origin, when hosted: what the API's CORS allowlist and the
  # Cognito web client's callback and logout URLs must name besides the
  # configured ones. The CORS allowlist is wired where it is consumed:
  # concat(var.cors_allow_origins, local.web_origins).
  web_origins       = var.web_console_enabled ? [module.web[0].origin] : []
  web_callback_urls = distinct(concat(var.web_callback_urls, [for o in local.web_origins : "${o}/callback"]))
  web_logout_urls   = distinct(concat(var.web_logout_urls, [for o in local.web_origins : "${o}/"]))

  # config.json of the hosted console (the same document scripts/web-serve.py
  # writes locally; shape in docs/web.md).
  web_config = {
    environment = var.environment
    apiBaseUrl  = module.api.invoke_url
    cognito     = { region = local.region, clientId = module.auth.web_client_id }
    pollSeconds = 3
    jobTypes = {
      for name, j in merge({}, try(local.platform.jobs, {})) : name => {
        description = try(j.description, "")
        scope       = try(j.scope, "jobs:write")
        overrides = {
          args   = try(j.overrides.args, false)
          env    = try(j.overrides.env, [])
          cpu    = try(j.overrides.cpu, null)
          memory = try(j.overrides.memory, null)
        }
      }
    }
    services = {
      for name, s in merge({}, try(local.platform.services, {})) : name => {
        description = try(s.description, "")
        scope       = try(s.scope, "services:${name}")
        methods     = try(s.methods, ["GET"])
      }
    }
    usagePlans = { for name, p in local.usage_plans : name => { description = p.description } }
  }
}

module "web" {
  source = "./modules/web"
  count  = var.web_console_enabled ? 1 : 0

  name        = local.name
  tags        = local.tags
  source_dir  = "${local.repo_root}/web"
  config_json = jsonencode(local.web_config)
  connect_origins = [
    var.domain_name != null ? "https://${var.domain_name}" : "https://*.execute-api.${local.region}.amazonaws.com",
    "https://cognito-idp.${local.region}.amazonaws.com",
  ]
}

output "web_console_url" {
  description = "URL of the hosted web console (null when web_console_enabled is false)."
  value       = var.web_console_enabled ? module.web[0].url : null
}

output "web_console_bucket" {
  description = "Private S3 bucket of the web console's files (null when web_console_enabled is false)."
  value       = var.web_console_enabled ? module.web[0].bucket_name : null
}
