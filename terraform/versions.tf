terraform {
  # templatestring() needs 1.9; write-only arguments (secret_string_wo, the
  # identity keys kept out of state) need 1.11.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }

  # State: pass a backend config at init time, e.g.
  #   terraform init -backend-config="bucket=<state-bucket>" -backend-config="key=portcullis/dev.tfstate" -backend-config="region=eu-west-1"
  # (see docs/deploy.md); without it, `terraform init -backend=false` keeps
  # state locally.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}

provider "aws" {
  region = var.region
}
