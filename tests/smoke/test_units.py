"""Unit tests of the smoke suite's own parts and of scripts/docs-run.py's
parser (no platform needed):

    python3 -m unittest discover -s tests/smoke -p 'test_*.py'
"""

import datetime as dt
import importlib.util
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cognito  # noqa: E402

spec = importlib.util.spec_from_file_location("docs_run", os.path.join(HERE, "..", "..", "scripts", "docs-run.py"))
docs_run = importlib.util.module_from_spec(spec)
sys.modules["docs_run"] = docs_run
spec.loader.exec_module(docs_run)


class SigV4(unittest.TestCase):
    def test_the_signature_matches_the_aws_test_suites_get_vanilla_example(self):
        # AWS Signature Version 4 test suite, "get-vanilla".
        headers = cognito.sigv4_headers(
            method="GET", url="https://example.amazonaws.com/", region="us-east-1", service="service", body=b"",
            headers={}, access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            now=dt.datetime(2015, 8, 30, 12, 36, 0, tzinfo=dt.timezone.utc))
        self.assertEqual(
            headers["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")

    def test_a_session_token_is_signed_and_sent(self):
        headers = cognito.sigv4_headers(method="POST", url="https://cognito-idp.eu-west-1.amazonaws.com/", region="eu-west-1",
                                        service="cognito-idp", body=b"{}", headers={"X-Amz-Target": "t"},
                                        access_key="AK", secret_key="SK", session_token="TOKEN")
        self.assertEqual(headers["X-Amz-Security-Token"], "TOKEN")
        self.assertIn("SignedHeaders=host;x-amz-date;x-amz-security-token;x-amz-target", headers["Authorization"])

    def test_a_pools_region_is_its_ids_prefix(self):
        self.assertEqual(cognito.region_of_pool("eu-west-1_AbCdEf"), "eu-west-1")


class DocsRunParser(unittest.TestCase):
    def test_the_expected_status_is_the_trailing_comments_first_word(self):
        self.assertEqual(docs_run.expected_of(docs_run.trailing_comment("curl -s $B/v1/health   # 200 with database")), {200})
        self.assertEqual(docs_run.expected_of(docs_run.trailing_comment("curl -s x   # 200|401")), {200, 401})
        self.assertEqual(docs_run.expected_of(docs_run.trailing_comment("curl -s x   # -> 201")), {201})
        self.assertIsNone(docs_run.expected_of(docs_run.trailing_comment("ADMIN=$(cat k)   # keys:admin, tenant platform")))
        self.assertIsNone(docs_run.expected_of(docs_run.trailing_comment("curl -s x   # 2000 ms")))

    def test_a_hash_inside_quotes_or_a_parameter_is_not_a_comment(self):
        self.assertIsNone(docs_run.trailing_comment("curl -d '{\"a\":\"#b\"}' \"$B/#x\" ${#arr} $#"))
        self.assertEqual(docs_run.trailing_comment("echo 'a' # c"), "c")

    def test_continued_lines_make_one_command_and_its_last_line_carries_the_status(self):
        cmds = docs_run.parse_commands("f.md", 10, [
            "DEMO=$(curl -s -H 'a: b' \\",
            "  -d '{}' $B/v1/keys |",
            "  python3 -c 'import json,sys; print(1)')   # 201",
            "curl -s $B/v1/me",
            "# a comment line",
        ])
        self.assertEqual([(c.line, c.checked, c.expected) for c in cmds],
                         [(10, True, {201}), (13, True, None), (14, False, None)])

    def test_only_marked_shell_blocks_run_and_indentation_is_removed(self):
        text = "\n".join([
            "```sh", "curl -s a   # 200", "```",
            "<!-- docs-run: timeout=60 -->", "", "```sh", "curl -s b   # 404", "```",
            "<!-- docs-run -->", "```json", "{}", "```",
            "- item", "  ```sh", "  curl -s c  # 200 fingerprinted", "  ```",
        ])
        original = docs_run.FINGERPRINTS
        docs_run.FINGERPRINTS = [("x.md", "fingerprinted")]
        try:
            blocks = docs_run.extract("x.md", text)
        finally:
            docs_run.FINGERPRINTS = original
        self.assertEqual([(b.line, b.timeout, b.commands[0].text) for b in blocks],
                         [(7, 60.0, "curl -s b   # 404"), (15, 300.0, "curl -s c  # 200 fingerprinted")])

    def test_the_docs_local_platform_is_rewritten_to_the_target(self):
        text = "curl -s localhost:3000/v1/health; B=http://127.0.0.1:3000; K=$(cat .local/demo-service-key); ls x.local/"
        self.assertEqual(docs_run.rewrite(text, "http://127.0.0.1:4100", "/tmp/t/.local/test"),
                         "curl -s 127.0.0.1:4100/v1/health; B=http://127.0.0.1:4100; "
                         "K=$(cat /tmp/t/.local/test/demo-service-key); ls x.local/")

    def test_a_wrong_status_a_command_that_never_ran_and_a_failed_command_fail(self):
        cmd = docs_run.Command("f.md", 1, "curl x  # 200", {200}, True)
        self.assertEqual(docs_run.verdict(docs_run.Result(cmd, [200]))[0], "PASS")
        self.assertEqual(docs_run.verdict(docs_run.Result(cmd, [403]))[0], "FAIL")
        self.assertEqual(docs_run.verdict(docs_run.Result(cmd, []))[0], "FAIL")
        self.assertEqual(docs_run.verdict(docs_run.Result(cmd, [200], error="exited 1"))[0], "FAIL")
        plain = docs_run.Command("f.md", 1, "curl x", None, True)
        self.assertEqual(docs_run.verdict(docs_run.Result(plain, [302]))[0], "PASS")
        self.assertEqual(docs_run.verdict(docs_run.Result(plain, [404]))[0], "FAIL")


if __name__ == "__main__":
    unittest.main()
