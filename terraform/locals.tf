# Everything here is pure (no resources): names, tags and the registry read
# from platform.yaml. tests/terraform evaluates this file offline.

locals {
  name = "${var.project}-${var.environment}"

  # The code's metrics (CloudWatch Embedded Metric Format): their namespace;
  # every record has the dimension Environment = DEPLOYMENT_ENVIRONMENT
  # (functions.tf sets it for every function). The names are the catalogue
  # in shared/core/src/metrics.rs (docs/observability.md#metrics).
  metrics_namespace = "Portcullis"

  tags = merge(
    {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    },
    var.tags,
  )

  repo_root     = "${path.module}/.."
  platform_file = "${local.repo_root}/platform.yaml"
  platform      = yamldecode(file(local.platform_file))

  # The Lambdas: one crate per function under functions/ (folder = package =
  # binary = Lambda name).
  function_names = toset(["authorizer", "jobs", "proxy", "keys", "task-events", "reconciler", "migrate"])

  # Each section: merge({}, try(...)) because entries may differ in shape
  # (coalesce would need one type for all) and an empty or absent section is none.

  # services: one ECS service, target group and listener rule each, for
  # the services enabled in this environment (`environments`, absent = all;
  # the others are absent from every resource and from the Cognito scopes).
  # `priority` has no default: the compute module's var.services validation
  # refuses a service without one, or two services with the same.
  service_environments = {
    for name, s in merge({}, try(local.platform.services, {})) : name => try(s.environments, null)
  }
  services = {
    for name, s in merge({}, try(local.platform.services, {})) : name => {
      workload    = try(s.workload, name)
      image       = try(s.image, null)
      port        = try(s.port, 8080)
      path_prefix = try(s.path_prefix, "/${name}")
      priority    = try(s.priority, null)
      health_check = {
        path                = try(s.health_check.path, "/health")
        interval_seconds    = try(s.health_check.interval_seconds, 15)
        timeout_seconds     = try(s.health_check.timeout_seconds, 5)
        healthy_threshold   = try(s.health_check.healthy_threshold, 2)
        unhealthy_threshold = try(s.health_check.unhealthy_threshold, 3)
        matcher             = try(s.health_check.matcher, "200-299")
      }
      desired_count      = try(s.desired_count, 1)
      min_count          = try(s.autoscaling.min, s.desired_count, 1)
      max_count          = try(s.autoscaling.max, max(try(s.desired_count, 1) * 4, 2))
      cpu_target         = try(s.autoscaling.cpu_target, 60)
      cpu                = try(s.cpu, 256)
      memory             = try(s.memory, 512)
      environment        = try(s.environment, {})
      secrets            = try(s.secrets, {})
      log_retention_days = try(s.log_retention_days, null)
      # The service kit's Set-Cookie policy for a lambda service (a vpc_link
      # service's is its `cookies`, vpc_link_services below).
      cookies = try(s.allow_cookies, false) ? "own_path" : "none"
    } if local.service_environments[name] == null || contains(coalesce(local.service_environments[name], []), var.environment)
  }

  # services.<name>.routes: routes a service declares
  # public (no credential) or guarded by their own scope instead of the
  # service's, for the services deployed here. The openapi module renders
  # each as /v1/services/<name><path> and validates them as shared/platform
  # does; the route scopes become Cognito resource-server scopes (main.tf).
  service_routes = {
    for name, s in merge({}, try(local.platform.services, {})) : name => {
      methods = [for m in s.methods : upper(m)]
      scope   = try(s.scope, "services:${name}")
      routes = [
        for r in try(s.routes, []) : {
          path    = r.path
          methods = [for m in r.methods : upper(m)]
          public  = try(r.public, null)
          scope   = try(r.scope, null)
          # vpc_link services: BUFFERED | STREAM (null: the service's).
          response_transfer_mode = try(upper(r.response_transfer_mode), null)
        }
      ]
    } if contains(keys(local.services), name) && length(try(s.routes, [])) > 0
  }
  # integration: vpc_link services, of those deployed here:
  # API Gateway reaches them over the VPC link to the internal ALB (api
  # module), with the identity the authorizer signed mapped into headers
  # (openapi module). integration: lambda (the default): API Gateway -> the
  # proxy function -> the internal ALB.
  vpc_link_services = {
    for name, s in merge({}, try(local.platform.services, {})) : name => {
      path_prefix = local.services[name].path_prefix
      timeout_ms  = try(s.timeout_ms, 10000)
      methods     = [for m in s.methods : upper(m)]
      scope       = try(s.scope, "services:${name}")
      # none (default): the Cookie header is overwritten like the
      # credentials; own_path: it passes and the service keeps its cookies
      # to its own path (docs/proxy.md, "Cookies on the shared origin").
      cookies = try(s.cookies, "none")
      # BUFFERED (default) | STREAM: responseTransferMode of its
      # integrations (streamed past API Gateway's 10 MB: docs/proxy.md).
      response_transfer_mode = upper(try(s.response_transfer_mode, "BUFFERED"))
    } if contains(keys(local.services), name) && try(s.integration, "lambda") == "vpc_link"
  }
  # integration: lambda services deployed here, with the request limit the
  # openapi module checks against the Lambda proxy integration's.
  lambda_services = {
    for name, s in merge({}, try(local.platform.services, {})) : name => {
      max_request_bytes = try(s.max_request_bytes, null)
    } if contains(keys(local.services), name) && try(s.integration, "lambda") != "vpc_link"
  }

  # "sample.write" for services:sample.write: the Cognito scope services.<this>.
  service_route_scopes = distinct(flatten([
    for name, s in local.service_routes : [
      for r in s.routes : trimprefix(r.scope, "services:") if r.scope != null && r.scope != "services:${name}"
    ]
  ]))

  # jobs: one task definition (family = task_definition) each.
  jobs = {
    for name, j in merge({}, try(local.platform.jobs, {})) : name => {
      family      = try(j.task_definition, "${var.project}-${name}")
      container   = try(j.container, name)
      workload    = try(j.workload, j.container, name)
      image       = try(j.image, null)
      cpu         = try(j.cpu, j.overrides.cpu.min, 256)
      memory      = try(j.memory, j.overrides.memory.min, 512)
      environment = try(j.environment, {})
      # ENV_NAME = Secrets Manager name or ARN [:json-key] (the compute module
      # renders valueFrom and scopes the job execution role to them).
      secrets            = try(j.secrets, {})
      log_retention_days = try(j.log_retention_days, null)
      # The container's entryPoint: callers' args (the RunTask command
      # override) are only ever its arguments (docs/jobs.md).
      entrypoint = try(j.entrypoint, null)
      # As shared/platform: overrides.args true or a count above 0; such a
      # type must declare an entrypoint (the compute module's var.jobs validation).
      takes_args = try(j.overrides.args == true, false) || try(j.overrides.args > 0, false)
    }
  }

  usage_plans = {
    for name, p in merge({}, try(local.platform.usage_plans, {})) : name => {
      description = try(p.description, "")
      throttle    = try({ rate_limit = p.throttle.rate_limit, burst_limit = p.throttle.burst_limit }, null)
      quota       = try({ limit = p.quota.limit, period = upper(p.quota.period) }, null)
    }
  }
}
