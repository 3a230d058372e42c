# Local: the same root applied to the AWS emulator (moto server, IAM enforced)
# by scripts/tf-local.sh, which also aims the provider at the emulator and
# keeps the state in .local/. Everything is as in dev except the switches
# below, each listed with its reason in docs/local-gateway.md ("What the local
# environment switches off").
environment = "local"
region      = "us-east-1"

single_nat_gateway = true
az_count           = 2

db_instance_class        = "db.t4g.micro"
db_multi_az              = false
db_backup_retention_days = 1
db_deletion_protection   = false
db_enable_proxy          = false
db_auth_mode             = "iam"

alb_deletion_protection     = false
ecr_force_delete            = true
cognito_deletion_protection = false

log_retention_days = 30
log_level          = "DEBUG"

# Same as dev (the end-to-end tests prove revocation within it).
authorizer_cache_ttl_seconds = 5

# The web console (scripts/web-serve.py) by name and by address: two origins.
cors_allow_origins = ["http://localhost:5173", "http://127.0.0.1:5173"]

# Members of `admins` may also call the sample private service (the console's
# services view; docs/web.md).
cognito_group_scopes = {
  admins = ["keys:admin", "jobs:read", "jobs:write", "services:sample", "services:web"]
}
# Tenant groups besides the platform tenant's (tenant:platform, always made):
# the demo user of make local is in tenant:platform and admins.
cognito_tenants = ["platform", "acme"]

web_callback_urls = ["http://localhost:5173/callback"]
web_logout_urls   = ["http://localhost:5173/"]

api_throttle_rate_limit  = 20
api_throttle_burst_limit = 40

# --- Switched off locally (docs/local-gateway.md says why) ---

# The emulator cannot invoke a Lambda (that needs Docker); make local applies
# the migrations to the host's PostgreSQL itself.
run_migrations = false

# The emulator has no CloudFront response headers policies; scripts/web-serve.py
# serves the console locally.
web_console_enabled = false

# --- Added locally ---

# The functions run inside the local gateway, which takes each one's AWS
# credentials from its own role (sts:AssumeRole as the emulator's
# administrator, created by scripts/moto-server.py in moto's default account).
function_role_trusted_principals = ["arn:aws:iam::123456789012:user/portcullis-admin"]
