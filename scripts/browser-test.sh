#!/usr/bin/env bash
# Tests of the web console (web/):
#   1. node --test web/tests/   the console's modules without a browser (Node.js 18+);
#   2. pytest tests/browser     the console in headless Chromium (Debian's chromium,
#                               driven by Playwright) against the running platform.
#
#   scripts/browser-test.sh [pytest args...]
#
# Needs `make local` running (the tests read .local/env and the gateway's port:
# PORTCULLIS_LOCAL_PORT, or PORTCULLIS_API_URL) and serves the console itself on
# http://localhost:5173 (WEB_PORT), the origin on the API's CORS allowlist.
# Installs requirements/browser.txt into .venv-browser (PyPI only); never runs
# `playwright install`: the browser is Debian's (apt-get install -y chromium).
# Without chromium the browser tests are skipped, unless PORTCULLIS_BROWSER_TESTS
# is set (CI): then it is a failure. Screenshots: .local/browser/; with
# PORTCULLIS_SCREENSHOT_DIR=docs the signed-in one is copied to docs/web-console.png.
set -euo pipefail
SCRIPT_NAME=browser-test
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

BVENV=${PORTCULLIS_BROWSER_VENV:-$ROOT/.venv-browser}
req=$ROOT/requirements/browser.txt
stamp=$BVENV/.portcullis-requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if ! { [ -x "$BVENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
  "$BVENV/bin/python" -c 'import playwright, pytest, yaml' 2>/dev/null; }; then
  py=${PYTHON:-$(command -v python3 || true)}
  [ -n "$py" ] || die "python3 not found. On Debian/Ubuntu: apt-get install -y python3 python3-venv"
  if [ ! -x "$BVENV/bin/python" ]; then
    say "creating $BVENV"
    "$py" -m venv "$BVENV" || die "cannot create a venv: apt-get install -y python3-venv"
  fi
  say "installing $(grep -vE '^\s*(#|$)' "$req" | tr '\n' ' ')into $BVENV"
  PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$BVENV/bin/python" -m pip install -q -r "$req" ||
    die "pip install -r $req failed (see above); PyPI must be reachable"
  echo "$want" >"$stamp"
fi

if command -v node >/dev/null 2>&1; then
  say "1/2 node --test web/tests/ (the console's modules)"
  (cd web && node --test --test-reporter=spec tests/) || die "the console's unit tests failed (above)"
elif [ -n "${PORTCULLIS_BROWSER_TESTS:-}" ]; then
  die "node is not installed (apt-get install -y nodejs); PORTCULLIS_BROWSER_TESTS is set, so this is a failure"
else
  say "1/2 skipped: node is not installed (apt-get install -y nodejs)"
fi

if ! command -v "${PORTCULLIS_CHROMIUM:-chromium}" >/dev/null 2>&1; then
  say "note: chromium is not installed (apt-get install -y chromium); the browser tests will be skipped unless PORTCULLIS_BROWSER_TESTS is set"
fi
say "2/2 pytest tests/browser (headless Chromium against the running platform)"
exec "$BVENV/bin/python" -m pytest tests/browser -p no:cacheprovider "$@"
