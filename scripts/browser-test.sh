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
# Installs requirements/browser.txt into .venv-browser (PyPI only, with
# scripts/ensure-venv.sh); never runs `playwright install`: the browser is
# Debian's (apt-get install -y chromium).
# Without chromium the browser tests are skipped, unless PORTCULLIS_BROWSER_TESTS
# is set (CI): then it is a failure. Screenshots: .local/browser/; with
# PORTCULLIS_SCREENSHOT_DIR=docs the signed-in one is copied to docs/web-console.png.
set -euo pipefail
SCRIPT_NAME=browser-test
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

BVENV=${PORTCULLIS_BROWSER_VENV:-$ROOT/.venv-browser}
ensure_venv "$BVENV" "$ROOT/requirements/browser.txt" --import "playwright, pytest, yaml"

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
