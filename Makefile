# Portcullis: the commands a user runs. `make help` lists them.
# The scripts under scripts/ do the work; each one says what it does at its top.

SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
.SUFFIXES:

# `make test ARGS='-p jobs'` runs a part of the suite (default: the workspace).
ARGS ?=

##@ Run and test

.PHONY: help
help: ## List the targets
	@awk 'BEGIN { FS = ":.*## " } \
	  /^##@ / { printf "\n%s\n", substr($$0, 5); next } \
	  /^[a-zA-Z0-9_.-]+:.*## / { printf "  make %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)
	@echo

.PHONY: local
local: ## Start the whole platform locally (PostgreSQL, AWS emulator, gateway on :3000) until Ctrl-C
	@bash scripts/local.sh

.PHONY: test
test: ## Run the whole test suite against real PostgreSQL and the moto emulator (.ci/run: make test, make lint)
	@bash scripts/test.sh $(ARGS)

.PHONY: lint
lint: ## cargo fmt --check and cargo clippy --workspace --all-targets -D warnings
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: migrate
migrate: ## Apply the database migrations to DATABASE_URL (default: the local `portcullis` database)
	@bash scripts/migrate.sh

.PHONY: token
token: ## Print a Cognito access token for the demo user (while `make local` runs)
	@bash scripts/token.sh

# `make metrics MINUTES=5 LOCAL_DIR=.local`: the window and make local's state directory.
MINUTES ?= 15

.PHONY: metrics
metrics: ## Print the last MINUTES (15) of metrics, and the alarms and dashboards, in make local's emulator
	@py='$(or $(PORTCULLIS_VENV),.venv)/bin/python'; test -x "$$py" || { echo "make: $$py is missing: start the platform with make local (or create the venv with make venv)" >&2; exit 1; }; \
	  "$$py" scripts/metrics.py --minutes '$(MINUTES)' --local-dir '$(or $(LOCAL_DIR),$(PORTCULLIS_LOCAL_DIR),.local)'

.PHONY: emulator
emulator: ## Run only the AWS emulator (moto server) on a free port, until Ctrl-C
	@bash scripts/moto.sh

.PHONY: venv
venv: ## Create or update the Python venv (.venv) with the pinned moto server
	@bash scripts/ensure-venv.sh

.PHONY: postgres
postgres: ## Find or start PostgreSQL and print its DATABASE_URL
	@bash scripts/ensure-postgres.sh

.PHONY: clean-local
clean-local: ## Stop the throwaway PostgreSQL clusters and delete .local/ (emulator ids, logs, demo key)
	@bash scripts/ensure-postgres.sh stop
	-@bash -c '. scripts/lib.sh; bash scripts/pg-auth-cluster.sh stop "$$(pg_state_dir pg-auth)"'
	rm -rf .local

# Build and deploy targets live in their own file (owned by the Terraform work).
include mk/deploy.mk
include mk/bench.mk
include mk/verify.mk
