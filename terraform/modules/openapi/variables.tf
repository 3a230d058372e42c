variable "source_path" {
  description = "Path of the OpenAPI document (api/openapi.yaml) rendered into the REST API body."
  type        = string

  validation {
    condition     = can(regex("\\.ya?ml$", var.source_path))
    error_message = "source_path must name a .yaml or .yml file."
  }
}

variable "template_vars" {
  description = "Values for the $${...} placeholders of the document: region, <fn>_function_arn."
  type        = map(string)
}

variable "strip_extension_prefixes" {
  description = "Vendor extension prefixes removed before the body reaches API Gateway (keys API Gateway does not know)."
  type        = list(string)
  default     = ["x-portcullis-"]
}
