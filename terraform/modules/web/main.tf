locals {
  # The console's files: plain ES modules, no build step (docs/web.md).
  # config.json is rendered from the deployment, never taken from disk.
  files = toset([
    for f in fileset(var.source_dir, "**") : f
    if f != "config.json" && !startswith(f, "tests/") && f != "package.json" && !endswith(f, ".tmp")
  ])

  content_types = {
    html = "text/html; charset=utf-8"
    js   = "text/javascript; charset=utf-8"
    mjs  = "text/javascript; charset=utf-8"
    css  = "text/css; charset=utf-8"
    json = "application/json"
    png  = "image/png"
    svg  = "image/svg+xml"
    ico  = "image/x-icon"
    txt  = "text/plain; charset=utf-8"
  }

  # index.html and config.json are revalidated on every load, so a deploy
  # shows at once; the modules and styles may be cached for five minutes.
  no_cache = toset(["index.html", "config.json"])

  # AWS managed cache policy "CachingOptimized": honours the objects' Cache-Control.
  caching_optimized_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"

  content_security_policy = join("; ", [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' ${join(" ", var.connect_origins)}",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ])
}

# --- Private bucket: only the distribution reads it ---

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:the only reader is CloudFront; its requests are the access record, and S3 access logs would need a second bucket for a few static files
  #checkov:skip=CKV_AWS_144:the content is the repository's web/ folder, uploaded again by every terraform apply; a replica adds nothing
  #checkov:skip=CKV2_AWS_62:nothing reacts to uploads of the console's static files
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256): the files are the public console; a KMS key would need CloudFront granted kms:Decrypt for no secrecy gained
  bucket_prefix = "${substr(var.name, 0, 30)}-web-"
  force_destroy = true
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontReadsThroughOriginAccessControl"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket     = aws_s3_bucket.this.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_object" "files" {
  for_each = local.files

  bucket        = aws_s3_bucket.this.id
  key           = each.value
  source        = "${var.source_dir}/${each.value}"
  etag          = filemd5("${var.source_dir}/${each.value}")
  content_type  = lookup(local.content_types, lower(reverse(split(".", each.value))[0]), "application/octet-stream")
  cache_control = contains(local.no_cache, each.value) ? "no-cache" : "max-age=300"
  tags          = var.tags
}

resource "aws_s3_object" "config" {
  bucket        = aws_s3_bucket.this.id
  key           = "config.json"
  content       = var.config_json
  etag          = md5(var.config_json)
  content_type  = "application/json"
  cache_control = "no-cache"
  tags          = var.tags
}

# --- CloudFront: HTTPS, origin access control, security headers ---

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name}-web"
  description                       = "Portcullis web console bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "this" {
  name    = "${var.name}-web-security-headers"
  comment = "Portcullis web console: CSP limited to the API and Cognito, HSTS, no framing"

  security_headers_config {
    content_security_policy {
      content_security_policy = local.content_security_policy
      override                = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_68:a WAF is optional (web_acl_arn): the distribution serves only static files, the API behind it has its own authorizer, throttling and optional WAF
  #checkov:skip=CKV2_AWS_47:same as CKV_AWS_68 (the WAF and its rule sets are optional via web_acl_arn)
  #checkov:skip=CKV_AWS_86:standard logging needs a log bucket with ACLs enabled; the console's static files carry no secrets and the API keeps its own access log
  #checkov:skip=CKV_AWS_310:one origin (the bucket, in the platform's region); a failover origin would need a replica for a few static files
  #checkov:skip=CKV_AWS_374:the console is for the platform's users wherever they are; access is controlled by Cognito sign-in, not by country
  #checkov:skip=CKV_AWS_174:the default *.cloudfront.net certificate allows only TLSv1 as its minimum; a custom domain with its own certificate is not part of this module
  #checkov:skip=CKV2_AWS_42:see CKV_AWS_174: the distribution uses its default *.cloudfront.net certificate
  enabled             = true
  is_ipv6_enabled     = true
  comment             = "${var.name} web console"
  default_root_object = "index.html"
  price_class         = var.price_class
  web_acl_id          = var.web_acl_arn
  http_version        = "http2and3"

  origin {
    origin_id                = "console"
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = "console"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized_policy_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = var.tags
}
