variable "source_path" {
  description = "Path of the OpenAPI document (api/openapi.yaml) rendered into the REST API body."
  type        = string

  validation {
    condition     = can(regex("\\.ya?ml$", var.source_path))
    error_message = "source_path must name a .yaml or .yml file."
  }
}

variable "template_vars" {
  description = "Values for the $${...} placeholders of the document: region, <fn>_function_arn."
  type        = map(string)
}

variable "strip_extension_prefixes" {
  description = "Vendor extension prefixes removed before the body reaches API Gateway (keys API Gateway does not know)."
  type        = list(string)
  default     = ["x-portcullis-"]
}

variable "service_routes" {
  description = "platform.yaml services.<name>.routes with the service's methods (terraform/locals.tf): each route becomes the path /v1/services/<name><path> with one operation per method integrating the generic service route's Lambda; public ones without security (no authorizer, no API key), the others with the usual security and x-portcullis-scope = the route's scope. Validated as shared/platform validates them."
  type = map(object({
    methods = list(string)
    scope   = string # the service's: its undeclared methods on a declared path
    routes = list(object({
      path    = string
      methods = list(string)
      public  = optional(bool)
      scope   = optional(string)
      # vpc_link services only: BUFFERED | STREAM (null: the service's).
      response_transfer_mode = optional(string)
    }))
  }))
  default = {}

  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : can(regex("^(/([A-Za-z0-9._~-]+|\\{[A-Za-z0-9_]+\\}))*(/\\{[A-Za-z0-9_]+\\+\\})?$", r.path)) && r.path != "" && !can(regex("(^|/)[.]{1,2}(/|$)", r.path)) && !strcontains(r.path, "{service}")
      ]
    ]))
    error_message = "services.<name>.routes[].path: a path relative to the service, such as /items, /items/{id} or /files/{proxy+}: '/'-separated segments of A-Za-z0-9._~- or {param} (not {service}), a greedy {param+} only last, no empty, '.' or '..' segment, no trailing '/'."
  }

  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : length(r.methods) > 0 && length(setsubtract(r.methods, s.methods)) == 0
      ]
    ]))
    error_message = "services.<name>.routes[].methods: at least one, each one of the service's methods."
  }

  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : (coalesce(r.public, false) && r.scope == null) || (!coalesce(r.public, false) && r.scope != null)
      ]
    ]))
    error_message = "services.<name>.routes[]: a route is either public: true or has a scope, not both and not neither."
  }

  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : !coalesce(r.public, false) || length(setintersection(r.methods, ["POST", "PUT", "PATCH", "DELETE"])) == 0
      ]
    ]))
    error_message = "services.<name>.routes[]: a public route takes no POST, PUT, PATCH or DELETE: every proxied mutation is audited with its caller's tenant, and an anonymous caller has none (give the route a scope)."
  }

  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : r.scope == null || can(regex("^services:${name}([.][a-z0-9-]{1,32})?$", coalesce(r.scope, "-")))
      ]
    ]))
    error_message = "services.<name>.routes[].scope: services:<name> or services:<name>.<word> of the same service (word: 1-32 of a-z, 0-9, '-'; e.g. services:sample.write)."
  }

  validation {
    condition = alltrue([
      for name, s in var.service_routes : length(flatten([for r in s.routes : [for m in r.methods : "${m} ${r.path}"]])) == length(distinct(flatten([for r in s.routes : [for m in r.methods : "${m} ${r.path}"]])))
    ])
    error_message = "services.<name>.routes: a method of a path is declared twice."
  }

  validation {
    condition = alltrue([
      for name, s in var.service_routes : length(distinct([for r in s.routes : r.path])) == length(distinct([for r in s.routes : replace(replace(r.path, "/\\{[A-Za-z0-9_]+\\+\\}/", "{+}"), "/\\{[A-Za-z0-9_]+\\}/", "{}")]))
    ])
    error_message = "services.<name>.routes: two paths differ only in parameter names; API Gateway needs one name per position: use the same."
  }

  # API Gateway refuses two variable path parts under one parent resource
  # (CreateResource: "A sibling ({proxy+}) of this resource already has a
  # variable path part -- only one is allowed"; Developer Guide, "Set up a
  # proxy integration with a proxy resource": a {proxy+} resource takes the
  # place of any other variable child of its parent), so /items/{id} beside
  # /items/{rest+} would fail the import.
  validation {
    condition     = alltrue([for name, s in var.service_routes : length(distinct([for x in distinct(flatten([for r in s.routes : [for i, part in split("/", trimprefix(r.path, "/")) : "/${join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))} holds ${part}" if startswith(part, "{")]])) : split(" holds ", x)[0]])) == length(distinct(flatten([for r in s.routes : [for i, part in split("/", trimprefix(r.path, "/")) : "/${join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))} holds ${part}" if startswith(part, "{")]])))])
    error_message = "services.<name>.routes: two different path variables under one parent, such as /items/{id} beside /items/{rest+}: API Gateway refuses sibling variable path parts (\"A sibling ({proxy+}) of this resource already has a variable path part -- only one is allowed\", CreateResource; API Gateway Developer Guide, \"Set up a proxy integration with a proxy resource\"). Use one variable per parent. Refused: ${join("; ", [for name, s in var.service_routes : "services.${name}: ${join(", ", distinct(flatten([for r in s.routes : [for i, part in split("/", trimprefix(r.path, "/")) : "/${join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))} holds ${part}" if startswith(part, "{")]])))}" if !(length(distinct([for x in distinct(flatten([for r in s.routes : [for i, part in split("/", trimprefix(r.path, "/")) : "/${join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))} holds ${part}" if startswith(part, "{")]])) : split(" holds ", x)[0]])) == length(distinct(flatten([for r in s.routes : [for i, part in split("/", trimprefix(r.path, "/")) : "/${join("/", slice(split("/", trimprefix(r.path, "/")), 0, i))} holds ${part}" if startswith(part, "{")]]))))])}."
  }
}

variable "lambda_services" {
  description = "The services served through the proxy Lambda (integration: lambda), with the registry's max_request_bytes (null: the proxy's default): validated against the Lambda proxy integration's request limit."
  type = map(object({
    max_request_bytes = optional(number)
  }))
  default = {}

  # Lambda's synchronous invocation payload is 6 MB (6291456 bytes; AWS
  # Lambda Developer Guide, "Lambda quotas": "Invocation payload (request and
  # response) 6 MB each for request and response (synchronous)"). API
  # Gateway's proxy event carries a binary body base64-encoded (4/3 larger)
  # plus the headers and the request context: 4 MiB of body is 5592408
  # bytes encoded, leaving the event envelope room under 6291456.
  validation {
    condition     = alltrue([for name, s in var.lambda_services : s.max_request_bytes == null || try(s.max_request_bytes >= 1 && s.max_request_bytes <= 4194304 && floor(s.max_request_bytes) == s.max_request_bytes, false)])
    error_message = "services.<name>.max_request_bytes: a whole number 1-4194304 (4 MiB) for a lambda service: AWS Lambda's synchronous invocation payload is at most 6 MB (6291456 bytes; Lambda Developer Guide, \"Lambda quotas\", https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), and API Gateway's proxy event holds the body base64-encoded (4/3 larger) plus the event envelope. Refused: ${join(", ", sort([for name, s in var.lambda_services : "services.${name} = ${s.max_request_bytes}" if !(s.max_request_bytes == null || try(s.max_request_bytes >= 1 && s.max_request_bytes <= 4194304 && floor(s.max_request_bytes) == s.max_request_bytes, false))]))}."
  }
}

variable "vpc_link_services" {
  description = "The services deployed with integration: vpc_link (the root's vpc_link_services local, terraform/locals.tf): each gets the literal path /v1/services/<name>/{proxy+} (any method, the authorizer, x-portcullis-scope = scope), and its declared routes (service_routes), with an http_proxy integration over the VPC link (var.vpc_link) to http://<ALB DNS><path_prefix>/..., the identity headers mapped from the authorizer's context (static anonymous values on public routes) and timeoutInMillis = timeout_ms."
  type = map(object({
    path_prefix = string
    timeout_ms  = number
    methods     = list(string)
    scope       = string
    # none: the Cookie header is overwritten like the credentials; own_path:
    # it passes (the service's kit scopes its Set-Cookie to its own path).
    cookies = optional(string, "none")
    # BUFFERED (API Gateway's default) or STREAM: responseTransferMode of
    # the service's integrations (a route's own response_transfer_mode wins).
    response_transfer_mode = optional(string, "BUFFERED")
  }))
  default = {}

  validation {
    condition     = alltrue([for name, s in var.vpc_link_services : can(regex("^/[A-Za-z0-9._~/-]*$", s.path_prefix)) && !endswith(s.path_prefix, "/")])
    error_message = "vpc_link_services.<name>.path_prefix: the service's ALB path prefix, such as /web (starts with /, no trailing /)."
  }

  validation {
    condition     = alltrue([for name, s in var.vpc_link_services : contains(["none", "own_path"], s.cookies)])
    error_message = "services.<name>.cookies: none (the Cookie header never reaches the service) or own_path (it does, and the service keeps its cookies to its own path)."
  }

  validation {
    condition     = alltrue([for name, s in var.vpc_link_services : contains(["BUFFERED", "STREAM"], s.response_transfer_mode)])
    error_message = "services.<name>.response_transfer_mode: BUFFERED or STREAM (AWS: \"Stream the integration response for your proxy integrations in API Gateway\", https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html)."
  }

  # The route checks that need to know the vpc_link services are here, not
  # on service_routes: two variables' validations may not refer to each
  # other. A vpc_link service has /v1/services/<name>/{proxy+}: a route whose
  # first segment is a variable would be its sibling (service_routes'
  # sibling rule).
  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : !contains(keys(var.vpc_link_services), name) || !startswith(r.path, "/{")
      ]
    ]))
    error_message = "services.<name>.routes[].path: a vpc_link service's route may not start with a path variable (/{id}, /{rest+}): the service's implicit /v1/services/<name>/{proxy+} is already the variable child of /v1/services/<name>, and API Gateway refuses sibling variable path parts (CreateResource: \"only one is allowed\"). Put a literal segment first (/items/{id}). Refused: ${join(", ", flatten([for name, s in var.service_routes : [for r in s.routes : "services.${name} ${r.path}" if contains(keys(var.vpc_link_services), name) && startswith(r.path, "/{")]]))}."
  }

  # Response streaming is an HTTP_PROXY (or AWS_PROXY) integration setting;
  # only the vpc_link services' integrations here are theirs to set.
  validation {
    condition = alltrue(flatten([
      for name, s in var.service_routes : [
        for r in s.routes : r.response_transfer_mode == null || (contains(keys(var.vpc_link_services), name) && contains(["BUFFERED", "STREAM"], coalesce(r.response_transfer_mode, "-")))
      ]
    ]))
    error_message = "services.<name>.routes[].response_transfer_mode: BUFFERED or STREAM, on a vpc_link service only (a lambda service's routes go through the proxy function, which buffers). AWS: \"Stream the integration response for your proxy integrations in API Gateway\" (https://docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html)."
  }

  # API Gateway's integration timeout: 50 ms to 29 seconds (API Gateway
  # Developer Guide, "Amazon API Gateway quotas": "Integration timeout for
  # REST APIs: 50 milliseconds - 29 seconds"); a streamed response's up to
  # 15 minutes ("Set up an HTTP proxy integration with payload response
  # streaming in API Gateway": "you can configure the integration timeout up
  # to 15 minutes"). Above 29000 every operation of the service must stream:
  # the service streams and none of its routes is BUFFERED.
  validation {
    condition = alltrue([
      for name, s in var.vpc_link_services : try(floor(s.timeout_ms) == s.timeout_ms && s.timeout_ms >= 50 && (
        s.timeout_ms <= 29000 || (
          s.timeout_ms <= 900000 && s.response_transfer_mode == "STREAM" && !contains([for r in try(var.service_routes[name].routes, []) : coalesce(r.response_transfer_mode, s.response_transfer_mode)], "BUFFERED")
        )
      ), false)
    ])
    error_message = "services.<name>.timeout_ms: API Gateway's integration timeout is 50-29000 ms (\"Amazon API Gateway quotas\": integration timeout 50 milliseconds to 29 seconds without a quota increase, https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html), up to 900000 (15 minutes) when every operation streams (response_transfer_mode: STREAM and no BUFFERED route; \"Set up an HTTP proxy integration with payload response streaming in API Gateway\", https://docs.aws.amazon.com/apigateway/latest/developerguide/response-streaming-http.html). Refused: ${join(", ", sort([for name, s in var.vpc_link_services : "services.${name}.timeout_ms = ${s.timeout_ms} (${s.response_transfer_mode})" if !try(floor(s.timeout_ms) == s.timeout_ms && s.timeout_ms >= 50 && (s.timeout_ms <= 29000 || (s.timeout_ms <= 900000 && s.response_transfer_mode == "STREAM" && !contains([for r in try(var.service_routes[name].routes, []) : coalesce(r.response_transfer_mode, s.response_transfer_mode)], "BUFFERED"))), false)]))}."
  }
}

variable "vpc_link" {
  description = "Where the vpc_link services' integrations go (compute module): connection_id = the API Gateway VPC link (v2) id, integration_target = the internal ALB's ARN, alb_dns_name = its DNS name (the integration uri's host). Required when vpc_link_services is not empty."
  type = object({
    connection_id      = string
    integration_target = string
    alb_dns_name       = string
  })
  default = null

  validation {
    condition     = length(var.vpc_link_services) == 0 || var.vpc_link != null
    error_message = "vpc_link is required when some service has integration: vpc_link (vpc_link_services): the VPC link id, the internal ALB's ARN and DNS name."
  }
}
