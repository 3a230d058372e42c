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

  # Declared service routes (var.service_routes, platform.yaml
  # services.<name>.routes): /v1/services/<name><path>, one operation per
  # method with the generic service route's integration (the proxy Lambda).
  # API Gateway prefers these literal paths to /v1/services/{service}/{proxy+}.
  # A public operation has no security: API Gateway calls no authorizer and
  # wants no API key. A scoped one has the usual security (the api_key
  # rewrite below applies) and its own x-portcullis-scope.
  generic_service_path = "/v1/services/{service}/{proxy+}"
  service_integration  = try(local.document.paths[local.generic_service_path]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"], null)
  # Every method of the service is on each declared path (API Gateway picks
  # the resource by path first and never falls back to the generic path for
  # a method the literal one lacks): the undeclared ones (OPTIONS aside: the
  # preflight below) need the service's scope, as on the generic path.
  declared_operations = flatten([
    for name, s in var.service_routes : [
      for path in distinct([for r in s.routes : r.path]) : [
        for m in distinct(concat([for m in s.methods : m if m != "OPTIONS"], flatten([for r in s.routes : r.methods if r.path == path]))) : {
          path   = "/v1/services/${name}${path}"
          method = lower(m)
          route = try([for r in s.routes : r if r.path == path && contains(r.methods, m)][0], {
            path = path, methods = [m], public = false, scope = s.scope
          })
        }
      ]
    ]
  ])
  declared_paths = {
    for path, ops in { for o in local.declared_operations : o.path => o... } : path => {
      for o in ops : o.method => merge(
        {
          summary                           = coalesce(o.route.public, false) ? "Public route: forwarded by the proxy without a credential." : "Route needing ${o.route.scope}: forwarded by the proxy."
          parameters                        = [for p in regexall("\\{([A-Za-z0-9_]+)\\+?\\}", o.route.path) : { name = p[0], "in" = "path", required = true, schema = { type = "string" } }]
          responses                         = { "200" = { description = "The service's answer." } }
          "x-amazon-apigateway-integration" = local.service_integration
        },
        { for k, v in { security = [] } : k => v if coalesce(o.route.public, false) },
        { for k, v in { security = [{ portcullis = [] }], "x-portcullis-scope" = o.route.scope } : k => v if !coalesce(o.route.public, false) },
      )
    }
  }
  all_paths = merge(local.document.paths, local.declared_paths)

  # Operation-level keys are stripped one level down; path items only hold
  # operations (get, post, ..., x-amazon-apigateway-any-method). A for
  # expression's value is evaluated only where its condition holds, so the
  # security rewrite below never sees a non-list value.
  paths = {
    for path, item in local.all_paths : path => {
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
    for path, item in local.all_paths : path => {
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
    for path, item in local.all_paths : [
      for method, operation in item : {
        path   = path
        method = method == "x-amazon-apigateway-any-method" ? "ANY" : upper(method)
        uri    = try(operation["x-amazon-apigateway-integration"].uri, "")
      }
    ]
  ])
}
