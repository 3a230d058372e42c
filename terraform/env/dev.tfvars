# Development: small, cheap, easy to tear down.
environment = "dev"
region      = "eu-west-1"

single_nat_gateway = true
az_count           = 2

db_instance_class        = "db.t4g.micro"
db_multi_az              = false
db_backup_retention_days = 1
db_deletion_protection   = false
db_enable_proxy          = false
# Functions log in with RDS IAM tokens as db_app_user, a role the migrate
# function creates and grants on every apply (DB_APP_USER).
db_auth_mode = "iam"

alb_deletion_protection     = false
ecr_force_delete            = true
cognito_deletion_protection = false

log_retention_days = 30
log_level          = "DEBUG"

# A warm authorizer keeps a verified credential this long (AUTH_CACHE_TTL_SECS):
# a revoked key may work for up to 5 s on a warm instance. local.tfvars uses
# the same value, and the end-to-end tests prove the bound at it.
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
