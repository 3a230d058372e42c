# State addresses from before the public and the private API shared one
# definition per resource (for_each over local.apis): the existing objects
# move to their new addresses instead of being destroyed and recreated.
# Harmless where the old address is absent (no private API, or a new stack).

moved {
  from = aws_api_gateway_rest_api.this
  to   = aws_api_gateway_rest_api.this["public"]
}

moved {
  from = aws_api_gateway_rest_api.private[0]
  to   = aws_api_gateway_rest_api.this["private"]
}

moved {
  from = aws_api_gateway_deployment.this
  to   = aws_api_gateway_deployment.this["public"]
}

moved {
  from = aws_api_gateway_deployment.private[0]
  to   = aws_api_gateway_deployment.this["private"]
}

moved {
  from = aws_cloudwatch_log_group.access
  to   = aws_cloudwatch_log_group.access["public"]
}

moved {
  from = aws_cloudwatch_log_group.private_access[0]
  to   = aws_cloudwatch_log_group.access["private"]
}

moved {
  from = aws_api_gateway_stage.this
  to   = aws_api_gateway_stage.this["public"]
}

moved {
  from = aws_api_gateway_stage.private[0]
  to   = aws_api_gateway_stage.this["private"]
}

moved {
  from = aws_api_gateway_method_settings.all
  to   = aws_api_gateway_method_settings.all["public"]
}

moved {
  from = aws_api_gateway_method_settings.private[0]
  to   = aws_api_gateway_method_settings.all["private"]
}

# Gateway responses: they are in the REST API body now (the openapi
# module's x-amazon-apigateway-gateway-responses). The
# separate resources (keyed "<api>/<type>", before that by type, and the
# private API's own set) leave the state WITHOUT being destroyed: destroying
# them would call DeleteGatewayResponse, which resets the very responses the
# body set. The body's import already replaced them in API Gateway.

removed {
  from = aws_api_gateway_gateway_response.this

  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_gateway_response.private

  lifecycle {
    destroy = false
  }
}
