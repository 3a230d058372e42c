# Alarms (to the one alarm topic, the events module's) and one dashboard over
# what runs: the public API (AWS/ApiGateway), the functions (AWS/Lambda), the
# services behind the internal ALB (AWS/ApplicationELB, ECS/ContainerInsights),
# the database (AWS/RDS) and the code's own metrics (var.metrics_namespace,
# Embedded Metric Format records; every one has the Environment dimension).
# Function errors and the DLQs are alarmed in the events module.
#
# treat_missing_data, per kind of metric (docs/observability.md#alarms):
# - counts of bad events (5XX, throttles, failed jobs, authorizer errors):
#   notBreaching: a count nobody emitted is zero;
# - gauges that are always published while the thing exists (RDS, target
#   health): missing: a gap says nothing about health, the state is kept;
# - ECS running vs desired: breaching: Container Insights reports every
#   service every minute, so silence means the service or its metrics are
#   gone, which is worth a look;
# - ApiKeyCount: missing: it is emitted only when a key is made or revoked,
#   so days without a value are normal.

locals {
  api_dimensions = { ApiName = var.name, Stage = var.api_stage }
  env_dimensions = { Environment = var.environment }
  alarm_actions  = [var.alarm_topic_arn]
}

# --- The public API ---

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${var.name}-api-5xx-rate"
  alarm_description   = "More than ${var.api_5xx_rate_percent}% of the public API's requests answered 5XX for 15 minutes (periods with fewer than ${var.api_5xx_min_requests} requests count as 0): look at the Lambda errors and the access log's integrationError (docs/observability.md#alarms)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    label       = "5XX % of requests"
    expression  = "IF(requests >= ${var.api_5xx_min_requests}, 100 * errors / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5XXError"
      dimensions  = local.api_dimensions
      period      = 300
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = local.api_dimensions
      period      = 300
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p99" {
  alarm_name          = "${var.name}-api-latency-p99"
  alarm_description   = "The public API's p99 latency stayed above ${var.api_latency_p99_ms} ms for 15 minutes: compare IntegrationLatency and the authorizer's Duration on the dashboard (docs/observability.md#alarms)"
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = local.api_dimensions
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.api_latency_p99_ms
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# --- Functions: throttles of every one; the authorizer's own error outcome ---

resource "aws_cloudwatch_metric_alarm" "throttles" {
  for_each = var.function_names

  alarm_name          = "${each.value}-throttles"
  alarm_description   = "Lambda ${each.key} was throttled (concurrency limit reached): check ConcurrentExecutions and the account's concurrency quota (docs/observability.md#alarms)"
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "authorizer_errors" {
  alarm_name          = "${var.name}-authorizer-errors"
  alarm_description   = "The authorizer failed to decide (AuthorizerDecision outcome error: database or signing failure) more than ${var.authorizer_error_count} times in 5 minutes; callers got 500: read the authorizer's log (docs/observability.md#alarms)"
  namespace           = var.metrics_namespace
  metric_name         = "AuthorizerDecision"
  dimensions          = merge(local.env_dimensions, { Outcome = "error" })
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.authorizer_error_count
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# --- Services: the ALB's view and ECS's ---

resource "aws_cloudwatch_metric_alarm" "target_5xx" {
  for_each = var.target_group_arn_suffixes

  alarm_name          = "${var.name}-${each.key}-target-5xx"
  alarm_description   = "Service ${each.key} answered more than ${var.alb_target_5xx_count} 5XX in 5 minutes (its own answers, not the ALB's): read its log group /ecs/${var.name}/service/${each.key} (docs/observability.md#alarms)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.alb_target_5xx_count
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  for_each = var.target_group_arn_suffixes

  alarm_name          = "${var.name}-${each.key}-unhealthy-hosts"
  alarm_description   = "A target of service ${each.key} failed the ALB health check for 3 minutes: see the target group's health reason and the task's stopped reason (docs/observability.md#alarms)"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = var.alb_arn_suffix, TargetGroup = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ecs_below_desired" {
  for_each = var.service_names

  alarm_name          = "${var.name}-${each.key}-running-below-desired"
  alarm_description   = "Service ${each.key} ran fewer tasks than desired for ${var.ecs_below_desired_minutes} minutes (or Container Insights stopped reporting it): read the service's events and the stopped tasks' reasons (docs/observability.md#alarms)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = var.ecs_below_desired_minutes
  datapoints_to_alarm = var.ecs_below_desired_minutes
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "missing_tasks"
    label       = "desired - running tasks"
    expression  = "desired - running"
    return_data = true
  }

  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = each.value }
      period      = 60
      stat        = "Average"
    }
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions  = { ClusterName = var.cluster_name, ServiceName = each.value }
      period      = 60
      stat        = "Average"
    }
  }
}

# --- Database ---

resource "aws_cloudwatch_metric_alarm" "rds_cpu" {
  alarm_name          = "${var.name}-db-cpu"
  alarm_description   = "The database's CPU averaged above ${var.rds_cpu_percent}% for 15 minutes: look at Performance Insights' top SQL (docs/observability.md#alarms)"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  threshold           = var.rds_cpu_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_free_storage" {
  alarm_name          = "${var.name}-db-free-storage"
  alarm_description   = "The database has less than ${var.rds_free_storage_bytes} bytes free: check storage autoscaling's ceiling (db max_allocated_storage) and the largest tables (docs/observability.md#alarms)"
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.rds_free_storage_bytes
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "rds_connections" {
  alarm_name          = "${var.name}-db-connections"
  alarm_description   = "The database held more than ${var.rds_connections} connections for 10 minutes: look for a function concurrency spike or leaked pools; consider the RDS Proxy (db_enable_proxy) (docs/observability.md#alarms)"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBInstanceIdentifier = var.db_instance_identifier }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = var.rds_connections
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# --- The code's metrics ---

resource "aws_cloudwatch_metric_alarm" "job_failure_rate" {
  alarm_name          = "${var.name}-job-failure-rate"
  alarm_description   = "More than ${var.job_failure_rate_percent}% of the jobs that finished in 15 minutes failed (at least ${var.job_failure_min_jobs} finished): list failed jobs (GET /v1/jobs?status=failed) and read their events and task logs (docs/observability.md#alarms)"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.job_failure_rate_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  metric_query {
    id          = "failure_rate"
    label       = "failed % of finished jobs"
    expression  = "IF(finished >= ${var.job_failure_min_jobs}, 100 * FILL(failed, 0) / finished, 0)"
    return_data = true
  }

  metric_query {
    id         = "finished"
    label      = "finished jobs"
    expression = "FILL(succeeded, 0) + FILL(failed, 0) + FILL(timed_out, 0)"
  }

  dynamic "metric_query" {
    for_each = { succeeded = "JobSucceeded", failed = "JobFailed", timed_out = "JobTimedOut" }
    content {
      id = metric_query.key
      metric {
        namespace   = var.metrics_namespace
        metric_name = metric_query.value
        dimensions  = local.env_dimensions
        period      = 900
        stat        = "Sum"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_key_count" {
  alarm_name          = "${var.name}-api-key-count"
  alarm_description   = "The account holds ${var.api_key_count_threshold} or more API Gateway API keys; the quota is 10,000 per account and Region and cannot be raised: revoke unused keys (GET /v1/keys) before key creation fails (docs/observability.md#alarms)"
  namespace           = var.metrics_namespace
  metric_name         = "ApiKeyCount"
  dimensions          = local.env_dimensions
  statistic           = "Maximum"
  period              = 21600
  evaluation_periods  = 1
  threshold           = var.api_key_count_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}
