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
  # method. A lambda service's take the generic service route's integration
  # (the proxy Lambda); a vpc_link service's the VPC link integration below.
  # API Gateway prefers these literal paths to /v1/services/{service}/{proxy+}.
  # A public operation has no security: API Gateway calls no authorizer and
  # wants no API key. A scoped one has the usual security (the api_key
  # rewrite below applies) and its own x-portcullis-scope.
  generic_service_path = "/v1/services/{service}/{proxy+}"
  service_integration  = try(local.document.paths[local.generic_service_path]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"], null)
  # Every method of the service is on each declared path (API Gateway picks
  # the resource by path first and never falls back to the generic path for
  # a method the literal one lacks): the undeclared ones need the service's
  # scope, as on the generic path. OPTIONS: a lambda service's preflight is
  # the proxy's (function_preflight below); a vpc_link service that lists
  # OPTIONS answers it itself, as a public operation (a preflight carries no
  # credential).
  declared_operations = flatten([
    for name, s in var.service_routes : [
      for path in distinct([for r in s.routes : r.path]) : [
        for m in distinct(concat([for m in s.methods : m if m != "OPTIONS" || contains(keys(var.vpc_link_services), name)], flatten([for r in s.routes : r.methods if r.path == path]))) : {
          service  = name
          vpc_link = contains(keys(var.vpc_link_services), name)
          path     = "/v1/services/${name}${path}"
          method   = lower(m)
          route = m == "OPTIONS" && contains(keys(var.vpc_link_services), name) ? { path = path, methods = [m], public = true, scope = null } : try([for r in s.routes : r if r.path == path && contains(r.methods, m)][0], {
            path = path, methods = [m], public = false, scope = s.scope
          })
        }
      ]
    ]
  ])

  # integration: vpc_link services (var.vpc_link_services, issue 13 item 1):
  # the literal /v1/services/<name>/{proxy+} (any method, the authorizer and
  # the service's scope) besides the declared routes, every operation an
  # http_proxy integration over the VPC link (v2) to the internal ALB:
  # uri http://<ALB DNS><path_prefix><the route's path>, path parameters
  # mapped, and the seven identity headers set from the authorizer's context
  # (it signs them for the service: portcullis_identity, UNSIGNED-PAYLOAD as
  # the body digest since a REQUEST authorizer never sees the body). A client's
  # own copies of these headers are always overwritten: a mapping replaces the
  # header, and a public operation (no authorizer runs) maps them to the
  # static anonymous identity, which the service treats as anonymous as it
  # does any identity that does not verify.
  vpc_link_proxy_operations = flatten([
    for name, s in var.vpc_link_services : [
      # One operation per method the service lists, not ANY: a method it
      # does not list never reaches it (API Gateway answers 403 Missing
      # Authentication Token, as for any method a resource lacks), as the
      # proxy refuses one for a lambda service. OPTIONS is public (a
      # preflight carries no credential) and the service answers it.
      for m in s.methods : {
        service  = name
        vpc_link = true
        path     = "/v1/services/${name}/{proxy+}"
        method   = lower(m)
        route    = { path = "/{proxy+}", methods = [m], public = m == "OPTIONS", scope = m == "OPTIONS" ? null : s.scope }
      }
    ]
  ])
  identity_headers = {
    "x-portcullis-principal"      = { signed = "context.authorizer.principal_id", anonymous = "'anonymous'" }
    "x-portcullis-principal-type" = { signed = "context.authorizer.principal_type", anonymous = "'anonymous'" }
    "x-portcullis-tenant"         = { signed = "context.authorizer.tenant", anonymous = "'(none)'" }
    "x-portcullis-scopes"         = { signed = "context.authorizer.scopes", anonymous = "'-'" }
    "x-portcullis-timestamp"      = { signed = "context.authorizer.identity_timestamp", anonymous = "'0'" }
    "x-portcullis-signature"      = { signed = "context.authorizer.identity_signature", anonymous = "'none'" }
    "x-portcullis-content-sha256" = { signed = "'UNSIGNED-PAYLOAD'", anonymous = "'UNSIGNED-PAYLOAD'" }
  }
  vpc_link_operations = [
    for o in concat([for o in local.declared_operations : o if o.vpc_link], local.vpc_link_proxy_operations) : merge(o, {
      integration = {
        type              = "http_proxy"
        httpMethod        = o.method == "x-amazon-apigateway-any-method" ? "ANY" : upper(o.method)
        connectionType    = "VPC_LINK"
        connectionId      = var.vpc_link.connection_id
        integrationTarget = var.vpc_link.integration_target
        uri               = "http://${var.vpc_link.alb_dns_name}${var.vpc_link_services[o.service].path_prefix}${replace(o.route.path, "/\\{([A-Za-z0-9_]+)\\+\\}/", "{$1}")}"
        timeoutInMillis   = var.vpc_link_services[o.service].timeout_ms
        requestParameters = merge(
          { for p in regexall("\\{([A-Za-z0-9_]+)\\+?\\}", o.route.path) : "integration.request.path.${p[0]}" => "method.request.path.${p[0]}" },
          { for h, v in local.identity_headers : "integration.request.header.${h}" => coalesce(o.route.public, false) ? v.anonymous : v.signed },
        )
      }
    })
  ]

  declared_paths = {
    for path, ops in { for o in concat([for o in local.declared_operations : merge(o, { integration = local.service_integration }) if !o.vpc_link], local.vpc_link_operations) : o.path => o... } : path => {
      for o in ops : o.method => merge(
        {
          summary                           = "${coalesce(o.route.public, false) ? "Public route" : "Route needing ${o.route.scope}"}: ${o.vpc_link ? "forwarded over the VPC link to the service" : "forwarded by the proxy"}${coalesce(o.route.public, false) ? " without a credential" : ""}."
          parameters                        = [for p in regexall("\\{([A-Za-z0-9_]+)\\+?\\}", o.route.path) : { name = p[0], "in" = "path", required = true, schema = { type = "string" } }]
          responses                         = { "200" = { description = "The service's answer." } }
          "x-amazon-apigateway-integration" = o.integration
        },
        { for k, v in { security = [] } : k => v if coalesce(o.route.public, false) },
        { for k, v in { security = [{ portcullis = [] }], "x-portcullis-scope" = o.route.scope } : k => v if !coalesce(o.route.public, false) },
      )
    }
  }
  # The paths whose operations integrate Lambdas (everything but the VPC
  # link paths): the CORS preflights below are theirs.
  lambda_paths = merge(local.document.paths, { for path, item in local.declared_paths : path => item if !contains([for o in local.vpc_link_operations : o.path], path) })
  all_paths    = merge(local.document.paths, local.declared_paths)

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

  # CORS preflights: every path whose operations integrate a Lambda
  # (type aws_proxy: an http_proxy integration has a uri too, and its service
  # answers OPTIONS itself when it lists the method) gets an
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
    for path, item in local.lambda_paths : path => {
      options = {
        summary   = "CORS preflight (answered by the path's function, no authorizer)"
        security  = []
        responses = { "204" = { description = "CORS preflight accepted" } }
        "x-amazon-apigateway-integration" = [
          for method, operation in item : operation["x-amazon-apigateway-integration"]
          if lower(try(operation["x-amazon-apigateway-integration"].type, "")) == "aws_proxy"
        ][0]
      }
    }
    if length([
      for method, operation in item : method if lower(try(operation["x-amazon-apigateway-integration"].type, "")) == "aws_proxy"
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

  # The Lambda ARNs each path invokes: its aws_proxy integrations (and their
  # preflight) and the authorizer when an operation is secured. Read from the
  # document and the declared Lambda routes only, never from the VPC link
  # integrations, so it is known at plan even when the VPC link and the ALB
  # are not made yet (the Lambda permissions are keyed on it).
  authorizer_function_arns = distinct(flatten([
    for name, scheme in try(local.document.components.securitySchemes, {}) : regexall("/functions/(.+)/invocations$", try(scheme["x-amazon-apigateway-authorizer"].authorizerUri, ""))[*][0]
  ]))
  path_function_arns = merge(
    {
      for path, item in local.lambda_paths : path => distinct(concat(
        flatten([for method, operation in item : regexall("/functions/(.+)/invocations$", operation["x-amazon-apigateway-integration"].uri)[*][0] if lower(try(operation["x-amazon-apigateway-integration"].type, "")) == "aws_proxy"]),
        anytrue([for method, operation in item : anytrue([for r in try(operation.security, []) : contains(keys(r), "portcullis")])]) ? local.authorizer_function_arns : [],
      ))
    },
    {
      for path, ops in { for o in local.vpc_link_operations : o.path => o... } : path => anytrue([for o in ops : !coalesce(o.route.public, false)]) ? local.authorizer_function_arns : []
    },
  )
}
