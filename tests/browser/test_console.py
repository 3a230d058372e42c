"""The web console in a real browser (headless Debian chromium, Playwright)
against the running platform: every API call crosses origins (console on
http://localhost:5173, API on the local gateway), so CORS is exercised.

scripts/browser-test.sh runs them; conftest.py says what they read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid

import pytest
from playwright.sync_api import Page, expect

# Waits for the platform (a job moving through the emulator's ECS, with the
# reconciler's sweeps) are bounds on how long to wait, not assertions on time.
JOB_WAIT_MS = 180_000


def sign_in(page: Page, platform, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label("User name or email").fill(platform.user)
    page.get_by_label("Password", exact=True).fill(platform.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Who am I", level=1)).to_be_visible()


def test_sign_in_by_keyboard_shows_who_i_am(page: Page, platform, artifacts):
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_focused()
    # Keyboard only: type, Tab to the password, Enter submits.
    page.get_by_label("User name or email").focus()
    page.keyboard.type(platform.user)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(platform.password)
    page.keyboard.press("Enter")

    heading = page.get_by_role("heading", name="Who am I", level=1)
    expect(heading).to_be_visible()
    details = page.locator("#me-details")
    expect(details).to_contain_text("keys:admin")
    expect(details).to_contain_text("jobs:write")
    expect(page.locator("#whoami-name")).to_contain_text(f"Signed in as {platform.user}")
    expect(details).to_contain_text("user")  # principal type of a Cognito user
    # The navigation is reachable and usable by keyboard; a view change moves focus to its heading.
    page.get_by_role("link", name="Jobs").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_focused()
    page.get_by_role("link", name="Who am I").click()
    expect(details).to_contain_text("keys:admin")

    shot = artifacts / "console-signed-in.png"
    page.screenshot(path=str(shot), full_page=True)
    target = os.environ.get("PORTCULLIS_SCREENSHOT_DIR")
    if target:
        shutil.copyfile(shot, os.path.join(target, "web-console.png"))

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.locator("#page-notice")).to_contain_text("signed out")
    assert page.evaluate("sessionStorage.getItem('portcullis.session')") is None


def test_wrong_password_is_refused(page: Page, platform):
    page.goto("/")
    page.get_by_label("User name or email").fill(platform.user)
    page.get_by_label("Password", exact=True).fill(platform.password + "-wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").filter(has_text="Incorrect user name or password")).to_be_visible()
    expect(page.get_by_role("heading", name="Who am I")).to_be_hidden()


def test_submit_watch_succeed_and_cancel_jobs(page: Page, platform):
    sign_in(page, platform)
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_label("Job type")).to_have_value("sample")

    # 1. A job that exits 0: watched (live status) until it succeeds.
    page.get_by_label("Arguments, one per line").fill("--exit-code\n0\nfrom-the-browser")
    page.get_by_label("GREETING").fill("hello")
    page.get_by_role("button", name="Submit job").click()
    result = page.locator("#submit-result")
    expect(result).to_contain_text("Submitted job")
    ok_id = result.locator("code").inner_text()
    row = page.locator(f'tr[data-job-id="{ok_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".status")).to_have_text("succeeded", timeout=JOB_WAIT_MS)

    # Its detail view shows the events, oldest first, ending in succeeded.
    page.get_by_role("button", name=f"Open job {ok_id}").click()
    expect(page.get_by_role("heading", name=f"Job {ok_id}")).to_be_focused()
    events = page.locator("#job-events tbody tr")
    expect(events.last).to_contain_text("succeeded")
    expect(page.locator("#job-detail-fields")).to_contain_text('"args":["--exit-code","0","from-the-browser"]')
    expect(page.get_by_role("button", name="Finished (succeeded)")).to_be_disabled()

    # 2. A long job, cancelled from the console.
    page.get_by_label("Arguments, one per line").fill("--sleep-ms\n600000")
    page.get_by_role("button", name="Submit job").click()
    expect(result).not_to_contain_text(ok_id)
    long_id = result.locator("code").inner_text()
    assert long_id != ok_id
    expect(page.get_by_role("heading", name=f"Job {long_id}")).to_be_visible()
    page.get_by_role("button", name="Cancel this job").click()
    expect(page.locator("#job-detail-error")).to_contain_text(re.compile(r"cancel", re.I))
    long_row = page.locator(f'tr[data-job-id="{long_id}"]')
    expect(long_row.locator(".status")).to_contain_text(re.compile(r"cancel"))
    expect(long_row.locator(".status")).to_have_text("cancelled", timeout=JOB_WAIT_MS)
    expect(page.locator("#job-events tbody tr").last).to_contain_text("cancelled")


def test_create_copy_use_and_revoke_a_key(page: Page, platform):
    sign_in(page, platform)
    page.get_by_role("link", name="API keys").click()
    name = f"browser test {uuid.uuid4().hex[:8]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("jobs:read").check()
    page.get_by_role("button", name="Create key").click()

    new_key = page.get_by_role("region", name="New key created")
    expect(new_key).to_be_visible()
    key = page.get_by_label("Key", exact=True).input_value()
    assert key.startswith("pcs_"), key
    page.get_by_role("button", name="Copy key").click()
    expect(page.locator("#new-key-copied")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == key

    # The key works, with exactly the scope it was given.
    status, me = platform.call("/v1/me", {"x-api-key": key})
    assert status == 200, me
    assert me["scopes"] == ["jobs:read"], me
    assert me["principal_type"] == "api_key", me

    # Shown once: dismissed, it is gone from the page.
    page.get_by_role("button", name="I have stored it").click()
    expect(new_key).to_be_hidden()
    assert key not in page.content()

    row = page.locator("#keys-table tbody tr", has_text=name)
    expect(row.locator(".status")).to_have_text("active")
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name=re.compile(f"^Revoke key {re.escape(name)}")).click()
    expect(page.locator("#keys-error")).to_contain_text("is revoked")
    expect(row.locator(".status")).to_have_text("revoked")
    # A warm authorizer may keep a verified key for AUTH_CACHE_TTL_SECS (5 s
    # locally, docs/auth.md): ask until it is refused, within a bound.
    for _ in range(30):
        status, body = platform.call("/v1/me", {"x-api-key": key})
        if status != 200:
            break
        time.sleep(1)
    assert status in (401, 403), (status, body)


def test_call_a_private_service(page: Page, platform):
    sign_in(page, platform)
    page.get_by_role("link", name="Services").click()
    expect(page.locator("#service-desc")).to_contain_text("you hold it")
    page.get_by_label("Path under the service").fill("echo?from=browser")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Answer")).to_be_visible()
    expect(page.locator("#service-answer-meta")).to_contain_text("200")
    body = json.loads(page.locator("#service-answer-body").inner_text())
    assert body["method"] == "GET", body
    assert "browser" in json.dumps(body), body

    # A path the browser would rewrite is refused before it is sent.
    page.get_by_label("Path under the service").fill("../keys")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#service-error")).to_contain_text('"." or ".."')


def test_not_found_and_expired_session_are_explained(page: Page, platform):
    sign_in(page, platform)
    page.get_by_role("link", name="Jobs").click()
    # A real 404 from the API, with the request id it carried.
    page.get_by_label("Open a job by id").fill(str(uuid.uuid4()))
    page.get_by_role("button", name="Open", exact=True).click()
    err = page.locator("#job-detail-error")
    expect(err).to_contain_text("Not found (404)")
    expect(err.locator(".request-id")).not_to_be_empty()

    # A session the API and Cognito no longer accept: the console says so and asks for a sign-in.
    page.evaluate(
        """() => {
          const s = JSON.parse(sessionStorage.getItem('portcullis.session'));
          s.accessToken = 'expired.' + s.accessToken.split('.')[1] + '.x';
          s.refreshToken = 'revoked-refresh-token';
          sessionStorage.setItem('portcullis.session', JSON.stringify(s));
        }"""
    )
    page.reload()
    notice = page.locator("#page-notice")
    expect(notice).to_contain_text("Session expired: sign in again")
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    expect(page.locator("#signin-reason")).to_contain_text("Sign in again")
    # Signing in again brings back the view that was open.
    page.get_by_label("User name or email").fill(platform.user)
    page.get_by_label("Password", exact=True).fill(platform.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (403, "Not allowed (403)"),
        (409, "Conflict (409)"),
        (429, "Too many requests (429)"),
        (500, "The platform failed (500)"),
        (503, "The platform failed (503)"),
    ],
)
def test_error_answers_are_rendered_with_their_request_id(page: Page, platform, console, status, heading):
    """The answers the platform gives rarely on demand (throttling, a failure),
    substituted in the browser's network layer with the problem document the
    functions and API Gateway send."""
    sign_in(page, platform)
    page.get_by_role("link", name="Jobs").click()
    expect(page.locator("#jobs-table tbody tr").first).to_be_visible()
    request_id = f"req-{status}-{uuid.uuid4().hex[:6]}"
    problem = {
        "type": "https://portcullis.dev/problems/test",
        "title": heading,
        "status": status,
        "detail": f"substituted {status} answer",
        "instance": f"urn:request:{request_id}",
    }

    def answer(route):
        route.fulfill(
            status=status,
            headers={
                "content-type": "application/problem+json",
                "access-control-allow-origin": console,
                "access-control-expose-headers": "x-request-id",
            },
            body=json.dumps(problem),
        )

    page.route(re.compile(r".*/v1/jobs\?.*"), answer)
    page.get_by_label("Show status").select_option("running")
    err = page.locator("#jobs-error")
    expect(err).to_contain_text(heading)
    expect(err).to_contain_text(f"substituted {status} answer")
    expect(err.locator(".request-id")).to_have_text(request_id)
    # Not a sign-in problem: the session stays.
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_an_origin_not_on_the_allowlist_is_refused(page: Page, platform, foreign_console):
    """The same console served from an origin the API does not allow: Cognito
    signs in (it allows any origin), but the browser refuses the API's answer."""
    page.goto(foreign_console + "/")
    page.get_by_label("User name or email").fill(platform.user)
    page.get_by_label("Password", exact=True).fill(platform.password)
    page.get_by_role("button", name="Sign in").click()
    err = page.locator("#me-error")
    expect(err).to_contain_text("The API could not be reached")
    expect(err).to_contain_text("CORS")

