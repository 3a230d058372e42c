data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # Function ARNs are known from their names, so the REST API body does not
  # depend on the functions (the keys function in turn needs the API id).
  function_name = { for f in local.function_names : f => "${local.name}-${f}" }
  function_arn  = { for f in local.function_names : f => "arn:${data.aws_partition.current.partition}:lambda:${local.region}:${local.account_id}:function:${local.name}-${f}" }
}

# --- One customer-managed key for logs, secrets, queues, images and RDS ---

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:a key policy's Resource "*" means this key only
  #checkov:skip=CKV_AWS_356:a key policy's Resource "*" means this key only
  #checkov:skip=CKV_AWS_109:the account root administers its own key (AWS default key policy); IAM policies then grant use
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "EventsAndAlarmsUseQueuesAndTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${local.name}: logs, secrets, queues, images, database"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.this.key_id
}

# --- Key the proxy signs identity headers with (HMAC) ---

# 64 letters and digits: valid base64 text of 48 random bytes (the proxy and
# the services decode the secret string as base64, at least 32 bytes).
data "aws_secretsmanager_random_password" "identity" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "identity" {
  #checkov:skip=CKV2_AWS_57:rotating the signing key needs the services to accept two keys at once; rotate by hand (docs/terraform.md)
  name                    = "${local.name}/identity-signing-key"
  description             = "HMAC key the proxy signs identity headers with; private services verify them"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "identity" {
  secret_id     = aws_secretsmanager_secret.identity.id
  secret_string = data.aws_secretsmanager_random_password.identity.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# --- Modules ---

module "network" {
  source = "./modules/network"

  name                        = local.name
  tags                        = local.tags
  vpc_id                      = var.vpc_id
  existing_private_subnet_ids = var.existing_private_subnet_ids
  cidr_block                  = var.vpc_cidr
  az_count                    = var.az_count
  single_nat_gateway          = var.single_nat_gateway
  interface_endpoints         = var.interface_endpoints
  function_security_groups    = local.function_names
  kms_key_arn                 = aws_kms_key.this.arn
  flow_log_retention_days     = var.log_retention_days
}

module "data" {
  source = "./modules/data"

  name                      = local.name
  tags                      = local.tags
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = module.network.function_security_group_ids
  kms_key_arn               = aws_kms_key.this.arn
  engine_version            = var.db_engine_version
  instance_class            = var.db_instance_class
  allocated_storage         = var.db_allocated_storage
  multi_az                  = var.db_multi_az
  backup_retention_days     = var.db_backup_retention_days
  deletion_protection       = var.db_deletion_protection
  enable_proxy              = var.db_enable_proxy
  log_retention_days        = var.log_retention_days
}

module "compute" {
  source = "./modules/compute"

  name                    = local.name
  tags                    = local.tags
  vpc_id                  = module.network.vpc_id
  subnet_ids              = module.network.private_subnet_ids
  services                = local.services
  jobs                    = local.jobs
  image_tag               = var.image_tag
  proxy_security_group_id = module.network.function_security_group_ids["proxy"]
  identity_secret_arn     = aws_secretsmanager_secret.identity.arn
  kms_key_arn             = aws_kms_key.this.arn
  log_retention_days      = var.log_retention_days
  alb_deletion_protection = var.alb_deletion_protection
  ecr_force_delete        = var.ecr_force_delete
  cpu_architecture        = var.workload_cpu_architecture
}

module "auth" {
  source = "./modules/auth"

  name                = local.name
  tags                = local.tags
  domain_prefix       = coalesce(var.cognito_domain_prefix, "${local.name}-${local.account_id}")
  service_scopes      = keys(local.services)
  web_callback_urls   = local.web_callback_urls # + the hosted console's origin (web.tf)
  web_logout_urls     = local.web_logout_urls
  deletion_protection = var.cognito_deletion_protection
}

module "openapi" {
  source = "./modules/openapi"

  source_path = "${local.repo_root}/api/openapi.yaml"
  template_vars = merge(
    { region = local.region },
    { for f in local.function_names : "${replace(f, "-", "_")}_function_arn" => local.function_arn[f] },
  )
}

module "api" {
  source = "./modules/api"

  name                           = local.name
  tags                           = local.tags
  body                           = module.openapi.body
  stage_name                     = var.stage_name
  integrated_functions           = { for f in local.api_functions : f => module.functions.function_names[f] }
  usage_plans                    = local.usage_plans
  throttle_rate_limit            = var.api_throttle_rate_limit
  throttle_burst_limit           = var.api_throttle_burst_limit
  cors_expose_headers            = try(module.openapi.cors.exposeHeaders, [])
  kms_key_arn                    = aws_kms_key.this.arn
  log_retention_days             = var.log_retention_days
  manage_account_cloudwatch_role = var.manage_apigateway_account
  domain_name                    = var.domain_name
  hosted_zone_id                 = var.hosted_zone_id
  waf_acl_arn                    = var.waf_acl_arn
}

module "functions" {
  source = "./modules/functions"

  name               = local.name
  tags               = local.tags
  functions          = local.functions
  artifacts_dir      = abspath("${path.module}/${var.lambda_artifacts_dir}")
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = module.network.function_security_group_ids
  kms_key_arn        = aws_kms_key.this.arn
  log_retention_days = var.log_retention_days
  log_level          = var.log_level

  trusted_principal_arns = var.function_role_trusted_principals
}

module "events" {
  source = "./modules/events"

  name                     = local.name
  tags                     = local.tags
  cluster_arn              = module.compute.cluster_arn
  task_events_function_arn = module.functions.function_arns["task-events"]
  reconciler_function_arn  = module.functions.function_arns["reconciler"]
  reconciler_schedule      = var.reconciler_schedule
  alarm_function_names     = module.functions.function_names
  alarm_email              = var.alarm_email
  kms_key_arn              = aws_kms_key.this.arn
}
