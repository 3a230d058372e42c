#!/usr/bin/env bash
# Create a Python venv from a pinned requirements file (PyPI only): the one
# home for every venv the scripts use.
#
#   scripts/ensure-venv.sh
#       the project venv (.venv, or $PORTCULLIS_VENV) with the local tools
#       (moto server, boto3) from requirements/local.txt;
#   scripts/ensure-venv.sh DIR REQUIREMENTS [--bin NAME]... [--import MODULES]
#       DIR from REQUIREMENTS; it is ready when DIR/bin/NAME exists for each
#       --bin and `import MODULES` (e.g. "hcl2, yaml") runs in it.
#       (scripts/terraform-check.sh: .venv-iac; scripts/browser-test.sh: .venv-browser.)
#
# Idempotent and fast: a stamp file records the hash of the requirements it was
# installed from; nothing runs again until that file changes. Safe to run from
# two scripts at once (a lock per venv serialises the install). A venv whose
# python no longer runs is rebuilt.
set -euo pipefail
SCRIPT_NAME=ensure-venv
. "$(dirname "$0")/lib.sh"

usage="usage: scripts/ensure-venv.sh [DIR REQUIREMENTS [--bin NAME]... [--import MODULES]]"
bins=()
imports=""
if [ $# -eq 0 ]; then
  dir=$VENV
  req=$ROOT/requirements/local.txt
  bins=(moto_server)
else
  [ $# -ge 2 ] || die "$usage"
  dir=$1 req=$2
  shift 2
  while [ $# -gt 0 ]; do
    case $1 in
      --bin) [ $# -ge 2 ] || die "--bin needs a NAME; $usage"; bins+=("$2"); shift 2 ;;
      --import) [ $# -ge 2 ] || die "--import needs MODULES; $usage"; imports=$2; shift 2 ;;
      *) die "unknown argument '$1'; $usage" ;;
    esac
  done
fi
[ -f "$req" ] || die "$req is missing"
stamp=$dir/.portcullis-requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)

up_to_date() {
  local b
  [ -x "$dir/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] || return 1
  for b in ${bins[@]+"${bins[@]}"}; do
    [ -x "$dir/bin/$b" ] || return 1
  done
  "$dir/bin/python" -c "import sys${imports:+, $imports}" 2>/dev/null
}

if up_to_date; then
  exit 0
fi

mkdir -p "$(dirname "$dir")" "$LOCAL_DIR"
exec 9>"$LOCAL_DIR/$(basename "$dir").lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
# Another run may have finished the job while we waited for the lock.
if up_to_date; then
  exit 0
fi

py=${PYTHON:-$(command -v python3 || true)}
if [ -z "$py" ]; then
  die "python3 not found. On Debian/Ubuntu install it with: apt-get install -y python3 python3-venv"
fi

# A venv whose interpreter is gone (python upgraded or removed) is rebuilt.
if [ -d "$dir" ] && ! "$dir/bin/python" -c 'import sys' 2>/dev/null; then
  say "the venv at $dir is broken (its python does not run); recreating it"
  rm -rf "$dir"
fi

if [ ! -x "$dir/bin/python" ]; then
  if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    pyver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null || echo 3)
    die "$py cannot create a venv (the venv/ensurepip modules are missing). On Debian/Ubuntu install them with: apt-get install -y python3-venv (or python$pyver-venv)"
  fi
  say "creating the Python venv in $dir"
  if ! "$py" -m venv "$dir"; then
    rm -rf "$dir"
    die "creating the venv failed. On Debian/Ubuntu: apt-get install -y python3-venv, then run this again"
  fi
fi

say "installing $(grep -vE '^\s*(#|$)' "$req" | tr '\n' ' ')into $dir"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
if ! "$dir/bin/python" -m pip install -q -r "$req"; then
  die "pip install -r $req failed (see above); PyPI must be reachable"
fi
for b in ${bins[@]+"${bins[@]}"}; do
  [ -x "$dir/bin/$b" ] || die "$b is missing from $dir after the install; check that $req pins the package that provides it"
done
if [ -n "$imports" ] && ! "$dir/bin/python" -c "import $imports"; then
  die "'import $imports' fails in $dir after the install (above); check $req"
fi
echo "$want" >"$stamp"
say "venv ready: $dir"
