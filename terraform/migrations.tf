# Run the sqlx migrations on every apply that changes them or the migrate
# function: Terraform invokes the function once the database and the function
# exist, and the apply fails if the function reports an error.
resource "aws_lambda_invocation" "migrate" {
  count = var.run_migrations ? 1 : 0

  function_name = module.functions.function_names["migrate"]
  input         = jsonencode({})

  triggers = {
    migrations = sha1(join("", [for f in sort(fileset("${local.repo_root}/migrations", "**")) : filesha1("${local.repo_root}/migrations/${f}")]))
    function   = module.functions.function_arns["migrate"]
    database   = module.data.resource_id
  }

  depends_on = [module.data, module.functions]
}
