#!/usr/bin/env python3
"""`make smoke`: the acceptance suite of tests/smoke/ against any deployment.

    scripts/smoke.py --base-url http://127.0.0.1:3000 --admin-api-key "$(cat .local/demo-api-key)"
    BASE_URL=... ADMIN_API_KEY=... scripts/smoke.py        # the same, from the environment

Black-box over HTTP(S), Python standard library only; every setting and
check: tests/smoke/README.md (`scripts/smoke.py --help`).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "smoke"))
import smoke  # noqa: E402

if __name__ == "__main__":
    sys.exit(smoke.main())
