# What each Lambda gets: size, environment and the IAM statements beyond
# logs / X-Ray / VPC networking (added by modules/functions).

locals {
  partition = data.aws_partition.current.partition

  # Functions API Gateway invokes: every function the rendered OpenAPI body
  # names (integrations and the authorizer). From the openapi module's
  # per-path function list, known at plan: the body itself is not while the
  # VPC link and the ALB are being made.
  api_functions = toset([for f in local.function_names : f if contains(flatten(values(module.openapi.path_function_arns)), local.function_arn[f])])

  # Each service's identity key goes to the one function that signs for it:
  # the proxy for integration lambda, the authorizer for vpc_link (the
  # identity reaches the service through API Gateway's header mappings).
  identity_secret_arns = {
    for kind in ["lambda", "vpc_link"] : kind => {
      for s, secret in aws_secretsmanager_secret.identity : s => secret.arn if(contains(keys(local.vpc_link_services), s) ? "vpc_link" : "lambda") == kind
    }
  }
  # The statement reading a function's identity keys, when it has any (IAM
  # refuses an empty resource list). The keys are encrypted with the platform
  # key, which every function may decrypt (modules/functions DecryptEnvironment).
  read_identity_keys = {
    for kind, arns in local.identity_secret_arns : kind => [
      for v in [1] : {
        sid       = "ReadTheIdentitySigningKeys"
        actions   = ["secretsmanager:GetSecretValue"]
        resources = sort(values(arns))
      } if length(arns) > 0
    ]
  }

  # db_auth_mode "iam": RDS IAM tokens as the app user (least privilege; the
  # migrate function creates and grants the role on every apply, DB_APP_USER).
  # "secret": the RDS-managed master secret, straight to the instance.
  # TLS is verify-full: certificate and host name checked against the RDS CA
  # bundle compiled into portcullis-db (shared/db/certs, scripts/rds-ca-bundle.sh).
  db_env = var.db_auth_mode == "iam" ? tomap({
    DB_IAM_AUTH = "true"
    DB_HOST     = module.data.endpoint_host
    DB_PORT     = tostring(module.data.port)
    DB_NAME     = module.data.database_name
    DB_USER     = var.db_app_user
    DB_SSL_MODE = "verify-full"
    }) : tomap({
    DB_SECRET_ARN = module.data.master_user_secret_arn
    DB_HOST       = module.data.instance_host
    DB_PORT       = tostring(module.data.port)
    DB_NAME       = module.data.database_name
    DB_SSL_MODE   = "verify-full"
  })

  # The registry ships inside every zip (`make build` adds platform.yaml).
  # DEPLOYMENT_ENVIRONMENT: the Environment dimension of every function's
  # metrics (docs/observability.md), which the alarms select on; the
  # authorizer and the proxy also serve only the services deployed here.
  platform_env = { PLATFORM_FILE = "/var/task/platform.yaml", DEPLOYMENT_ENVIRONMENT = var.environment }

  # Per-consumer usage keys (portcullis_auth::usage): the authorizer returns
  # <prefix>key-<key id> / <prefix>tenant-<tenant> as usageIdentifierKey, and
  # the keys function creates those API keys in USAGE_PLAN_IDS' plans.
  usage_key_prefix = "${local.name}-"
  usage_plan_ids   = join(";", [for plan, id in module.api.usage_plan_ids : "${plan}=${id}"])
  apigw_arn        = "arn:${local.partition}:apigateway:${local.region}::"
  # This deployment's usage plans only (a placeholder that matches nothing
  # when platform.yaml defines none: IAM refuses an empty resource list).
  usage_plan_arns = length(module.api.usage_plan_ids) > 0 ? [for id in values(module.api.usage_plan_ids) : "${local.apigw_arn}/usageplans/${id}"] : ["${local.apigw_arn}/usageplans/${local.name}-no-usage-plans"]

  # CORS of the HTTP functions (portcullis_core::cors), which answer the
  # preflights and put the headers on every answer: the allowed origins of
  # this environment (plus the hosted console's), and the header lists and
  # max age of the contract's x-portcullis-cors block, their one source.
  cors_allow_origins = distinct(concat(var.cors_allow_origins, local.web_origins))
  cors_env = {
    CORS_ALLOW_ORIGINS     = join(",", local.cors_allow_origins)
    CORS_ALLOW_HEADERS     = join(",", try(module.openapi.cors.allowHeaders, []))
    CORS_EXPOSE_HEADERS    = join(",", try(module.openapi.cors.exposeHeaders, []))
    CORS_MAX_AGE_SECS      = tostring(try(module.openapi.cors.maxAgeSeconds, 0))
    CORS_ALLOW_CREDENTIALS = tostring(try(module.openapi.cors.allowCredentials, false))
  }

  ecs_env = {
    ECS_CLUSTER         = module.compute.cluster_arn
    JOB_SUBNETS         = join(",", module.network.private_subnet_ids)
    JOB_SECURITY_GROUPS = module.compute.job_security_group_id
  }

  cluster_condition = [{ test = "ArnEquals", variable = "ecs:cluster", values = [module.compute.cluster_arn] }]

  db_user_arns = compact([
    "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${module.data.resource_id}/${var.db_app_user}",
    var.db_enable_proxy ? "arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${module.data.proxy_resource_id}/${var.db_app_user}" : "",
  ])

  db_access = var.db_auth_mode == "iam" ? {
    sid       = "ConnectAsTheAppUser"
    actions   = ["rds-db:connect"]
    resources = local.db_user_arns
    } : {
    sid       = "ReadTheDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.data.master_user_secret_arn]
  }

  job_family_arns = length(module.compute.job_task_definition_family_arns) > 0 ? values(module.compute.job_task_definition_family_arns) : ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${local.name}-no-job-types:*"]
  cluster_tasks   = "arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${module.compute.cluster_name}/*"

  # ListTasks has no narrower resource: it is authorised on the cluster
  # through the ecs:cluster condition. The jobs function lists a queued job's
  # tasks before cancelling it; the reconciler syncs the cluster's tasks.
  list_job_tasks = {
    sid        = "ListJobTasks"
    actions    = ["ecs:ListTasks"]
    resources  = ["*"]
    conditions = local.cluster_condition
  }

  # Lambda hands a failed asynchronous invocation to the on-failure
  # destination (the function's DLQ) with the function's own role; the queue
  # is encrypted with the platform key.
  send_failures = {
    for f in ["task-events", "reconciler"] : f => [
      {
        sid       = "SendFailedInvocationsToTheDlq"
        actions   = ["sqs:SendMessage"]
        resources = [module.events.dlq_arns[f]]
      },
      {
        sid       = "EncryptFailedInvocations"
        actions   = ["kms:GenerateDataKey"]
        resources = [aws_kms_key.this.arn]
      },
    ]
  }

  run_jobs = [
    {
      sid        = "RunRegisteredJobTypes"
      actions    = ["ecs:RunTask"]
      resources  = local.job_family_arns
      conditions = local.cluster_condition
    },
    {
      sid        = "TagTheTasksItStarts"
      actions    = ["ecs:TagResource"]
      resources  = [local.cluster_tasks]
      conditions = [{ test = "StringEquals", variable = "ecs:CreateAction", values = ["RunTask"] }]
    },
    {
      sid        = "WatchAndStopJobTasks"
      actions    = ["ecs:DescribeTasks", "ecs:StopTask"]
      resources  = [local.cluster_tasks]
      conditions = local.cluster_condition
    },
    {
      sid        = "PassOnlyJobRoles"
      actions    = ["iam:PassRole"]
      resources  = module.compute.job_pass_role_arns
      conditions = [{ test = "StringEquals", variable = "iam:PassedToService", values = ["ecs-tasks.amazonaws.com"] }]
    },
  ]

  functions = {
    authorizer = {
      description = "API Gateway REQUEST authorizer: API keys and Cognito JWTs"
      memory_size = 256
      timeout     = 10
      vpc         = true
      # No COGNITO_JWKS_URL: the authorizer derives it from the issuer, or
      # uses COGNITO_JWKS_JSON alone (no egress needed) when that is set.
      # COGNITO_CLIENT_TENANTS: the machine client's tenant (users get theirs
      # from their one tenant:<id> group; docs/auth.md#tenancy).
      environment = merge(local.db_env, local.platform_env, {
        COGNITO_ISSUER         = module.auth.issuer
        COGNITO_CLIENT_IDS     = join(",", [module.auth.web_client_id, module.auth.machine_client_id])
        COGNITO_SCOPE_PREFIX   = "${module.auth.resource_server_identifier}/"
        COGNITO_GROUP_SCOPES   = join(";", [for g, scopes in var.cognito_group_scopes : "${g}=${join(" ", scopes)}"])
        COGNITO_CLIENT_TENANTS = var.cognito_machine_client_tenant == null ? "" : "${module.auth.machine_client_id}=${var.cognito_machine_client_tenant}"
        USAGE_KEY_PREFIX       = local.usage_key_prefix
        AUTH_CACHE_TTL_SECS    = tostring(var.authorizer_cache_ttl_seconds)
        # The vpc_link services' own keys (<service>=<secret ARN>,...): the
        # authorizer signs the identity it hands them (docs/proxy.md).
        IDENTITY_SECRET_ARNS = join(",", [for s, arn in local.identity_secret_arns["vpc_link"] : "${s}=${arn}"])
        # Only the services deployed here need a key (their `environments`).
        DEPLOYMENT_ENVIRONMENT = var.environment
        }, var.cognito_jwks_json == null ? {} : { COGNITO_JWKS_JSON = var.cognito_jwks_json }
      )
      # The vpc_link services' identity keys, exactly those secrets.
      statements = concat([local.db_access], local.read_identity_keys["vpc_link"])
    }

    jobs = {
      description = "Jobs API: submit, list, get, cancel (ECS RunTask/StopTask)"
      memory_size = 256
      timeout     = 29
      vpc         = true
      environment = merge(local.db_env, local.platform_env, local.ecs_env, local.cors_env)
      statements  = concat([local.db_access], local.run_jobs, [local.list_job_tasks])
    }

    proxy = {
      description = "Forwards calls to the private services behind the internal ALB"
      memory_size = 512
      timeout     = 29
      vpc         = true
      environment = merge(local.db_env, local.platform_env, local.cors_env, {
        PROXY_ALB_URL = module.compute.alb_base_url
        # The lambda services' own keys: <service>=<secret ARN>,...
        IDENTITY_SECRET_ARNS = join(",", [for s, arn in local.identity_secret_arns["lambda"] : "${s}=${arn}"])
        # Services whose `environments` leave this one out are not served.
        DEPLOYMENT_ENVIRONMENT = var.environment
      })
      # The lambda services' identity keys, exactly those secrets.
      statements = concat([local.db_access], local.read_identity_keys["lambda"])
    }

    keys = {
      description = "API key administration, /v1/me and /v1/health"
      memory_size = 256
      timeout     = 29
      vpc         = true
      environment = merge(local.db_env, local.platform_env, local.cors_env, {
        APIGW_REST_API_ID = module.api.rest_api_id
        APIGW_STAGE       = var.stage_name
        DEFAULT_PLAN      = contains(keys(local.usage_plans), "standard") ? "standard" : try(keys(local.usage_plans)[0], "")
        PLATFORM_TENANT   = var.platform_tenant
        USAGE_KEY_PREFIX  = local.usage_key_prefix
        USAGE_PLAN_IDS    = local.usage_plan_ids
      })
      statements = [
        local.db_access,
        {
          # FlushStageAuthorizersCache after a revocation, on this stage only.
          sid       = "FlushTheStageAuthorizerCache"
          actions   = ["apigateway:DELETE"]
          resources = ["arn:${local.partition}:apigateway:${local.region}::/restapis/${module.api.rest_api_id}/stages/${var.stage_name}/cache/authorizers"]
        },
        {
          # /v1/health reads the account settings (GetAccount) to prove the
          # function reaches API Gateway with its role.
          sid       = "ReadTheApiGatewayAccount"
          actions   = ["apigateway:GET"]
          resources = ["arn:${local.partition}:apigateway:${local.region}::/account"]
        },
        {
          # A usage key per Portcullis key and per tenant (CreateApiKey;
          # GetApiKeys finds one by name).
          sid       = "CreateAndFindUsageKeys"
          actions   = ["apigateway:POST", "apigateway:GET"]
          resources = ["${local.apigw_arn}/apikeys"]
        },
        {
          # Disable a revoked key's usage key (UpdateApiKey), read it, delete
          # the key of a creation whose usage plan step failed.
          sid       = "ManageUsageKeys"
          actions   = ["apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"]
          resources = ["${local.apigw_arn}/apikeys/*"]
        },
        {
          # Which plans hold a tenant's usage key (GetUsagePlans?keyId=).
          sid       = "FindTheUsagePlansOfAKey"
          actions   = ["apigateway:GET"]
          resources = ["${local.apigw_arn}/usageplans"]
        },
        {
          # Put a usage key in this deployment's plans (CreateUsagePlanKey).
          sid       = "PutUsageKeysInThePlans"
          actions   = ["apigateway:POST"]
          resources = [for p in local.usage_plan_arns : "${p}/keys"]
        },
        {
          # Take a tenant's usage key out of a plan when its user_plan changes.
          sid       = "TakeUsageKeysOutOfThePlans"
          actions   = ["apigateway:DELETE"]
          resources = [for p in local.usage_plan_arns : "${p}/keys/*"]
        },
      ]
    }

    task-events = {
      description = "Applies ECS task state change events to jobs"
      memory_size = 256
      timeout     = 30
      vpc         = true
      environment = merge(local.db_env, local.platform_env, local.ecs_env)
      statements  = concat([local.db_access], local.send_failures["task-events"])
    }

    reconciler = {
      description = "Re-drives queued jobs, syncs missed events, stops timed-out jobs"
      memory_size = 256
      timeout     = 55
      vpc         = true
      environment = merge(local.db_env, local.platform_env, local.ecs_env)
      statements  = concat([local.db_access], local.run_jobs, [local.list_job_tasks], local.send_failures["reconciler"])
    }

    migrate = {
      description = "Runs the sqlx migrations (invoked by Terraform on apply and by make migrate)"
      memory_size = 256
      timeout     = 300
      vpc         = true
      environment = merge(local.platform_env, {
        DB_SECRET_ARN = module.data.master_user_secret_arn
        DB_HOST       = module.data.instance_host
        DB_PORT       = tostring(module.data.port)
        DB_NAME       = module.data.database_name
        DB_SSL_MODE   = "verify-full"
        DB_APP_USER   = var.db_app_user # role ensured after migrating (docs/database.md)
      })
      statements = [
        {
          sid       = "ReadTheMasterSecret"
          actions   = ["secretsmanager:GetSecretValue"]
          resources = [module.data.master_user_secret_arn]
        },
      ]
    }
  }
}
