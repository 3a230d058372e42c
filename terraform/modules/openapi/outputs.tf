output "body" {
  description = "The rendered OpenAPI document as JSON, ready for aws_api_gateway_rest_api.body."
  value       = jsonencode(local.body)
}

output "routes" {
  description = "Every operation of the document: path, method (ANY for x-amazon-apigateway-any-method) and integration URI."
  value       = local.routes
}

output "cors" {
  description = "The document's x-portcullis-cors block (allowHeaders, exposeHeaders, maxAgeSeconds, allowCredentials): what the root passes to the HTTP functions (CORS_*) and the gateway responses; null when absent."
  value       = try(local.document["x-portcullis-cors"], null)
}

output "path_function_arns" {
  description = "Per path of the body, the Lambda function ARNs its operations invoke (aws_proxy integrations, their preflight, and the authorizer when an operation is secured). Known at plan even while the VPC link integrations are not (the Lambda permissions are keyed on it)."
  value       = local.path_function_arns
}

output "service_paths" {
  description = "The body's literal service paths (/v1/services/<name>/...: declared routes and the vpc_link services' {proxy+} paths), which API Gateway prefers to /v1/services/{service}/{proxy+}."
  value       = sort([for path in keys(local.declared_paths) : path])
}

output "gateway_responses" {
  description = "The body's x-amazon-apigateway-gateway-responses (response type => statusCode, responseParameters, responseTemplates): problem+json bodies with the CORS headers, on the public and the private API (both bodies hold them)."
  value       = local.gateway_responses
}
