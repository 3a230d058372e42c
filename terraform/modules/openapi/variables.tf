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
}

variable "vpc_link_services" {
  description = "The services deployed with integration: vpc_link (the root's vpc_link_services local, terraform/locals.tf): each gets the literal path /v1/services/<name>/{proxy+} (any method, the authorizer, x-portcullis-scope = scope), and its declared routes (service_routes), with an http_proxy integration over the VPC link (var.vpc_link) to http://<ALB DNS><path_prefix>/..., the identity headers mapped from the authorizer's context (static anonymous values on public routes) and timeoutInMillis = timeout_ms."
  type = map(object({
    path_prefix = string
    timeout_ms  = number
    methods     = list(string)
    scope       = string
  }))
  default = {}

  validation {
    condition     = alltrue([for name, s in var.vpc_link_services : can(regex("^/[A-Za-z0-9._~/-]*$", s.path_prefix)) && !endswith(s.path_prefix, "/")])
    error_message = "vpc_link_services.<name>.path_prefix: the service's ALB path prefix, such as /web (starts with /, no trailing /)."
  }

  validation {
    condition     = alltrue([for name, s in var.vpc_link_services : s.timeout_ms >= 50 && s.timeout_ms <= 29000 && floor(s.timeout_ms) == s.timeout_ms])
    error_message = "vpc_link_services.<name>.timeout_ms: API Gateway's integration timeout, 50-29000 ms."
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
