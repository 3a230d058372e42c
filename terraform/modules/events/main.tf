# ECS task state changes -> task-events (retries + DLQ);
# EventBridge Scheduler -> reconciler (retries + DLQ); alarms on both DLQs and
# on every function's errors.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # The reconciler's schedule group, named in the scheduler role's trust.
  schedule_group = "default"
}

resource "aws_sqs_queue" "dlq" {
  for_each = toset(["task-events", "reconciler"])

  name                      = "${var.name}-${each.key}-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

data "aws_iam_policy_document" "dlq" {
  for_each = aws_sqs_queue.dlq

  statement {
    sid       = "EventBridgeDeliversFailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.arn]
    principals {
      type        = "Service"
      identifiers = each.key == "task-events" ? ["events.amazonaws.com"] : ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = each.key == "task-events" ? [aws_cloudwatch_event_rule.this.arn] : [aws_scheduler_schedule.this.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each  = aws_sqs_queue.dlq
  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}

resource "aws_cloudwatch_event_rule" "this" {
  name        = "${var.name}-task-state-change"
  description = "ECS task state changes of the Portcullis cluster"
  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail        = { clusterArn = [var.cluster_arn] }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule      = aws_cloudwatch_event_rule.this.name
  target_id = "task-events"
  arn       = var.task_events_function_arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = aws_sqs_queue.dlq["task-events"].arn
  }
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = var.task_events_function_arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
}

# --- Function errors of the asynchronously invoked functions ---
# A target's DLQ receives only events EventBridge or Scheduler could not
# deliver. Once delivered, an invocation that fails (error, timeout) is
# retried by Lambda and then handed to the on-failure destination: the same
# queue, so one alarm covers both. Lambda sends with the function's execution
# role (sqs:SendMessage and the key; the root's functions.tf grants them).
resource "aws_lambda_function_event_invoke_config" "this" {
  for_each = {
    task-events = var.task_events_function_arn
    reconciler  = var.reconciler_function_arn
  }

  function_name                = each.value
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = var.async_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq[each.key].arn
    }
  }
}

# --- Scheduler -> reconciler ---

# Scheduler assumes the role for schedules of this account's default group
# only (its aws:SourceArn is the schedule group; the schedule is in "default").
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:scheduler:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:schedule-group/${local.schedule_group}"]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeReconciler"
    actions   = ["lambda:InvokeFunction"]
    resources = [var.reconciler_function_arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq["reconciler"].arn]
  }
  statement {
    sid       = "EncryptDeadLetters"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-reconciler"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "this" {
  name                         = "${var.name}-reconciler"
  group_name                   = local.schedule_group
  schedule_expression          = var.reconciler_schedule
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = var.kms_key_arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.reconciler_function_arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "scheduler" })

    retry_policy {
      maximum_event_age_in_seconds = 300
      maximum_retry_attempts       = 3
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq["reconciler"].arn
    }
  }
}

# --- Alarms ---

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = aws_sqs_queue.dlq

  alarm_name          = "${var.name}-${each.key}-dlq-not-empty"
  alarm_description   = "Events for ${each.key} ended in the DLQ (undeliverable, or the function failed on them): inspect and redrive them"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each = var.alarm_function_names

  alarm_name          = "${each.value}-errors"
  alarm_description   = "Lambda ${each.key} reported errors"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}
