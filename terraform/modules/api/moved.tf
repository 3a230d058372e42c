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

# Gateway responses: one per API and response type, keyed "<api>/<type>".

moved {
  from = aws_api_gateway_gateway_response.this["UNAUTHORIZED"]
  to   = aws_api_gateway_gateway_response.this["public/UNAUTHORIZED"]
}

moved {
  from = aws_api_gateway_gateway_response.this["ACCESS_DENIED"]
  to   = aws_api_gateway_gateway_response.this["public/ACCESS_DENIED"]
}

moved {
  from = aws_api_gateway_gateway_response.this["THROTTLED"]
  to   = aws_api_gateway_gateway_response.this["public/THROTTLED"]
}

moved {
  from = aws_api_gateway_gateway_response.this["QUOTA_EXCEEDED"]
  to   = aws_api_gateway_gateway_response.this["public/QUOTA_EXCEEDED"]
}

moved {
  from = aws_api_gateway_gateway_response.this["DEFAULT_4XX"]
  to   = aws_api_gateway_gateway_response.this["public/DEFAULT_4XX"]
}

moved {
  from = aws_api_gateway_gateway_response.this["DEFAULT_5XX"]
  to   = aws_api_gateway_gateway_response.this["public/DEFAULT_5XX"]
}

moved {
  from = aws_api_gateway_gateway_response.private["UNAUTHORIZED"]
  to   = aws_api_gateway_gateway_response.this["private/UNAUTHORIZED"]
}

moved {
  from = aws_api_gateway_gateway_response.private["ACCESS_DENIED"]
  to   = aws_api_gateway_gateway_response.this["private/ACCESS_DENIED"]
}

moved {
  from = aws_api_gateway_gateway_response.private["THROTTLED"]
  to   = aws_api_gateway_gateway_response.this["private/THROTTLED"]
}

moved {
  from = aws_api_gateway_gateway_response.private["QUOTA_EXCEEDED"]
  to   = aws_api_gateway_gateway_response.this["private/QUOTA_EXCEEDED"]
}

moved {
  from = aws_api_gateway_gateway_response.private["DEFAULT_4XX"]
  to   = aws_api_gateway_gateway_response.this["private/DEFAULT_4XX"]
}

moved {
  from = aws_api_gateway_gateway_response.private["DEFAULT_5XX"]
  to   = aws_api_gateway_gateway_response.this["private/DEFAULT_5XX"]
}
