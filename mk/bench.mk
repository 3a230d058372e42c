# Benchmarks, included by the Makefile. docs/benchmarks.md gives the figures,
# the machine they were measured on and the command behind each table.
#
#   make bench-coldstart         release build of the seven functions + hello, then
#                                the cold-start table (bench/coldstart) -> target/coldstart.md
#   make bench-authorizer-zip    cargo lambda arm64 zip of the authorizer, and its size
#   make bench-authorizer-coldstart
#                                the authorizer against hello only, COLDSTART_ROUNDS rounds
#                                of 20 spawns each (the authorizer's init target; no emulator)
#
# COLDSTART_PROFILE=debug measures debug builds instead (a quick check of the
# harness; the figures in docs/benchmarks.md are release builds).
# COLDSTART_LATENCY_MS (default 20; 0: off) also measures every function with
# each AWS emulator and JWKS answer delayed that long (rows "<name> +20 ms").
# COLDSTART_AWS_ENDPOINT: an emulator already running (its administrator's key
# exported, as scripts/test.sh does) instead of starting one.
# COLDSTART_CHECK=1: fail unless every spawn answered (scripts/test.sh).

COLDSTART_FUNCTIONS := authorizer jobs proxy keys task-events reconciler migrate
COLDSTART_RUNS ?= 20
COLDSTART_PROFILE ?= release
COLDSTART_OUT ?= target/coldstart.md
COLDSTART_LATENCY_MS ?= 20
COLDSTART_AWS_ENDPOINT ?=
COLDSTART_CHECK ?=
COLDSTART_BIN_DIR := $(or $(CARGO_TARGET_DIR),target)/$(COLDSTART_PROFILE)

##@ Benchmarks

.PHONY: bench-coldstart
bench-coldstart: ## Cold start of the 7 functions vs hello-world: release build, 20 spawns each on a mock Runtime API (target/coldstart.md)
	@case "$(COLDSTART_PROFILE)" in release|debug) ;; *) echo "make: COLDSTART_PROFILE must be release or debug" >&2; exit 1 ;; esac
	cargo build $(if $(filter release,$(COLDSTART_PROFILE)),--release) $(foreach p,$(filter-out authorizer,$(COLDSTART_FUNCTIONS)) hello coldstart,-p $(p))
	@# On its own, as Lambda gets it: one invocation would unify features into it.
	cargo build $(if $(filter release,$(COLDSTART_PROFILE)),--release) -p authorizer
	@set -euo pipefail; SCRIPT_NAME=bench-coldstart; . scripts/lib.sh; \
	trap stop_tracked EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	ensure_postgres; \
	emulator=(); \
	if [ -n "$(COLDSTART_AWS_ENDPOINT)" ]; then \
	  emulator=(--aws-endpoint "$(COLDSTART_AWS_ENDPOINT)"); \
	elif ensure_venv; then \
	  port=$$(free_port); mkdir -p "$$LOCAL_DIR/logs"; \
	  start_moto "$$port" "$$LOCAL_DIR/logs/moto-coldstart-$$port.log" "$$LOCAL_DIR/coldstart-admin-credentials"; \
	  emulator=(--aws-endpoint "$$MOTO_ENDPOINT"); \
	else \
	  say "no AWS emulator (the venv is missing, see above): the proxy, which reads its identity secret at start, will show a start-up failure"; \
	fi; \
	"$(COLDSTART_BIN_DIR)/coldstart" --bin-dir "$(COLDSTART_BIN_DIR)" --runs $(COLDSTART_RUNS) \
	  --database-url "$$DATABASE_URL" "$${emulator[@]}" --out "$(COLDSTART_OUT)" \
	  $(if $(filter-out 0,$(COLDSTART_LATENCY_MS)),--latency-ms $(COLDSTART_LATENCY_MS)) \
	  $(if $(COLDSTART_CHECK),--check) $(COLDSTART_FUNCTIONS)

COLDSTART_ROUNDS ?= 5

.PHONY: bench-authorizer-coldstart
bench-authorizer-coldstart: ## The authorizer's cold init vs hello-world: release build, COLDSTART_ROUNDS rounds of 20 spawns (one table per round)
	cargo build --release -p hello -p coldstart
	@# On its own, as Lambda gets it (see bench-coldstart).
	cargo build --release -p authorizer
	@set -euo pipefail; SCRIPT_NAME=bench-authorizer-coldstart; . scripts/lib.sh; \
	trap stop_tracked EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	ensure_postgres; \
	for round in $$(seq 1 $(COLDSTART_ROUNDS)); do \
	  echo "round $$round of $(COLDSTART_ROUNDS):"; \
	  "$(COLDSTART_BIN_DIR)/coldstart" --bin-dir "$(COLDSTART_BIN_DIR)" --runs $(COLDSTART_RUNS) \
	    --database-url "$$DATABASE_URL" --out "$(COLDSTART_OUT)" authorizer | grep -E '^\| (function|hello|authorizer) '; \
	done

.PHONY: bench-authorizer-zip
bench-authorizer-zip: ## Release arm64 zip of the authorizer (cargo lambda build --release --arm64) and its size
	$(need_cargo_lambda)
	cargo lambda build --release --arm64 --output-format zip -p authorizer
	@zip=$(LAMBDA_DIR)/authorizer/bootstrap.zip; \
	test -f "$$zip" || { echo "make: $$zip was not produced" >&2; exit 1; }; \
	python3 -c 'import os, sys, zipfile; p = sys.argv[1]; z = zipfile.ZipFile(p); b = z.getinfo("bootstrap"); print(f"authorizer: {p} {os.path.getsize(p)} bytes ({os.path.getsize(p) / 1e6:.2f} MB) zipped, bootstrap {b.file_size} bytes unzipped")' "$$zip"
