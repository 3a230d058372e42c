variable "name" {
  description = "Name prefix of every resource (project-environment)."
  type        = string
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "source_dir" {
  description = "Folder of the console's static files (the repository's web/); every file is uploaded except config.json, tests/ and package.json."
  type        = string
}

variable "config_json" {
  description = "The console's config.json document (API base URL, Cognito client, registry entries; shape in docs/web.md)."
  type        = string

  validation {
    condition     = can(jsondecode(var.config_json).apiBaseUrl) && can(jsondecode(var.config_json).cognito.clientId)
    error_message = "config_json must be a JSON object with apiBaseUrl and cognito.clientId (docs/web.md)."
  }
}

variable "connect_origins" {
  description = "Origins the page may call (Content-Security-Policy connect-src): the API and Cognito, as https://host patterns (wildcards allowed)."
  type        = list(string)

  validation {
    condition     = alltrue([for o in var.connect_origins : can(regex("^https://[*a-z0-9.-]+(:[0-9]+)?$", o))])
    error_message = "connect_origins must be https://host origins (a leading *. wildcard is allowed), without a path."
  }
}

variable "price_class" {
  description = "CloudFront price class (PriceClass_100, PriceClass_200 or PriceClass_All)."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "web_acl_arn" {
  description = "Optional WAFv2 web ACL (scope CLOUDFRONT, in us-east-1) in front of the distribution."
  type        = string
  default     = null
}
