# Production: redundant, protected, logs kept a year.
environment = "prod"
region      = "eu-west-1"

single_nat_gateway = false
az_count           = 3

db_instance_class        = "db.m7g.large"
db_allocated_storage     = 100
db_multi_az              = true
db_backup_retention_days = 30
db_deletion_protection   = true
db_enable_proxy          = true

alb_deletion_protection     = true
cognito_deletion_protection = true

log_retention_days = 365
log_level          = "INFO"

# Replace with the real web origin(s) and callback URLs.
cors_allow_origins = ["https://app.example.com"]
web_callback_urls  = ["https://app.example.com/callback"]
web_logout_urls    = ["https://app.example.com/"]

api_throttle_rate_limit  = 500
api_throttle_burst_limit = 1000

# domain_name    = "api.example.com"
# hosted_zone_id = "Z0123456789ABCDEFGHIJ"
# alarm_email    = "oncall@example.com"
