# One dashboard: traffic and errors by route, the authorizer's outcomes, the
# job pipeline, each service's latency and health, the database. Every
# widget's metrics are listed in locals below, so the tests can read them
# back from the rendered body.

locals {
  ns  = var.metrics_namespace
  env = ["Environment", var.environment]

  # The Outcome values of AuthorizerDecision (the catalogue, docs/observability.md#metrics).
  authorizer_outcomes = ["allowed", "no_credential", "bad_key", "revoked", "expired", "bad_token", "tenant_not_provisioned", "scope_missing", "error"]

  api = ["ApiName", var.name, "Stage", var.api_stage]
  # API Gateway's per-method metrics (metrics_enabled on every method):
  # dimensions ApiName, Method, Resource, Stage.
  route_dims = [for r in var.api_routes : ["ApiName", var.name, "Method", r.method, "Resource", r.path, "Stage", var.api_stage]]

  tg = { for s, suffix in var.target_group_arn_suffixes : s => ["LoadBalancer", var.alb_arn_suffix, "TargetGroup", suffix] }
  db = ["DBInstanceIdentifier", var.db_instance_identifier]

  widgets = [
    {
      title   = "API: requests, 4XX and 5XX"
      stacked = false
      metrics = [
        concat(["AWS/ApiGateway", "Count"], local.api, [{ stat = "Sum", label = "requests" }]),
        concat(["AWS/ApiGateway", "4XXError"], local.api, [{ stat = "Sum", label = "4XX" }]),
        concat(["AWS/ApiGateway", "5XXError"], local.api, [{ stat = "Sum", label = "5XX" }]),
      ]
    },
    {
      title   = "API: latency (ms)"
      stacked = false
      metrics = [
        concat(["AWS/ApiGateway", "Latency"], local.api, [{ stat = "p50", label = "p50" }]),
        concat(["AWS/ApiGateway", "Latency"], local.api, [{ stat = "p99", label = "p99" }]),
        concat(["AWS/ApiGateway", "IntegrationLatency"], local.api, [{ stat = "p99", label = "integration p99" }]),
      ]
    },
    {
      title   = "API: requests by route"
      stacked = true
      metrics = [for i, d in local.route_dims : concat(["AWS/ApiGateway", "Count"], d, [{ stat = "Sum", label = "${var.api_routes[i].method} ${var.api_routes[i].path}" }])]
    },
    {
      title   = "API: 5XX by route"
      stacked = true
      metrics = [for i, d in local.route_dims : concat(["AWS/ApiGateway", "5XXError"], d, [{ stat = "Sum", label = "${var.api_routes[i].method} ${var.api_routes[i].path}" }])]
    },
    {
      title   = "Authorizer: decisions by outcome"
      stacked = true
      metrics = [for o in local.authorizer_outcomes : concat([local.ns, "AuthorizerDecision"], local.env, ["Outcome", o, { stat = "Sum", label = o }])]
    },
    {
      title   = "Authorizer: cache, JWKS, signing, Lambda"
      stacked = false
      metrics = [
        concat([local.ns, "AuthorizerCacheHit"], local.env, [{ stat = "Sum", label = "cache hits" }]),
        concat([local.ns, "JwksFetch"], local.env, [{ stat = "Sum", label = "JWKS fetches" }]),
        concat([local.ns, "JwksFetchFailure"], local.env, [{ stat = "Sum", label = "JWKS fetch failures" }]),
        concat([local.ns, "IdentitySigningFailure"], local.env, [{ stat = "Sum", label = "identity signing failures" }]),
        ["AWS/Lambda", "Errors", "FunctionName", var.function_names["authorizer"], { stat = "Sum", label = "Lambda errors" }],
        ["AWS/Lambda", "Throttles", "FunctionName", var.function_names["authorizer"], { stat = "Sum", label = "Lambda throttles" }],
        ["AWS/Lambda", "Duration", "FunctionName", var.function_names["authorizer"], { stat = "p99", label = "Lambda duration p99 (ms)", yAxis = "right" }],
      ]
    },
    {
      title   = "Jobs: submitted -> started -> outcome"
      stacked = false
      metrics = [for m in ["JobSubmitted", "JobDeduplicated", "JobStarted", "JobSucceeded", "JobFailed", "JobCancelled", "JobTimedOut", "RunTaskFailure"] : concat([local.ns, m], local.env, [{ stat = "Sum", label = m }])]
    },
    {
      title   = "Jobs: queue wait and run time (ms)"
      stacked = false
      metrics = [
        concat([local.ns, "JobQueueWait"], local.env, [{ stat = "p50", label = "queue wait p50" }]),
        concat([local.ns, "JobQueueWait"], local.env, [{ stat = "p99", label = "queue wait p99" }]),
        concat([local.ns, "JobRunTime"], local.env, [{ stat = "p50", label = "run time p50", yAxis = "right" }]),
        concat([local.ns, "JobRunTime"], local.env, [{ stat = "p99", label = "run time p99", yAxis = "right" }]),
      ]
    },
    {
      title   = "Services: proxy upstream latency p99 (ms)"
      stacked = false
      metrics = [for s in keys(var.service_names) : concat([local.ns, "ProxyUpstreamLatency"], local.env, ["Service", s, { stat = "p99", label = s }])]
    },
    {
      title   = "Services: ALB target response time p99 (s)"
      stacked = false
      metrics = [for s, d in local.tg : concat(["AWS/ApplicationELB", "TargetResponseTime"], d, [{ stat = "p99", label = s }])]
    },
    {
      title   = "Services: healthy and unhealthy targets"
      stacked = false
      # concat of lists, not flatten: flatten would also flatten each metric.
      metrics = concat(
        [for s, d in local.tg : concat(["AWS/ApplicationELB", "HealthyHostCount"], d, [{ stat = "Minimum", label = "${s} healthy" }])],
        [for s, d in local.tg : concat(["AWS/ApplicationELB", "UnHealthyHostCount"], d, [{ stat = "Maximum", label = "${s} unhealthy" }])],
      )
    },
    {
      title   = "Services: running and desired tasks, target 5XX"
      stacked = false
      metrics = concat(
        [for s, svc in var.service_names : ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", var.cluster_name, "ServiceName", svc, { stat = "Average", label = "${s} running" }]],
        [for s, svc in var.service_names : ["ECS/ContainerInsights", "DesiredTaskCount", "ClusterName", var.cluster_name, "ServiceName", svc, { stat = "Average", label = "${s} desired" }]],
        [for s, d in local.tg : concat(["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"], d, [{ stat = "Sum", label = "${s} target 5XX", yAxis = "right" }])],
      )
    },
    {
      title   = "Database: CPU % and connections"
      stacked = false
      metrics = [
        concat(["AWS/RDS", "CPUUtilization"], local.db, [{ stat = "Average", label = "CPU %" }]),
        concat(["AWS/RDS", "DatabaseConnections"], local.db, [{ stat = "Maximum", label = "connections", yAxis = "right" }]),
      ]
    },
    {
      title   = "Database: free storage (bytes) and latency (s)"
      stacked = false
      metrics = [
        concat(["AWS/RDS", "FreeStorageSpace"], local.db, [{ stat = "Minimum", label = "free storage" }]),
        concat(["AWS/RDS", "ReadLatency"], local.db, [{ stat = "Average", label = "read latency", yAxis = "right" }]),
        concat(["AWS/RDS", "WriteLatency"], local.db, [{ stat = "Average", label = "write latency", yAxis = "right" }]),
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for i, w in local.widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = w.title
          region  = var.region
          view    = "timeSeries"
          stacked = w.stacked
          period  = 300
          metrics = w.metrics
        }
      }
    ]
  })
}
