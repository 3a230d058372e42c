# The VPC link (v2) to the internal ALB, its security group and both rules
# moved from the compute module to the api module (the link is API Gateway's,
# the compute module keeps the ALB it reaches): a state made before moves to
# the new addresses, nothing is destroyed or recreated. Harmless where the old
# address is absent (no vpc_link service, or a new stack).

moved {
  from = module.compute.aws_apigatewayv2_vpc_link.this
  to   = module.api.aws_apigatewayv2_vpc_link.this
}

moved {
  from = module.compute.aws_security_group.vpc_link
  to   = module.api.aws_security_group.vpc_link
}

moved {
  from = module.compute.aws_vpc_security_group_egress_rule.vpc_link_to_alb
  to   = module.api.aws_vpc_security_group_egress_rule.vpc_link_to_alb
}

moved {
  from = module.compute.aws_vpc_security_group_ingress_rule.alb_from_vpc_link
  to   = module.api.aws_vpc_security_group_ingress_rule.alb_from_vpc_link
}
