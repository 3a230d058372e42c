data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  workloads = toset(concat(
    [for s in var.services : s.workload if s.image == null],
    [for j in var.jobs : j.workload if j.image == null],
  ))

  # An entry's own `image` wins; otherwise its workload's ECR repository at
  # the workload's content tag (var.image_tags, from scripts/images.py; its
  # validation refuses a workload without one).
  image = merge(
    { for k, s in var.services : "service/${k}" => s.image != null ? s.image : "${aws_ecr_repository.this[s.workload].repository_url}:${var.image_tags[s.workload]}" },
    { for k, j in var.jobs : "job/${k}" => j.image != null ? j.image : "${aws_ecr_repository.this[j.workload].repository_url}:${var.image_tags[j.workload]}" },
  )

  # The path each service is reached at on the ALB (its listener rule and
  # BASE_PATH). API Gateway sends a private integration's request with the
  # stage in front of the uri's path ("Private integrations for REST APIs",
  # Considerations: "API Gateway includes the stage portion of the API
  # endpoint in the request to your backend"), so a vpc_link service with
  # uri http://<alb><path_prefix>/{proxy} is reached at
  # /<stage><path_prefix>/...; the proxy Lambda sends a lambda service's
  # request to <path_prefix>/... (docs/decisions.md, "The stage in a private
  # integration's path").
  alb_path = {
    for k, s in var.services : k => contains(keys(var.vpc_link_services), k) ? "/${var.stage_name}${s.path_prefix}" : s.path_prefix
  }
  # What every service's task is told besides PORT and BASE_PATH: its
  # Set-Cookie policy and its public path (the service kit,
  # portcullis_identity::service, keeps a Set-Cookie only under that path
  # with own_path, and drops every one with none: API Gateway cannot touch an
  # HTTP_PROXY response, and the proxy applies the same rule for lambda
  # services).
  service_kit_env = {
    for k, s in var.services : k => {
      PORTCULLIS_COOKIES     = contains(keys(var.vpc_link_services), k) ? var.vpc_link_services[k].cookies : s.cookies
      PORTCULLIS_PUBLIC_PATH = "/v1/services/${k}"
    }
  }

  # The container health check of each service (ECS HealthCheck), from the
  # registry's health_check: the same path the ALB calls, asked on the task's
  # own port from inside the container. The workload images are distroless
  # (no shell, no curl): each carries a single-purpose static `wget`
  # (busybox's; workloads/*/Dockerfile, and docs/decisions.md "Alarms,
  # dashboard, ALB access logs and container health checks"), run directly
  # (CMD, no shell): exit 0 on a 2xx answer, 1 on any other status or no
  # connection; ECS ends a hung one after `timeout` (no wget -T: Debian's
  # busybox 1.35 crashes with it). ECS's limits (HealthCheck, Amazon ECS API
  # Reference; the same in CloudFormation's AWS::ECS::TaskDefinition
  # HealthCheck): interval 5-300 s, timeout 2-60 s, retries 1-10, startPeriod
  # 0-300 s. The registry's values are clamped into them, and the timeout is
  # kept below the interval (one check ends before the next starts);
  # retries = the ALB's unhealthy_threshold; startPeriod = two intervals, so
  # a task slow to start is not killed before its first checks count.
  container_health_check = {
    for k, s in var.services : k => {
      command     = ["CMD", "/usr/local/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${s.port}${s.health_check.path}"]
      interval    = min(max(s.health_check.interval_seconds, 5), 300)
      timeout     = min(max(s.health_check.timeout_seconds, 2), 60, max(min(max(s.health_check.interval_seconds, 5), 300) - 1, 2))
      retries     = min(max(s.health_check.unhealthy_threshold, 1), 10)
      startPeriod = min(max(2 * s.health_check.interval_seconds, 0), 300)
    }
  }

  # Security group rules are per port: two services on one port share a rule.
  service_ports = toset([for s in var.services : tostring(s.port)])

  # Secrets Manager references of `secrets:` (name or ARN, optional
  # :json-key), parsed once: reference => { secret, json_key }.
  secret_refs = {
    for ref in distinct(concat(flatten([for s in var.services : values(s.secrets)]), flatten([for j in var.jobs : values(j.secrets)]))) : ref => {
      secret   = regex("^(arn:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+|[^:]+)(?::([^:]+))?$", ref)[0]
      json_key = regex("^(arn:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+:[^:]+|[^:]+)(?::([^:]+))?$", ref)[1]
    }
  }
  # A name is looked up (data.aws_secretsmanager_secret.named): the
  # execution role is granted the secret's exact ARN, and valueFrom with a
  # JSON key needs the full ARN.
  secret_arn = { for ref, r in local.secret_refs : ref => startswith(r.secret, "arn:") ? r.secret : data.aws_secretsmanager_secret.named[r.secret].arn }
  # ECS valueFrom: the ARN, or <arn>:<json-key>:: (AWSCURRENT).
  value_from = { for ref, r in local.secret_refs : ref => r.json_key == null ? local.secret_arn[ref] : "${local.secret_arn[ref]}:${r.json_key}::" }
  # Each execution role reads exactly the secrets of its kind's task definitions.
  execution_secret_arns = {
    service = sort(distinct(flatten([for s in var.services : [for v in values(s.secrets) : local.secret_arn[v]]])))
    job     = sort(distinct(flatten([for j in var.jobs : [for v in values(j.secrets) : local.secret_arn[v]]])))
  }
}

data "aws_secretsmanager_secret" "named" {
  for_each = toset([for r in local.secret_refs : r.secret if !startswith(r.secret, "arn:")])
  name     = each.key
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

# --- ECR: one repository per workload ---

resource "aws_ecr_repository" "this" {
  for_each = local.workloads

  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 7 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.ecr_keep_images} images"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.ecr_keep_images }
        action       = { type = "expire" }
      },
    ]
  })
}

# --- Logs ---

resource "aws_cloudwatch_log_group" "service" {
  #checkov:skip=CKV_AWS_338:retention is a per-environment choice (var.log_retention_days; prod 365) or the registry's log_retention_days
  for_each = var.services

  name              = "/ecs/${var.name}/service/${each.key}"
  retention_in_days = coalesce(each.value.log_retention_days, var.log_retention_days)
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "job" {
  #checkov:skip=CKV_AWS_338:retention is a per-environment choice (var.log_retention_days; prod 365) or the registry's log_retention_days
  for_each = var.jobs

  name              = "/ecs/${var.name}/job/${each.key}"
  retention_in_days = coalesce(each.value.log_retention_days, var.log_retention_days)
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# --- IAM: one execution role for services, one for jobs; a task role per
# --- service and per job type (empty: workloads call no AWS API by default) ---

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each           = toset(["service", "job"])
  name               = "${var.name}-${each.key}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  for_each = toset(["service", "job"])

  statement {
    sid       = "PullImages"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = length(aws_ecr_repository.this) > 0 ? [for r in aws_ecr_repository.this : r.arn] : ["arn:${data.aws_partition.current.partition}:ecr:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:repository/${var.name}/*"]
  }

  statement {
    # ecr:GetAuthorizationToken has no resource-level permissions.
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    # The log groups of this kind of task only (/ecs/<name>/service/* or /ecs/<name>/job/*).
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:log-group:/ecs/${var.name}/${each.key}/*:*"]
  }

  dynamic "statement" {
    for_each = each.key == "service" ? [1] : []
    content {
      # ECS (never a container: the execution role's credentials are the
      # agent's) injects each service's own key into its task; task roles
      # get no identity secret at all.
      sid       = "ReadTheServicesIdentityKeys"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = sort(values(var.identity_secret_arns))
    }
  }

  # The registry's `secrets:` of this kind's task definitions, exactly.
  dynamic "statement" {
    for_each = length(local.execution_secret_arns[each.key]) > 0 ? [1] : []
    content {
      sid       = "ReadTheRegistrySecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.execution_secret_arns[each.key]
    }
  }

  statement {
    sid       = "DecryptImagesAndLogs"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = aws_iam_role.execution
  name     = "execution"
  role     = each.value.id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}

resource "aws_iam_role" "service_task" {
  for_each           = var.services
  name               = "${var.name}-svc-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "job_task" {
  for_each           = var.jobs
  name               = "${var.name}-job-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

# --- Task definitions ---

resource "aws_ecs_task_definition" "service" {
  for_each = var.services

  family                   = "${var.name}-svc-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution["service"].arn
  task_role_arn            = aws_iam_role.service_task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name                   = each.key
      image                  = local.image["service/${each.key}"]
      essential              = true
      readonlyRootFilesystem = true
      portMappings           = [{ containerPort = each.value.port, protocol = "tcp" }]
      healthCheck            = local.container_health_check[each.key]
      environment = [
        for k, v in merge(each.value.environment, { PORT = tostring(each.value.port), BASE_PATH = local.alb_path[each.key] }, local.service_kit_env[each.key]) : { name = k, value = v }
      ]
      secrets = concat(
        [{ name = "IDENTITY_SECRET", valueFrom = var.identity_secret_arns[each.key] }],
        [for k, v in each.value.secrets : { name = k, valueFrom = local.value_from[v] }],
      )
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.service[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    }
  ])

  tags = var.tags
}

resource "aws_ecs_task_definition" "job" {
  for_each = var.jobs

  family                   = each.value.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = aws_iam_role.execution["job"].arn
  task_role_arn            = aws_iam_role.job_task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # entryPoint is fixed by the registry: a job's args (the RunTask command
  # override) are only ever its arguments (null: the image's own ENTRYPOINT,
  # allowed only for types that take no args; var.jobs validation).
  container_definitions = jsonencode([
    {
      name                   = each.value.container
      image                  = local.image["job/${each.key}"]
      entryPoint             = each.value.entrypoint
      cpu                    = each.value.cpu
      memory                 = each.value.memory
      essential              = true
      readonlyRootFilesystem = true
      environment            = [for k, v in each.value.environment : { name = k, value = v }]
      secrets                = length(each.value.secrets) > 0 ? [for k, v in each.value.secrets : { name = k, valueFrom = local.value_from[v] }] : null
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.job[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.key
        }
      }
    }
  ])

  tags = var.tags
}

# --- Security groups: ALB <- proxy Lambda (and the VPC link, below); service tasks <- ALB only;
# --- job tasks accept nothing ---

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Internal ALB: reachable only from the proxy Lambda"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_proxy" {
  #checkov:skip=CKV_AWS_260:the source is the proxy Lambda's security group, not 0.0.0.0/0
  security_group_id            = aws_security_group.alb.id
  description                  = "HTTP from the proxy Lambda"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = var.proxy_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "proxy_to_alb" {
  security_group_id            = var.proxy_security_group_id
  description                  = "HTTP to the internal ALB"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_services" {
  for_each = local.service_ports

  security_group_id            = aws_security_group.alb.id
  description                  = "To the service tasks on port ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.service.id
}

resource "aws_security_group" "service" {
  name        = "${var.name}-services"
  description = "Service tasks: reachable only from the internal ALB"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-services" })
}

resource "aws_vpc_security_group_ingress_rule" "service_from_alb" {
  for_each = local.service_ports

  security_group_id            = aws_security_group.service.id
  description                  = "Service port ${each.key} from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_security_group" "job" {
  #checkov:skip=CKV2_AWS_5:attached at RunTask time by the jobs and reconciler functions (JOB_SECURITY_GROUPS)
  name        = "${var.name}-jobs"
  description = "Job tasks: no inbound traffic"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-jobs" })
}

# Tasks pull images and write logs over HTTPS (VPC endpoints or the NAT).
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = {
    service = aws_security_group.service.id
    job     = aws_security_group.job.id
  }

  security_group_id = each.value
  description       = "HTTPS to AWS APIs and registries"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Internal ALB: one listener, a rule and an ip target group per service ---

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_20:no HTTPS listener to redirect to on this internal ALB (see CKV_AWS_2 on the listener)
  #checkov:skip=CKV2_AWS_28:internal ALB, not reachable from the internet: WAF sits in front of API Gateway instead
  name                       = substr("${var.name}-internal", 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = 60

  access_logs {
    enabled = true
    bucket  = aws_s3_bucket.alb_logs.id
    prefix  = local.alb_log_prefix
  }

  tags = var.tags

  # ELB checks that it may write to the bucket when access logs are turned on.
  depends_on = [aws_s3_bucket_policy.alb_logs]
}

resource "aws_lb_listener" "this" {
  #checkov:skip=CKV_AWS_2:internal listener reached only by the proxy Lambda's security group; TLS ends at API Gateway and requests carry HMAC-signed identity headers
  #checkov:skip=CKV_AWS_103:no TLS on this internal listener (see CKV_AWS_2)
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      message_body = "{\"title\":\"no such service\",\"status\":404}"
      status_code  = "404"
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:plain HTTP inside the VPC between the internal ALB and the tasks (see the listener)
  for_each = var.services

  name                 = substr("${var.name}-${each.key}", 0, 32)
  port                 = each.value.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    enabled             = true
    path                = each.value.health_check.path
    matcher             = each.value.health_check.matcher
    interval            = each.value.health_check.interval_seconds
    timeout             = each.value.health_check.timeout_seconds
    healthy_threshold   = each.value.health_check.healthy_threshold
    unhealthy_threshold = each.value.health_check.unhealthy_threshold
  }

  tags = var.tags
}

resource "aws_lb_listener_rule" "this" {
  for_each = var.services

  listener_arn = aws_lb_listener.this.arn
  # From the registry (services.<name>.priority, validated unique): adding
  # or removing a service moves no other rule.
  priority = each.value.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }

  condition {
    path_pattern {
      values = [local.alb_path[each.key], "${local.alb_path[each.key]}/*"]
    }
  }

  tags = var.tags
}

# --- Services ---

resource "aws_ecs_service" "this" {
  for_each = var.services

  name                              = each.key
  cluster                           = aws_ecs_cluster.this.arn
  task_definition                   = aws_ecs_task_definition.service[each.key].arn
  desired_count                     = each.value.desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 30
  propagate_tags                    = "SERVICE"
  enable_ecs_managed_tags           = true
  enable_execute_command            = false
  wait_for_steady_state             = false

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.service.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this[each.key].arn
    container_name   = each.key
    container_port   = each.value.port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  tags       = var.tags
  depends_on = [aws_lb_listener_rule.this]
}

resource "aws_appautoscaling_target" "this" {
  for_each = var.services

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "this" {
  for_each = var.services

  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.cpu_target
    scale_in_cooldown  = 120
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
