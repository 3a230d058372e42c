#!/usr/bin/env bash
# Create the project's Python venv (.venv, or $PORTCULLIS_VENV) with the pinned
# local tools (moto server, boto3) from requirements/local.txt.
#
# Idempotent and fast: a stamp file records the hash of the requirements it was
# installed from; nothing runs again until that file changes. Safe to run from
# two scripts at once (a lock serialises the install).
set -euo pipefail
SCRIPT_NAME=ensure-venv
. "$(dirname "$0")/lib.sh"

req=$ROOT/requirements/local.txt
[ -f "$req" ] || die "$req is missing"
stamp=$VENV/.portcullis-requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)

up_to_date() {
  [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/moto_server" ] &&
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    "$VENV/bin/python" -c 'import sys' 2>/dev/null
}

if up_to_date; then
  exit 0
fi

mkdir -p "$(dirname "$VENV")" "$LOCAL_DIR"
exec 9>"$LOCAL_DIR/venv.lock"
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
if [ -d "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
  say "the venv at $VENV is broken (its python does not run); recreating it"
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    pyver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null || echo 3)
    die "$py cannot create a venv (the venv/ensurepip modules are missing). On Debian/Ubuntu install them with: apt-get install -y python3-venv (or python$pyver-venv)"
  fi
  say "creating the Python venv in $VENV"
  if ! "$py" -m venv "$VENV"; then
    rm -rf "$VENV"
    die "creating the venv failed. On Debian/Ubuntu: apt-get install -y python3-venv, then run this again"
  fi
fi

say "installing $(grep -vE '^\s*(#|$)' "$req" | tr '\n' ' ')into $VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
if ! "$VENV/bin/python" -m pip install -q -r "$req"; then
  die "pip install -r $req failed (see above); PyPI must be reachable"
fi
[ -x "$VENV/bin/moto_server" ] || die "moto_server is missing from $VENV after the install; check $req pins moto[server]"
echo "$want" >"$stamp"
say "venv ready: $VENV"
