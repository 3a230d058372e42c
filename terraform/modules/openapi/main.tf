# Renders api/openapi.yaml into the JSON body of the REST API.
#
# - YAML comment lines are dropped before templating: they may mention
#   placeholders such as "$${<fn>_function_arn}" that are not valid template
#   syntax.
# - Portcullis' own vendor extensions (x-portcullis-*) are removed: they are
#   read by the authorizer and the local gateway, not by API Gateway, whose
#   importer warns on extensions it does not know.
locals {
  source = join("\n", [
    for line in split("\n", file(var.source_path)) : line
    if !startswith(trimspace(line), "#")
  ])

  document = yamldecode(templatestring(local.source, var.template_vars))

  # Operation-level keys are stripped one level down; path items only hold
  # operations (get, post, ..., x-amazon-apigateway-any-method).
  paths = {
    for path, item in local.document.paths : path => {
      for method, operation in item : method => {
        for key, value in operation : key => value
        if length([for p in var.strip_extension_prefixes : p if startswith(key, p)]) == 0
      }
    }
  }

  body = merge(
    {
      for key, value in local.document : key => value
      if key != "paths" && length([for p in var.strip_extension_prefixes : p if startswith(key, p)]) == 0
    },
    { paths = local.paths },
  )

  # method + path of every operation, for outputs and the tests.
  routes = flatten([
    for path, item in local.document.paths : [
      for method, operation in item : {
        path   = path
        method = method == "x-amazon-apigateway-any-method" ? "ANY" : upper(method)
        uri    = try(operation["x-amazon-apigateway-integration"].uri, "")
      }
    ]
  ])
}
