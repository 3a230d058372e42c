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
          route = m == "OPTIONS" && contains(keys(var.vpc_link_services), name) ? { path = path, methods = [m], public = true, scope = null, response_transfer_mode = null } : try([for r in s.routes : r if r.path == path && contains(r.methods, m)][0], {
            path = path, methods = [m], public = false, scope = s.scope, response_transfer_mode = null
          })
        }
      ]
    ]
  ])

  # integration: vpc_link services (var.vpc_link_services):
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
        route    = { path = "/{proxy+}", methods = [m], public = m == "OPTIONS", scope = m == "OPTIONS" ? null : s.scope, response_transfer_mode = null }
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
  # Credentials never reach a vpc_link service: an
  # http_proxy integration passes every client header it does not map, and
  # REST APIs have no "remove" for a proxy integration's request header (only
  # HTTP APIs' parameter mapping has remove:header), so each is overwritten
  # with a static value. A mapping replaces the client's header (API Gateway
  # Developer Guide, "Parameter mapping for REST APIs": integration request
  # header = a method request value or a static 'value'). The Cookie header
  # passes for a service with cookies: own_path (its kit keeps its cookies to
  # its own path); every other one gets it overwritten too.
  credential_headers = ["authorization", "x-api-key", "cookie"]
  removed_credential = "'portcullis-removed'"

  vpc_link_operations = [
    for o in concat([for o in local.declared_operations : o if o.vpc_link], local.vpc_link_proxy_operations) : merge(o, {
      integration = merge(
        {
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
            { for h in local.credential_headers : "integration.request.header.${h}" => local.removed_credential if h != "cookie" || var.vpc_link_services[o.service].cookies != "own_path" },
          )
        },
        # Response streaming (AWS: "Stream the integration response for your
        # proxy integrations in API Gateway"): the route's mode, else the
        # service's; BUFFERED is API Gateway's default and is not written.
        coalesce(try(o.route.response_transfer_mode, null), var.vpc_link_services[o.service].response_transfer_mode) == "STREAM" ? { responseTransferMode = "STREAM" } : {},
      )
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

  # Gateway responses live in the body, so every
  # PutRestApi (mode overwrite: Terraform's aws_api_gateway_rest_api.body)
  # carries them; separate PutGatewayResponse calls were reset by the next
  # overwrite ("items from an existing API that are not specifically defined
  # in the imported definition will be deleted": API Gateway Developer
  # Guide, "Update a REST API by importing an OpenAPI definition";
  # extension: "x-amazon-apigateway-gateway-responses object").
  #
  # CORS on API Gateway's own answers (no function sees them): a gateway
  # response can only map request values or literals into headers (no
  # condition, no VTL), so it cannot test an allowlist: it echoes the
  # request's Origin, whatever it is. The functions' answers and the
  # preflights do apply the allowlist (portcullis_core::cors); this is the
  # one place an unlisted origin gets Access-Control-Allow-Origin, on an
  # error answer that carries no data, and never with credentials
  # (docs/decisions.md, docs/terraform.md#cors).
  cors_expose_headers = try(local.document["x-portcullis-cors"].exposeHeaders, [])
  gateway_cors_headers = merge(
    {
      "gatewayresponse.header.Access-Control-Allow-Origin" = "method.request.header.Origin"
      "gatewayresponse.header.Vary"                        = "'Origin'"
    },
    length(local.cors_expose_headers) == 0 ? {} : {
      "gatewayresponse.header.Access-Control-Expose-Headers" = "'${join(", ", local.cors_expose_headers)}'"
    },
  )
  # Every response type a caller can meet here, problem+json like the
  # functions' own errors; status null: the type's own (DEFAULT_4XX/5XX).
  # $context.error.message is API Gateway's message; a detail written here
  # says what to do instead.
  gateway_response_types = {
    UNAUTHORIZED                   = { status = "401", title = "Unauthorized", detail = "$context.error.message" }
    ACCESS_DENIED                  = { status = "403", title = "Forbidden", detail = "$context.error.message" }
    THROTTLED                      = { status = "429", title = "Too Many Requests", detail = "$context.error.message" }
    QUOTA_EXCEEDED                 = { status = "429", title = "Quota exceeded", detail = "$context.error.message" }
    INVALID_API_KEY                = { status = "403", title = "Tenant not provisioned", detail = "The caller's tenant ($context.authorizer.tenant) has no usage plan yet, so API Gateway holds no usage key for it. Ask a platform administrator to PUT /v1/tenants/$context.authorizer.tenant (it provisions the tenant's usage key and plan), then call again." }
    MISSING_AUTHENTICATION_TOKEN   = { status = "403", title = "No such route or method", detail = "This API has no such path or no such method on it (API Gateway answers 403 Missing Authentication Token for both): check the method and the path, /v1/... under the stage." }
    REQUEST_TOO_LARGE              = { status = "413", title = "Request too large", detail = "$context.error.message" }
    INTEGRATION_TIMEOUT            = { status = "504", title = "Gateway timeout", detail = "$context.error.message" }
    AUTHORIZER_FAILURE             = { status = "500", title = "Authorizer failure", detail = "$context.error.message" }
    AUTHORIZER_CONFIGURATION_ERROR = { status = "500", title = "Authorizer configuration error", detail = "$context.error.message" }
    DEFAULT_4XX                    = { status = null, title = "Bad request", detail = "$context.error.message" }
    DEFAULT_5XX                    = { status = null, title = "Gateway error", detail = "$context.error.message" }
  }
  gateway_responses = {
    for type, r in local.gateway_response_types : type => merge(
      r.status == null ? {} : { statusCode = r.status },
      {
        responseParameters = local.gateway_cors_headers
        responseTemplates = {
          "application/json"         = jsonencode({ type = "about:blank", title = r.title, detail = r.detail, request_id = "$context.requestId" })
          "application/problem+json" = jsonencode({ type = "about:blank", title = r.title, detail = r.detail, request_id = "$context.requestId" })
        }
      },
    )
  }

  body = merge(
    {
      for key, value in local.document : key => value
      if !contains(["paths", "components"], key) && length([for p in var.strip_extension_prefixes : p if startswith(key, p)]) == 0
    },
    { components = local.components },
    { paths = { for path, item in local.paths : path => merge(try(local.function_preflight[path], {}), item) } },
    { "x-amazon-apigateway-gateway-responses" = local.gateway_responses },
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
