#!/usr/bin/env bash
# Offline proof of terraform/ (no Terraform provider, no AWS account needed):
#   1. every .tf file parses (HCL2 parser shipped with checkov);
#   2. every resource / data-source argument and block exists in the AWS
#      provider schema committed in terraform/.schema/ (scripts/tf-schema/);
#      module calls, outputs, var.* and local.* references resolve;
#   3. `terraform fmt -check`, `terraform init` (offline from a provider
#      mirror when one exists) and `terraform validate` with the real provider;
#   4. checkov passes with 0 failed checks (each skip is justified in place);
#   5. pytest tests/terraform: security invariants and Rust <-> Terraform
#      coverage (functions, routes, services, jobs).
# Creates .venv-iac from requirements/iac.txt on first use (PyPI only;
# scripts/ensure-venv.sh).
# Exit status: non-zero on any failure.
set -euo pipefail
SCRIPT_NAME=terraform-check
. "$(dirname "$0")/lib.sh"

IAC_VENV=${PORTCULLIS_IAC_VENV:-$ROOT/.venv-iac}
ensure_venv "$IAC_VENV" "$ROOT/requirements/iac.txt" --bin checkov --import "hcl2, yaml, pytest"
PY=$IAC_VENV/bin/python
cd "$ROOT"

say "1/5 parsing every .tf file"
"$PY" - <<'PYEOF'
import pathlib, sys
sys.path.insert(0, "scripts/tf-schema")
from common import parse, tf_files
files = tf_files(pathlib.Path("terraform"))
for f in files:
    parse(f)
print(f"parsed {len(files)} .tf files")
PYEOF

say "2/5 checking arguments and blocks against the provider schema"
"$PY" scripts/tf-schema/check.py --terraform-dir terraform

say "3/5 terraform fmt, init and validate (the real CLI and hashicorp/aws provider)"
command -v terraform >/dev/null 2>&1 ||
  die "terraform is not on PATH. Install Terraform >= 1.11 (https://developer.hashicorp.com/terraform/install; on Debian/Ubuntu: HashiCorp's apt repository, package terraform) and run again"
if ! TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff terraform; then
  die "terraform fmt found unformatted files (above): run terraform fmt -recursive terraform"
fi
echo "terraform fmt: clean"
tf_cli_config
( cd terraform && terraform init -backend=false -input=false -no-color >"$LOCAL_DIR/logs/terraform-init.log" 2>&1 ) ||
  { cat "$LOCAL_DIR/logs/terraform-init.log"; die "terraform init failed (above): with no registry access, put the hashicorp/aws provider in a filesystem mirror and set PORTCULLIS_TF_MIRROR to its root"; }
grep -E 'Installed hashicorp/aws|Using previously-installed hashicorp/aws|Reusing previous version of hashicorp/aws' "$LOCAL_DIR/logs/terraform-init.log" || true
( cd terraform && terraform validate -no-color ) || die "terraform validate failed (above)"

say "4/5 checkov"
checkov_out=$(mktemp)
trap 'rm -f "$checkov_out"' EXIT
set +e
"$IAC_VENV/bin/checkov" -d terraform --framework terraform --quiet --compact --skip-download >"$checkov_out" 2>&1
checkov_rc=$?
set -e
if [ "$checkov_rc" -ne 0 ]; then
  cat "$checkov_out"
  die "checkov reported failed checks (above); fix them or add '#checkov:skip=<id>:<reason>' next to the resource"
fi
summary=$(grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+' "$checkov_out" || true)
[ -n "$summary" ] || { cat "$checkov_out"; die "no checkov summary line found"; }
echo "checkov: $summary"

say "5/5 pytest tests/terraform"
"$PY" -m pytest tests/terraform -q -p no:cacheprovider
