# Build and deploy targets, included by the Makefile.
# PLACEHOLDERS: the Terraform engineer replaces these stubs (and documents them
# in docs/deploy.md). Keep the `## ` comments: `make help` prints them.

##@ Build and deploy

.PHONY: build
build: ## Build the Lambda zips with cargo lambda (release, arm64)
	@echo "make build: not yet implemented (mk/deploy.mk)" >&2; exit 1

.PHONY: images
images: ## Build and push the workload container images to ECR
	@echo "make images: not yet implemented (mk/deploy.mk)" >&2; exit 1

.PHONY: deploy
deploy: ## terraform apply: the whole platform in an AWS account
	@echo "make deploy: not yet implemented (mk/deploy.mk)" >&2; exit 1

.PHONY: deploy-fn
deploy-fn: ## Redeploy one function's code: make deploy-fn FN=jobs
	@echo "make deploy-fn: not yet implemented (mk/deploy.mk)" >&2; exit 1

.PHONY: destroy
destroy: ## terraform destroy: remove the platform from the AWS account
	@echo "make destroy: not yet implemented (mk/deploy.mk)" >&2; exit 1
