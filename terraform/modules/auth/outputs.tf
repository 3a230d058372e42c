output "user_pool_id" {
  description = "ID of the Cognito user pool."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "ARN of the Cognito user pool."
  value       = aws_cognito_user_pool.this.arn
}

output "issuer" {
  description = "JWT issuer the authorizer pins (COGNITO_ISSUER)."
  value       = "https://cognito-idp.${data.aws_region.current.name}.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

output "jwks_url" {
  description = "URL of the pool's JSON Web Key Set."
  value       = "https://cognito-idp.${data.aws_region.current.name}.amazonaws.com/${aws_cognito_user_pool.this.id}/.well-known/jwks.json"
}

output "web_client_id" {
  description = "App client for browsers (authorization code + PKCE)."
  value       = aws_cognito_user_pool_client.web.id
}

output "machine_client_id" {
  description = "App client for machines (client credentials)."
  value       = aws_cognito_user_pool_client.machine.id
}

output "tenant_groups" {
  description = "Tenant id => its Cognito group (tenant:<id>); add a user with aws cognito-idp admin-add-user-to-group."
  value       = { for t, g in aws_cognito_user_group.tenant : t => g.name }
}

output "machine_client_secret" {
  description = "Secret of the machine client."
  value       = aws_cognito_user_pool_client.machine.client_secret
  sensitive   = true
}

output "hosted_ui_domain" {
  description = "Hosted UI / OAuth2 domain (token endpoint: https://<domain>/oauth2/token)."
  value       = "${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.name}.amazoncognito.com"
}

output "resource_server_identifier" {
  description = "Prefix of the Cognito scopes (<identifier>/jobs.read)."
  value       = aws_cognito_resource_server.this.identifier
}
