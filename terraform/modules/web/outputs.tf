output "url" {
  description = "URL of the console (https://<distribution>.cloudfront.net/)."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}/"
}

output "origin" {
  description = "Origin of the console (scheme and host, no trailing slash): what the API's CORS allowlist and the Cognito app client's callback and logout URLs name."
  value       = "https://${aws_cloudfront_distribution.this.domain_name}"
}

output "bucket_name" {
  description = "Private S3 bucket of the console's files."
  value       = aws_s3_bucket.this.id
}

output "distribution_id" {
  description = "CloudFront distribution of the console (for invalidations)."
  value       = aws_cloudfront_distribution.this.id
}
