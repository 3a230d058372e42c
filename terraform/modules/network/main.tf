data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:the subnets take the first var.az_count zones in name order; a new zone never changes that prefix
  state = "available"

  lifecycle {
    postcondition {
      condition     = length([for i, n in self.names : n if !local.vpc_link_restricted || contains(local.vpc_link_az_ids, try(self.zone_ids[i], ""))]) >= var.az_count
      error_message = "The VPC link (v2) works only in some Availability Zones of ${data.aws_region.current.name} (${join(", ", local.vpc_link_az_ids)}; API Gateway Developer Guide, \"Set up VPC links V2 in API Gateway\", Availability by Region: https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-vpc-links-v2.html), and this account has fewer than az_count = ${var.az_count} of them available (its zones: ${join(", ", [for i, n in self.names : "${n}=${try(self.zone_ids[i], "?")}"])}). Lower az_count or deploy to another region."
    }
  }
}

locals {
  create_vpc = var.vpc_id == null
  # A VPC link (v2) can only be made in subnets of the Availability Zone IDs
  # that support it (var.vpc_link_supported_az_ids): with one, the subnets
  # take the first var.az_count zones (in name order) whose ID supports it;
  # otherwise the first var.az_count zones. AZ IDs, not names: a name maps
  # to a different physical zone in each account. (existing_private_subnet_ids
  # are the caller's: they must be in those zones; not checked here.)
  vpc_link_az_ids     = lookup(var.vpc_link_supported_az_ids, data.aws_region.current.name, [])
  vpc_link_restricted = var.vpc_link && length(local.vpc_link_az_ids) > 0
  azs = slice([
    for i, n in data.aws_availability_zones.available.names : n
    if !local.vpc_link_restricted || contains(local.vpc_link_az_ids, try(data.aws_availability_zones.available.zone_ids[i], ""))
  ], 0, var.az_count)
  vpc_id   = local.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  vpc_cidr = local.create_vpc ? aws_vpc.this[0].cidr_block : data.aws_vpc.existing[0].cidr_block

  # /20 per subnet: private subnets first, public ones after them.
  private_subnets = { for i, az in local.azs : az => cidrsubnet(var.cidr_block, 4, i) }
  public_subnets  = { for i, az in local.azs : az => cidrsubnet(var.cidr_block, 4, i + 8) }

  private_subnet_ids = local.create_vpc ? [for az in local.azs : aws_subnet.private[az].id] : var.existing_private_subnet_ids
  nat_azs            = local.create_vpc ? (var.single_nat_gateway ? [local.azs[0]] : local.azs) : []
}

data "aws_vpc" "existing" {
  count = local.create_vpc ? 0 : 1
  id    = var.vpc_id
}

resource "aws_vpc" "this" {
  count = local.create_vpc ? 1 : 0

  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

# The default security group of a new VPC allows nothing.
resource "aws_default_security_group" "this" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-default-deny" })
}

resource "aws_subnet" "private" {
  for_each = local.create_vpc ? local.private_subnets : {}

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = each.value
  availability_zone = each.key

  tags = merge(var.tags, { Name = "${var.name}-private-${each.key}", Tier = "private" })
}

resource "aws_subnet" "public" {
  for_each = local.create_vpc ? local.public_subnets : {}

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = each.value
  availability_zone       = each.key
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${each.key}", Tier = "public" })
}

resource "aws_internet_gateway" "this" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_eip" "nat" {
  for_each = toset(local.nat_azs)
  domain   = "vpc"
  tags     = merge(var.tags, { Name = "${var.name}-nat-${each.key}" })
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local.nat_azs)

  allocation_id = aws_eip.nat[each.key].id
  subnet_id     = aws_subnet.public[each.key].id

  tags       = merge(var.tags, { Name = "${var.name}-${each.key}" })
  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "public" {
  count  = local.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  count                  = local.create_vpc ? 1 : 0
  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  for_each       = aws_subnet.public
  subnet_id      = each.value.id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  for_each = local.create_vpc ? local.private_subnets : {}
  vpc_id   = aws_vpc.this[0].id
  tags     = merge(var.tags, { Name = "${var.name}-private-${each.key}" })
}

resource "aws_route" "private_nat" {
  for_each               = aws_route_table.private
  route_table_id         = each.value.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = var.single_nat_gateway ? aws_nat_gateway.this[local.azs[0]].id : aws_nat_gateway.this[each.key].id
}

resource "aws_route_table_association" "private" {
  for_each       = aws_subnet.private
  subnet_id      = each.value.id
  route_table_id = aws_route_table.private[each.key].id
}

# --- VPC endpoints: the Lambdas and tasks reach AWS APIs without the NAT ---

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-vpc-endpoints"
  description = "Interface VPC endpoints: HTTPS from inside the VPC"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-vpc-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the VPC"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = local.vpc_cidr
}

resource "aws_vpc_endpoint" "interface" {
  for_each = var.interface_endpoints

  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.private_subnet_ids
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = merge(var.tags, { Name = "${var.name}-${each.key}" })
}

# The private API's door (var.execute_api_endpoint): an interface endpoint for
# execute-api with its own security group. Private DNS is on, so inside the
# VPC https://<api-id>.execute-api.<region>.amazonaws.com goes through it
# (and so does every other API's default hostname: docs/terraform.md#private-api).
resource "aws_security_group" "execute_api" {
  count = var.execute_api_endpoint ? 1 : 0

  name        = "${var.name}-execute-api-endpoint"
  description = "Interface VPC endpoint for execute-api (the private API): HTTPS from inside the VPC"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-execute-api-endpoint" })
}

resource "aws_vpc_security_group_ingress_rule" "execute_api_https" {
  count = var.execute_api_endpoint ? 1 : 0

  security_group_id = aws_security_group.execute_api[0].id
  description       = "HTTPS from the VPC to the private API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = local.vpc_cidr
}

resource "aws_vpc_endpoint" "execute_api" {
  count = var.execute_api_endpoint ? 1 : 0

  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.execute-api"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.private_subnet_ids
  security_group_ids  = [aws_security_group.execute_api[0].id]

  tags = merge(var.tags, { Name = "${var.name}-execute-api" })
}

# ECR image layers come from S3.
resource "aws_vpc_endpoint" "s3" {
  count = local.create_vpc ? 1 : 0

  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [for rt in aws_route_table.private : rt.id]

  tags = merge(var.tags, { Name = "${var.name}-s3" })
}

# --- One security group per VPC Lambda (rules to RDS / the ALB are added by
# --- the modules that own those targets) ---

resource "aws_security_group" "function" {
  #checkov:skip=CKV2_AWS_5:attached to the Lambda's vpc_config in modules/functions (checkov cannot follow the module output)
  for_each = var.function_security_groups

  name        = "${var.name}-fn-${each.key}"
  description = "Lambda ${each.key}"
  vpc_id      = local.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-fn-${each.key}" })
}

resource "aws_vpc_security_group_egress_rule" "function_https" {
  for_each = var.function_security_groups

  security_group_id = aws_security_group.function[each.key].id
  description       = "HTTPS to AWS APIs (VPC endpoints, or the NAT) and the Cognito JWKS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# --- Flow logs ---

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:retention is a per-environment choice (var.flow_log_retention_days; prod 365)
  name              = "/vpc/${var.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:vpc-flow-log/*"]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${var.name}-flow-logs"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_flow_log" "this" {
  vpc_id               = local.vpc_id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
  tags                 = var.tags
}
