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
