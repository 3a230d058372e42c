# Renders api/openapi.yaml into the JSON body of the REST API.
#
# - YAML comment lines are dropped before templating: they may mention
#   placeholders such as "$${<fn>_function_arn}" that are not valid template
#   syntax.
# - Portcullis' own vendor extensions (x-portcullis-*) are removed: they are
#   read by the authorizer and the local gateway, not by API Gateway, whose
#   importer warns on extensions it does not know.
locals {
  source = join("\n", [
    for line in split("\n", file(var.source_path)) : line
    if !startswith(trimspace(line), "#")
  ])

  document = yamldecode(templatestring(local.source, var.template_vars))

  # Usage plans: API Gateway applies a usage plan's throttle and quota to a
  # method only when it has apiKeyRequired, which the importer sets for an
  # operation whose security requirement names an apiKey scheme that is not a
  # custom authorizer. So every secured operation (one whose requirement names
  # "portcullis") gets "api_key" in the SAME requirement object (AND):
  # {portcullis: [], api_key: []}. With api_key_source = AUTHORIZER the key
  # value is the authorizer's usageIdentifierKey (the key's plan, or
  # DEFAULT_USAGE_PLAN for Cognito principals), never the x-api-key header.
  # Unsecured operations (/v1/health) and the OPTIONS mocks are left alone.
  api_key_scheme = {
    api_key = { type = "apiKey", name = "x-api-key", in = "header" }
  }

  # Operation-level keys are stripped one level down; path items only hold
  # operations (get, post, ..., x-amazon-apigateway-any-method). A for
  # expression's value is evaluated only where its condition holds, so the
  # security rewrite below never sees a non-list value.
  paths = {
    for path, item in local.document.paths : path => {
      for method, operation in item : method => merge(
        {
          for key, value in operation : key => value
          if length([for p in var.strip_extension_prefixes : p if startswith(key, p)]) == 0
        },
        {
          for key, value in operation : key => [
            for requirement in value : merge(requirement, {
              for name, scopes in { api_key = [] } : name => scopes
              if contains(keys(requirement), "portcullis")
            })
          ]
          if key == "security"
        },
      )
    }
  }

  components = merge(try(local.document.components, {}), {
    securitySchemes = merge(try(local.document.components.securitySchemes, {}), local.api_key_scheme)
  })

  # CORS preflight in AWS. Nothing answers OPTIONS there unless the body says
  # so (the local gateway answers preflights itself), so every path gets an
  # unauthenticated OPTIONS operation with a MOCK integration, built from the
  # document's x-portcullis-cors block. A mock can only return static headers:
  # Access-Control-Allow-Origin is ONE origin, the cors_allow_origin template
  # value (var.cors_allow_origins[0] at the root) or else allowOrigins[0].
  # An operation the document itself declares under "options" wins.
  cors = try(local.document["x-portcullis-cors"], null)
  cors_response_headers = local.cors == null ? {} : {
    "Access-Control-Allow-Origin"  = lookup(var.template_vars, "cors_allow_origin", try(local.cors.allowOrigins[0], "*"))
    "Access-Control-Allow-Methods" = join(",", try(local.cors.allowMethods, ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]))
    "Access-Control-Allow-Headers" = join(",", try(local.cors.allowHeaders, ["authorization", "content-type"]))
    "Access-Control-Max-Age"       = tostring(try(local.cors.maxAgeSeconds, 600))
  }
  preflight = {
    summary  = "CORS preflight (answered by API Gateway, no authorizer)"
    security = []
    responses = {
      "204" = {
        description = "CORS preflight accepted"
        headers     = { for name, _ in local.cors_response_headers : name => { schema = { type = "string" } } }
      }
    }
    "x-amazon-apigateway-integration" = {
      type             = "mock"
      requestTemplates = { "application/json" = "{\"statusCode\": 200}" }
      responses = {
        default = {
          statusCode = "204"
          responseParameters = {
            for name, value in local.cors_response_headers : "method.response.header.${name}" => "'${value}'"
          }
        }
      }
    }
  }

  # { options = ... }, or {} when the document has no x-portcullis-cors.
  preflight_operation = { for method, op in { options = local.preflight } : method => op if local.cors != null }

  # cors_preflight = "function": OPTIONS goes, unauthenticated, to the Lambda
  # that serves the path (the integration of its first operation), which
  # answers the preflight with its origin allowlist. No MOCK: it can only
  # return one static origin, and the emulator's importer refuses it (500).
  # A path with x-amazon-apigateway-any-method already routes OPTIONS there.
  function_preflight = {
    for path, item in local.document.paths : path => {
      options = {
        summary   = "CORS preflight (answered by the path's function, no authorizer)"
        security  = []
        responses = { "204" = { description = "CORS preflight accepted" } }
        "x-amazon-apigateway-integration" = [
          for method, operation in item : operation["x-amazon-apigateway-integration"]
          if can(operation["x-amazon-apigateway-integration"].uri)
        ][0]
      }
    }
    if local.cors != null && !contains(keys(item), "x-amazon-apigateway-any-method") && length([
      for method, operation in item : method if can(operation["x-amazon-apigateway-integration"].uri)
    ]) > 0
  }

  body = merge(
    {
      for key, value in local.document : key => value
      if !contains(["paths", "components"], key) && length([for p in var.strip_extension_prefixes : p if startswith(key, p)]) == 0
    },
    { components = local.components },
    { paths = { for path, item in local.paths : path => merge([local.preflight_operation, try(local.function_preflight[path], {})][var.cors_preflight == "mock" ? 0 : 1], item) } },
  )

  # method + path of every operation, for outputs and the tests.
  routes = flatten([
    for path, item in local.document.paths : [
      for method, operation in item : {
        path   = path
        method = method == "x-amazon-apigateway-any-method" ? "ANY" : upper(method)
        uri    = try(operation["x-amazon-apigateway-integration"].uri, "")
      }
    ]
  ])
}
