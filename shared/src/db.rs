//! Database access: a PgPool sized for Lambda from DATABASE_URL, a Secrets Manager secret or RDS IAM tokens (issue 2).
