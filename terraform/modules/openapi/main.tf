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
  # value is the authorizer's usageIdentifierKey (the consumer's own usage
  # key: the API key's, or its tenant's for Cognito principals;
  # portcullis_auth::usage), never the x-api-key header.
  # Unsecured operations (/v1/health) and the OPTIONS preflights are left alone.
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

  # CORS preflights: every path whose operations integrate a Lambda gets an
  # unauthenticated OPTIONS operation with that Lambda's integration (the
  # integration of its first such operation), and the function answers the
  # preflight with its CORS policy (portcullis_core::cors: the origin
  # allowlist of CORS_ALLOW_ORIGINS, the route's methods). A path served by
  # x-amazon-apigateway-any-method gets one too: API Gateway prefers an
  # explicit method to ANY, and ANY carries the authorizer, which a preflight
  # (sent without credentials) would fail. No MOCK: it can return one static
  # origin only, and the emulator's importer refuses it (500). An "options"
  # operation the document declares itself wins.
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
    if length([
      for method, operation in item : method if can(operation["x-amazon-apigateway-integration"].uri)
    ]) > 0
  }

  body = merge(
    {
      for key, value in local.document : key => value
      if !contains(["paths", "components"], key) && length([for p in var.strip_extension_prefixes : p if startswith(key, p)]) == 0
    },
    { components = local.components },
    { paths = { for path, item in local.paths : path => merge(try(local.function_preflight[path], {}), item) } },
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
