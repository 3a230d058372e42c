data "aws_region" "current" {}

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  deletion_protection      = var.deletion_protection ? "ACTIVE" : "INACTIVE"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 14
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  # No custom attribute: a user's tenant is its `tenant:<id>` group (below),
  # which only administrators change; an attribute would be the user's to
  # rewrite (docs/auth.md#tenancy).

  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  tags = var.tags
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_resource_server" "this" {
  identifier   = var.resource_server_identifier
  name         = "${var.name}-api"
  user_pool_id = aws_cognito_user_pool.this.id

  dynamic "scope" {
    for_each = local.scopes
    content {
      scope_name        = scope.key
      scope_description = scope.value
    }
  }
}

locals {
  # keys:admin is never an OAuth scope: it comes only from the admins group
  # (COGNITO_GROUP_SCOPES), so no sign-in can simply ask for it.
  scopes         = merge(var.scopes, { for s in var.service_scopes : "services.${s}" => "Call the private service ${s}" })
  all_scopes     = [for s in keys(local.scopes) : "${var.resource_server_identifier}/${s}"]
  machine_scopes = [for s in var.machine_scopes : "${var.resource_server_identifier}/${s}"]
}

# Browser client: authorization code + PKCE, no secret.
resource "aws_cognito_user_pool_client" "web" {
  name                                 = "${var.name}-web"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = concat(["openid", "email", "profile"], local.all_scopes)
  # Explicit, so a user can never write more than its display name (unset:
  # every writable attribute). The e-mail is the sign-in name: administrators
  # change it (admin-update-user-attributes).
  read_attributes              = ["email", "email_verified", "name"]
  write_attributes             = ["name"]
  callback_urls                = var.web_callback_urls
  logout_urls                  = var.web_logout_urls
  supported_identity_providers = ["COGNITO"]
  # ADMIN_USER_PASSWORD_AUTH needs AWS credentials (cognito-idp:AdminInitiateAuth):
  # it lets an operator get a token from the CLI (docs/deploy.md).
  # USER_PASSWORD_AUTH: the web console signs in with InitiateAuth over TLS
  # (docs/web.md: moto's SRP accepts any answer, so only password auth is
  # checked alike locally and in AWS).
  explicit_auth_flows           = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  access_token_validity         = 60
  id_token_validity             = 60
  refresh_token_validity        = 30

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }

  depends_on = [aws_cognito_resource_server.this]
}

# Machine client: client credentials with a secret.
resource "aws_cognito_user_pool_client" "machine" {
  name                                 = "${var.name}-machine"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = local.machine_scopes
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  access_token_validity                = 60

  token_validity_units {
    access_token = "minutes"
  }

  depends_on = [aws_cognito_resource_server.this]
}

# A role group: its scopes come from the authorizer's COGNITO_GROUP_SCOPES.
# keys:admin in the member's own tenant; across tenants only for members of
# the platform tenant's group too (docs/auth.md#tenancy).
resource "aws_cognito_user_group" "admins" {
  name         = "admins"
  user_pool_id = aws_cognito_user_pool.this.id
  description  = "Portcullis administrators (keys:admin in their own tenant)"
}

# Tenant groups: a member of `tenant:acme` belongs to the tenant acme. A user
# must be in exactly one (the authorizer refuses none or several).
resource "aws_cognito_user_group" "tenant" {
  for_each = toset(var.tenants)

  name         = "tenant:${each.value}"
  user_pool_id = aws_cognito_user_pool.this.id
  description  = "Members of the Portcullis tenant ${each.value}"
}
