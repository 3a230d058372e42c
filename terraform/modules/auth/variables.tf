variable "name" {
  description = "Name prefix of every resource (project-environment)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "domain_prefix" {
  description = "Prefix of the Cognito hosted domain (<prefix>.auth.<region>.amazoncognito.com); globally unique."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.domain_prefix)) && !strcontains(var.domain_prefix, "aws") && !strcontains(var.domain_prefix, "cognito")
    error_message = "domain_prefix must be lower-case letters, digits and hyphens, and may not contain 'aws' or 'cognito'."
  }
}

variable "resource_server_identifier" {
  description = "Identifier of the resource server; scopes read <identifier>/<scope>."
  type        = string
  default     = "portcullis"
}

variable "scopes" {
  description = "Resource-server scopes, by name, with their description; the authorizer maps <identifier>/jobs.read to the Portcullis scope jobs:read."
  type        = map(string)
  default = {
    "jobs.read"  = "Read jobs"
    "jobs.write" = "Submit and cancel jobs"
  }
}

variable "service_scopes" {
  description = "Private services (platform.yaml) and their route scopes: each entry (<name> or <name>.<word>) gets the scope services.<entry> (Portcullis scope services:<entry>)."
  type        = list(string)
  default     = []

  # Cognito: a resource server holds at most 100 custom scopes
  # (CreateResourceServer, Scopes: "Array Members: Maximum number of 100
  # items"; Amazon Cognito API Reference).
  validation {
    condition     = length(distinct(concat(keys(var.scopes), [for s in var.service_scopes : "services.${s}"]))) <= 100
    error_message = "The Cognito resource server would hold ${length(distinct(concat(keys(var.scopes), [for s in var.service_scopes : "services.${s}"])))} scopes (${length(var.scopes)} platform scopes + one per deployed service and route scope in platform.yaml); Cognito allows at most 100 per resource server (Amazon Cognito API Reference, CreateResourceServer: Scopes, \"Maximum number of 100 items\", https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateResourceServer.html). Use fewer route scopes or services."
  }

  # ... and an app client allows at most 50 OAuth scopes (CreateUserPoolClient,
  # AllowedOAuthScopes: "Array Members: Maximum number of 50 items"). The web
  # client allows openid, email and profile plus every resource-server scope.
  validation {
    condition     = 3 + length(distinct(concat(keys(var.scopes), [for s in var.service_scopes : "services.${s}"]))) <= 50
    error_message = "The Cognito web client would allow ${3 + length(distinct(concat(keys(var.scopes), [for s in var.service_scopes : "services.${s}"])))} OAuth scopes (openid, email, profile and every resource-server scope: ${length(var.scopes)} platform scopes + one per deployed service and route scope in platform.yaml); Cognito allows at most 50 per app client (Amazon Cognito API Reference, CreateUserPoolClient: AllowedOAuthScopes, \"Maximum number of 50 items\", https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html). Use fewer route scopes or services."
  }
}

variable "web_callback_urls" {
  description = "OAuth redirect URLs of the web client (authorization code + PKCE)."
  type        = list(string)

  validation {
    condition     = length(var.web_callback_urls) > 0
    error_message = "Give at least one web callback URL (e.g. http://localhost:5173/callback)."
  }
}

variable "web_logout_urls" {
  description = "Sign-out redirect URLs of the web client."
  type        = list(string)
  default     = []
}

variable "machine_scopes" {
  description = "Scope names (keys of var.scopes) the machine client may request with client credentials."
  type        = list(string)
  default     = ["jobs.read", "jobs.write"]

  validation {
    condition     = length(var.machine_scopes) <= 50
    error_message = "machine_scopes: at most 50 (Amazon Cognito API Reference, CreateUserPoolClient: AllowedOAuthScopes, \"Maximum number of 50 items\")."
  }
}

variable "tenants" {
  description = "Tenant ids; each gets the group tenant:<id>, whose members belong to that tenant (the authorizer's only source of a user's tenant)."
  type        = list(string)
  default     = []

  validation {
    # The tenant rule (portcullis_auth::Tenant) within Cognito's 128-character group names.
    condition     = alltrue([for t in var.tenants : can(regex("^[A-Za-z0-9._:@-]{1,121}$", t))])
    error_message = "Each tenant must be 1 to 121 characters of ASCII letters, digits, '-', '_', '.', ':' or '@' (the group tenant:<id> has at most 128)."
  }
}

variable "deletion_protection" {
  description = "Protect the user pool from deletion."
  type        = bool
  default     = true
}
