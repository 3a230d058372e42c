# Checks against a running platform, included by the Makefile.
#
#   make smoke BASE_URL=<url> ADMIN_API_KEY=<key>   the acceptance suite against any deployment
#                                                  (tests/smoke/README.md: every check and setting)
#   make smoke LOCAL_DIR=.local [BASE_URL=...]      the same against `make local`: the admin key,
#                                                  the Cognito demo login and the emulator's
#                                                  administrator read from that directory
#   make docs-check [BASE_URL=...] [LOCAL_DIR=...]  run the docs' marked command blocks and compare
#                                                  each curl's status (scripts/docs-run.py)
#
# Both need only python3 (standard library); docs-check runs bash and curl.
# Settings not given on the command line are read from the environment
# (scripts/smoke.py --help lists them: COGNITO_*, PRIVATE_BASE_URL, ...).

SMOKE_PY := python3 scripts/smoke.py
DOCS_RUN_PY := python3 scripts/docs-run.py

##@ Verify a running platform

.PHONY: smoke
smoke: ## Acceptance suite: make smoke BASE_URL=<url> ADMIN_API_KEY=<keys:admin key> (or LOCAL_DIR=.local for make local)
	@if [ -z "$(BASE_URL)$(LOCAL_DIR)" ]; then \
	  echo "make: smoke needs BASE_URL=<the API's URL> and ADMIN_API_KEY=<a keys:admin key of the platform tenant>," >&2; \
	  echo "      or LOCAL_DIR=.local for the platform make local runs (e.g. make smoke LOCAL_DIR=.local)" >&2; exit 2; fi
	@$(SMOKE_PY) $(if $(LOCAL_DIR),--local-dir '$(LOCAL_DIR)') $(if $(BASE_URL),--base-url '$(BASE_URL)')

.PHONY: docs-check
docs-check: ## Run the docs' command blocks (README, operations, keys, jobs) against a platform; BASE_URL (http://127.0.0.1:3000), LOCAL_DIR (.local)
	@$(DOCS_RUN_PY) --base-url '$(or $(BASE_URL),http://127.0.0.1:3000)' --local-dir '$(or $(LOCAL_DIR),.local)'
