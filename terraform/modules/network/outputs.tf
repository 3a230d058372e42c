output "vpc_id" {
  description = "ID of the VPC (created or given)."
  value       = local.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = local.vpc_cidr
}

output "private_subnet_ids" {
  description = "Private subnets: Lambdas, ECS tasks, RDS and the internal ALB live here."
  value       = local.private_subnet_ids
}

output "public_subnet_ids" {
  description = "Public subnets (NAT gateways only); empty with an existing VPC."
  value       = [for s in aws_subnet.public : s.id]
}

output "function_security_group_ids" {
  description = "Security group of each VPC Lambda, by function name."
  value       = { for k, sg in aws_security_group.function : k => sg.id }
}

output "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints."
  value       = aws_security_group.endpoints.id
}

output "execute_api_endpoint_id" {
  description = "ID of the interface VPC endpoint for execute-api (the private API's only door); null when execute_api_endpoint is false."
  value       = one(aws_vpc_endpoint.execute_api[*].id)
}

output "execute_api_endpoint_security_group_id" {
  description = "Security group of the execute-api endpoint (add ingress rules here for consumers outside the VPC's CIDR); null when execute_api_endpoint is false."
  value       = one(aws_security_group.execute_api[*].id)
}
