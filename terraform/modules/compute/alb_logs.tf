# --- The internal ALB's access logs: an S3 bucket of their own ---
#
# "Enable access logs for your Application Load Balancer" (Elastic Load
# Balancing User Guide): the bucket must be in the ALB's Region, and "the
# only server-side encryption option that's supported is Amazon S3-managed
# keys (SSE-S3)", so this bucket is SSE-S3, not the platform's KMS key. Its
# bucket policy lets the log delivery service principal
# (logdelivery.elasticloadbalancing.amazonaws.com, the form AWS recommends,
# and the only one in Regions opened since August 2022) write under
# <prefix>/AWSLogs/<account>/, and, in the Regions that have one, the
# Region's Elastic Load Balancing account too (the legacy form, still
# supported). Nothing else may write; every request must use TLS.

locals {
  alb_log_prefix = "alb"
  # The Region's Elastic Load Balancing account (legacy bucket policy), from
  # the page above; Regions without one use the service principal alone.
  elb_account_ids = {
    us-east-1      = "127311923021"
    us-east-2      = "033677994240"
    us-west-1      = "027434742980"
    us-west-2      = "797873946194"
    af-south-1     = "098369216593"
    ap-east-1      = "754344448648"
    ap-southeast-3 = "589379963580"
    ap-south-1     = "718504428378"
    ap-northeast-3 = "383597477331"
    ap-northeast-2 = "600734575887"
    ap-southeast-1 = "114774131450"
    ap-southeast-2 = "783225319266"
    ap-northeast-1 = "582318560864"
    ca-central-1   = "985666609251"
    eu-central-1   = "054676820928"
    eu-west-1      = "156460612806"
    eu-west-2      = "652711504416"
    eu-south-1     = "635631232127"
    eu-west-3      = "009996457667"
    eu-north-1     = "897822967062"
    me-south-1     = "076674570225"
    sa-east-1      = "507241528517"
    us-gov-east-1  = "190560391635"
    us-gov-west-1  = "048591011584"
  }
  elb_account_id  = lookup(local.elb_account_ids, data.aws_region.current.name, null)
  alb_log_objects = "${aws_s3_bucket.alb_logs.arn}/${local.alb_log_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
}

resource "aws_s3_bucket" "alb_logs" {
  #checkov:skip=CKV_AWS_145:ALB access logs support SSE-S3 only (Elastic Load Balancing, "Enable access logs for your Application Load Balancer"); a KMS default would stop delivery
  #checkov:skip=CKV_AWS_18:this bucket holds access logs; logging its own access would need another bucket, and only ELB writes to it
  #checkov:skip=CKV_AWS_144:access logs are kept in the Region of the ALB for var.alb_log_retention_days; no cross-Region copy is needed
  #checkov:skip=CKV2_AWS_62:nothing consumes the log objects as they arrive; they are read on demand (Athena, aws s3 cp)
  bucket        = lower("${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}")
  force_destroy = !var.alb_deletion_protection
  tags          = var.tags
}

resource "aws_s3_bucket_server_side_encryption_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    # The whole bucket: it holds the ALB's logs only.
    filter {}
    expiration {
      days = var.alb_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.alb_logs]
}

resource "aws_s3_bucket_public_access_block" "alb_logs" {
  bucket                  = aws_s3_bucket.alb_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "alb_logs" {
  statement {
    sid       = "ElbLogDelivery"
    actions   = ["s3:PutObject"]
    resources = [local.alb_log_objects]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = local.elb_account_id == null ? [] : [local.elb_account_id]
    content {
      sid       = "ElbRegionalAccount"
      actions   = ["s3:PutObject"]
      resources = [local.alb_log_objects]
      principals {
        type        = "AWS"
        identifiers = ["arn:${data.aws_partition.current.partition}:iam::${statement.value}:root"]
      }
    }
  }

  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.alb_logs.arn, "${aws_s3_bucket.alb_logs.arn}/*"]
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

resource "aws_s3_bucket_policy" "alb_logs" {
  bucket = aws_s3_bucket.alb_logs.id
  policy = data.aws_iam_policy_document.alb_logs.json

  depends_on = [aws_s3_bucket_public_access_block.alb_logs]
}
