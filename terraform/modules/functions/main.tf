# Every Lambda: arm64, provided.al2023, the zip `cargo lambda build
# --release --arm64 --output-format zip` wrote, its own log group, role and
# (for VPC functions) security group.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  zip = { for k, f in var.functions : k => "${var.artifacts_dir}/${k}/bootstrap.zip" }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:retention is a per-environment choice (var.log_retention_days; prod 365)
  for_each = var.functions

  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  # Empty in AWS. Locally (the env/local tfvars) the emulator's administrator, so
  # the local gateway runs each function with its own role's credentials.
  dynamic "statement" {
    for_each = length(var.trusted_principal_arns) > 0 ? [1] : []
    content {
      sid     = "LocalGatewayRunsTheFunction"
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = var.trusted_principal_arns
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = var.functions
  name               = "${var.name}-fn-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  for_each = var.functions

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  statement {
    # X-Ray accepts no resource-level permissions.
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DecryptEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }

  dynamic "statement" {
    for_each = each.value.statements
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = var.functions
  name     = "least-privilege"
  role     = aws_iam_role.this[each.key].id
  policy   = data.aws_iam_policy_document.this[each.key].json
}

# ENI management for VPC functions (AWS-managed; EC2 network-interface
# actions have no resource-level scoping at create time).
resource "aws_iam_role_policy_attachment" "vpc" {
  for_each   = { for k, f in var.functions : k => f if f.vpc }
  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:code signing needs AWS Signer profiles; the zips are built reproducibly by cargo lambda in CI
  #checkov:skip=CKV_AWS_116:API Gateway invokes synchronously (no DLQ applies); the asynchronous ones (task-events, reconciler) get a DLQ on their EventBridge/Scheduler target and an on-failure destination (modules/events)
  #checkov:skip=CKV_AWS_115:reserved concurrency is optional per function (functions[*].reserved_concurrency); new accounts may not have spare concurrency to reserve
  for_each = var.functions

  function_name    = "${var.name}-${each.key}"
  description      = each.value.description
  role             = aws_iam_role.this[each.key].arn
  filename         = local.zip[each.key]
  source_code_hash = try(filebase64sha256(local.zip[each.key]), null)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  memory_size      = each.value.memory_size
  timeout          = each.value.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = try(coalesce(each.value.reserved_concurrency, -1), -1)

  environment {
    variables = merge({ RUST_LOG = lower(var.log_level) }, each.value.environment)
  }

  dynamic "vpc_config" {
    for_each = each.value.vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = [var.security_group_ids[each.key]]
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this[each.key].name
    application_log_level = var.log_level
    system_log_level      = "WARN"
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.this,
    aws_iam_role_policy_attachment.vpc,
  ]
}
