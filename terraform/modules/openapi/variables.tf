variable "source_path" {
  description = "Path of the OpenAPI document (api/openapi.yaml) rendered into the REST API body."
  type        = string

  validation {
    condition     = can(regex("\\.ya?ml$", var.source_path))
    error_message = "source_path must name a .yaml or .yml file."
  }
}

variable "template_vars" {
  description = "Values for the $${...} placeholders of the document: region, <fn>_function_arn, cors_allow_origin."
  type        = map(string)
}

variable "strip_extension_prefixes" {
  description = "Vendor extension prefixes removed before the body reaches API Gateway (keys API Gateway does not know)."
  type        = list(string)
  default     = ["x-portcullis-"]
}

variable "cors_preflight" {
  description = "How CORS preflights (OPTIONS) are answered: mock (a MOCK integration with static headers, one Access-Control-Allow-Origin) or function (the path's own Lambda answers OPTIONS unauthenticated, so it can echo any allowed origin). An options operation the document declares itself wins in both modes."
  type        = string
  default     = "mock"

  validation {
    condition     = contains(["mock", "function"], var.cors_preflight)
    error_message = "cors_preflight must be mock or function."
  }
}
