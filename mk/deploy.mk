# Build and deploy targets, included by the Makefile. docs/deploy.md walks
# through them in order; docs/terraform.md explains the Terraform behind them.
#
#   make build                    cargo lambda zips for every function
#   make images  ENV=dev          ECR repositories + docker build/push of the workloads (content tags)
#   make deploy  ENV=dev          build, check ECR holds every image, then terraform init + apply (runs the migrations)
#   make deploy-fn FN=jobs        quick code update of one function (cargo lambda deploy)
#   make destroy ENV=dev          terraform destroy
#
# Each target checks its tools first and says what is missing.

ENV ?= dev
FN ?=
TF_DIR := terraform
TF := terraform -chdir=$(TF_DIR)
TF_VARS_FILE := env/$(ENV).tfvars
TF_BACKEND_FILE := env/$(ENV).backend.hcl
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
LAMBDA_DIR := target/lambda
VENV_PY := $(or $(PORTCULLIS_VENV),.venv)/bin/python

# The content tag of each workload image, JSON {workload: tag}: a hash of the
# files that build it (scripts/images.py), so a commit that changes none of
# them keeps the tag and make deploy points at the image already pushed.
# Evaluated once, on first use.
IMAGE_TAGS = $(eval IMAGE_TAGS := $$(shell python3 scripts/images.py tags))$(IMAGE_TAGS)
TF_IMAGE_VARS = -var 'image_tags=$(IMAGE_TAGS)'

# What make images needs, evaluated by terraform console from the same
# locals the compute module uses (outputs are not refreshed by a -target apply).
IMAGES_EXPR := jsonencode({ name = local.name, region = var.region, platform = var.workload_cpu_architecture == "ARM64" ? "linux/arm64" : "linux/amd64", workloads = sort(distinct(concat([for s in local.services : s.workload if s.image == null], [for j in local.jobs : j.workload if j.image == null]))) })

define need_cargo_lambda
	@command -v cargo >/dev/null 2>&1 || { echo "make: cargo is missing: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
	@cargo lambda --version >/dev/null 2>&1 || { echo "make: cargo lambda is missing. Install it (with the Zig toolchain it cross-compiles with): pip install cargo-lambda   (then make sure the pip bin/ directory is on PATH)" >&2; exit 1; }
	@rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu || { echo "make: the arm64 Rust target is missing. Add it with: rustup target add aarch64-unknown-linux-gnu" >&2; exit 1; }
endef

define need_terraform
	@command -v terraform >/dev/null 2>&1 || { echo "make: terraform is missing: install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install)" >&2; exit 1; }
	@test -f $(TF_DIR)/$(TF_VARS_FILE) || { echo "make: $(TF_DIR)/$(TF_VARS_FILE) does not exist; ENV must be one of: $(basename $(notdir $(wildcard $(TF_DIR)/env/*.tfvars)))" >&2; exit 1; }
endef

define need_image_tags
	@test -n '$(IMAGE_TAGS)' || { echo "make: scripts/images.py tags printed no image tags (it needs python3 >= 3.11 and git; run it to see why)" >&2; exit 1; }
endef

# Shell lines (inside one `set -euo pipefail; ...` recipe line) setting name,
# region, platform and workloads (the ECR-built workloads of ENV, space
# separated) from IMAGES_EXPR, and tags: IMAGE_TAGS limited to those workloads
# (one without workloads/<w>/Dockerfile has no tag: Terraform's image_tags
# validation names it).
define read_images_info
info=$$(echo '$(IMAGES_EXPR)' | $(TF) console -var-file=$(TF_VARS_FILE) $(TF_IMAGE_VARS)); \
field() { echo "$$info" | python3 -c 'import json, sys; d = json.loads(json.loads(sys.stdin.read())); v = d[sys.argv[1]]; print(" ".join(v) if isinstance(v, list) else v)' "$$1"; }; \
name=$$(field name); region=$$(field region); platform=$$(field platform); workloads=$$(field workloads); \
tags=$$(python3 -c 'import json, sys; t = json.loads(sys.argv[1]); print(json.dumps({w: t[w] for w in sys.argv[2:] if w in t}))' '$(IMAGE_TAGS)' $$workloads);
endef

define need_aws
	@if command -v aws >/dev/null 2>&1; then \
	  aws sts get-caller-identity >/dev/null 2>&1 || { echo "make: no usable AWS credentials: run 'aws configure' (or 'aws sso login', or export AWS_PROFILE / AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY)" >&2; exit 1; }; \
	else \
	  { test -n "$$AWS_PROFILE$$AWS_ACCESS_KEY_ID" || test -f "$$HOME/.aws/credentials" || test -f "$$HOME/.aws/config"; } || { echo "make: no AWS credentials found (no AWS_PROFILE, AWS_ACCESS_KEY_ID or ~/.aws); install the AWS CLI and run 'aws configure'" >&2; exit 1; }; \
	fi
endef

# Adds platform.yaml at the root of a function zip (PLATFORM_FILE=/var/task/platform.yaml).
define add_platform_file
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "a"); "platform.yaml" in z.namelist() or z.write("platform.yaml", "platform.yaml"); z.close()' $(1)
endef

##@ Build and deploy

.PHONY: build
build: ## Build every function zip: cargo lambda build --release --arm64 --output-format zip (+ platform.yaml)
	$(need_cargo_lambda)
	# The authorizer builds on its own: one cargo invocation unifies features
	# across packages, which would link Secrets Manager into it (docs/database.md).
	cargo lambda build --release --arm64 --output-format zip $(foreach f,$(filter-out authorizer,$(FUNCTIONS)),-p $(f))
	cargo lambda build --release --arm64 --output-format zip -p authorizer
	@for f in $(FUNCTIONS); do \
	  test -f $(LAMBDA_DIR)/$$f/bootstrap.zip || { echo "make: $(LAMBDA_DIR)/$$f/bootstrap.zip was not produced" >&2; exit 1; }; \
	  $(call add_platform_file,$(LAMBDA_DIR)/$$f/bootstrap.zip); \
	done
	@echo "built: $(foreach f,$(FUNCTIONS),$(LAMBDA_DIR)/$(f)/bootstrap.zip)"

.PHONY: tf-init
tf-init: ## terraform init with the state backend of ENV (terraform/env/<ENV>.backend.hcl)
	$(need_terraform)
	@test -f $(TF_DIR)/$(TF_BACKEND_FILE) || { echo "make: $(TF_DIR)/$(TF_BACKEND_FILE) is missing: create it with the S3 state bucket (docs/deploy.md, step 3), e.g.:" >&2; \
	  echo '  bucket = "<your-state-bucket>"' >&2; echo '  key    = "portcullis/$(ENV).tfstate"' >&2; echo '  region = "eu-west-1"' >&2; exit 1; }
	$(TF) init -input=false -reconfigure -backend-config=$(TF_BACKEND_FILE)

.PHONY: deploy
deploy: build tf-init ## Build, check ECR holds every workload image (make images), then terraform apply ENV (default dev); the apply runs the migrations
	$(need_aws)
	$(need_image_tags)
	@bash scripts/ensure-venv.sh
	@set -euo pipefail; \
	$(read_images_info) \
	$(VENV_PY) scripts/images.py check --region "$$region" --name "$$name" --tags "$$tags"
	$(TF) apply -input=false -var-file=$(TF_VARS_FILE) $(TF_IMAGE_VARS)
	@echo "API: $$($(TF) output -raw api_url)"

.PHONY: images
images: tf-init ## Create the ECR repositories, then build and push every workload image at its content tag (scripts/images.py tags)
	$(need_aws)
	$(need_image_tags)
	@command -v docker >/dev/null 2>&1 || { echo "make: docker is missing: install Docker (with buildx) to build the workload images" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make: docker cannot reach a Docker engine: start Docker (the client alone cannot build)" >&2; exit 1; }
	@command -v aws >/dev/null 2>&1 || { echo "make: the AWS CLI is missing: it logs docker in to ECR (aws ecr get-login-password)" >&2; exit 1; }
	$(TF) apply -input=false -auto-approve -var-file=$(TF_VARS_FILE) $(TF_IMAGE_VARS) -target=module.compute.aws_ecr_repository.this -target=module.compute.aws_ecr_lifecycle_policy.this
	@set -euo pipefail; \
	$(read_images_info) \
	account=$$(aws sts get-caller-identity --query Account --output text); \
	registry="$$account.dkr.ecr.$$region.amazonaws.com"; \
	test -n "$$workloads" || { echo "make: platform.yaml names no workload to build" >&2; exit 1; }; \
	aws ecr get-login-password --region "$$region" | docker login --username AWS --password-stdin "$$registry"; \
	for workload in $$workloads; do \
	  repo="$$name/$$workload"; url="$$registry/$$repo"; \
	  test -f workloads/$$workload/Dockerfile || { echo "make: workloads/$$workload/Dockerfile is missing" >&2; exit 1; }; \
	  tag=$$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$$tags" "$$workload"); \
	  if aws ecr describe-images --region "$$region" --repository-name "$$repo" --image-ids imageTag="$$tag" >/dev/null 2>&1; then \
	    echo "$$url:$$tag already pushed (content tag: the same inputs, the same image; tags are immutable)"; continue; fi; \
	  docker build --platform "$$platform" -f workloads/$$workload/Dockerfile -t "$$url:$$tag" .; \
	  docker push "$$url:$$tag"; \
	done; \
	echo "images pushed at their content tags $$tags; now run: make deploy ENV=$(ENV)"

.PHONY: deploy-fn
deploy-fn: ## Quick code update of one function with cargo lambda deploy: make deploy-fn FN=jobs ENV=dev
	@test -n "$(FN)" || { echo "make: say which function: make deploy-fn FN=<one of: $(FUNCTIONS)>" >&2; exit 1; }
	@test -d functions/$(FN) || { echo "make: no function '$(FN)'; choose one of: $(FUNCTIONS)" >&2; exit 1; }
	$(need_cargo_lambda)
	$(need_terraform)
	$(need_aws)
	cargo lambda build --release --arm64 --output-format zip -p $(FN)
	@set -euo pipefail; \
	out=$$($(TF) output -json); \
	get() { echo "$$out" | python3 -c 'import json,sys; o=json.load(sys.stdin); v=o[sys.argv[1]]["value"]; v=v[sys.argv[2]] if len(sys.argv) > 2 else v; print(",".join(v) if isinstance(v, list) else v)' "$$@"; }; \
	name=$$(get function_names $(FN)); role=$$(get function_roles $(FN)); \
	subnets=$$(get function_subnet_ids); sg=$$(get function_security_group_ids $(FN)); region=$$(get region); \
	echo "deploying $(FN) as $$name"; \
	cargo lambda deploy --region "$$region" --binary-name $(FN) --iam-role "$$role" \
	  --subnet-ids "$$subnets" --security-group-ids "$$sg" --include platform.yaml "$$name"
	@echo "note: the function's environment and size stay as Terraform set them; the next make deploy re-uploads the same code"

.PHONY: destroy
destroy: tf-init ## terraform destroy ENV (RDS, ALB and Cognito deletion protection must be off: see docs/deploy.md)
	$(need_aws)
	$(TF) destroy -input=false -var-file=$(TF_VARS_FILE) $(TF_IMAGE_VARS)

.PHONY: tf-check
tf-check: ## Offline proof of terraform/: HCL parse, provider schema, checkov, pytest (part of make test)
	@bash scripts/terraform-check.sh
