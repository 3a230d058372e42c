"""scripts/images.py: workload images are tagged by content, and `make deploy`
refuses images ECR does not hold."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess

import boto3
import pytest
from moto import mock_aws

from conftest import ROOT

spec = importlib.util.spec_from_file_location("images", ROOT / "scripts" / "images.py")
images = importlib.util.module_from_spec(spec)
spec.loader.exec_module(images)


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch):
    """The mocked ECR still wants credentials; never the operator's own."""
    for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A clean clone of what is committed, to edit freely."""
    if shutil.which("git") is None:
        pytest.fail("git is missing: the content tags hash the files git tracks")
    dest = tmp_path_factory.mktemp("repo") / "r"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    return dest


def edit(path, extra="\n// edited by test_images\n"):
    old = path.read_text(encoding="utf-8")
    path.write_text(old + extra, encoding="utf-8")
    return old


def test_tags_are_content_addressed_and_stable(clone):
    first = images.tags(clone)
    assert set(first) == {"sample-job", "sample-service", "sample-web"}
    assert all(t.startswith("c-") and len(t) == 22 for t in first.values()), first
    assert images.tags(clone) == first, "two runs over the same files gave different tags"


@pytest.mark.parametrize(
    "path, changes",
    [
        # Unrelated to every workload: a commit here must not move any tag
        # (HEAD-based tags did: every image looked unpushed).
        ("functions/keys/src/lib.rs", set()),
        ("docs/deploy.md", set()),
        # The services' one Portcullis dependency.
        ("shared/identity/src/lib.rs", {"sample-service", "sample-web"}),
        ("workloads/sample-job/src/main.rs", {"sample-job"}),
        ("workloads/sample-service/Dockerfile", {"sample-service"}),
        ("workloads/sample-web/src/main.rs", {"sample-web"}),
        ("Cargo.lock", {"sample-job", "sample-service", "sample-web"}),
    ],
)
def test_a_tag_moves_exactly_when_its_inputs_change(clone, path, changes):
    before = images.tags(clone)
    f = clone / path
    old = edit(f)
    try:
        after = images.tags(clone)
    finally:
        f.write_text(old, encoding="utf-8")
    moved = {w for w in before if before[w] != after[w]}
    assert moved == changes, f"editing {path} moved {sorted(moved)}, expected {sorted(changes)}"


@mock_aws
def test_the_check_names_each_image_ecr_lacks():
    ecr = boto3.client("ecr", region_name="eu-west-1")
    ecr.create_repository(repositoryName="pc/sample-service")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "config": {}, "layers": []})
    ecr.put_image(repositoryName="pc/sample-service", imageManifest=manifest, imageTag="c-present")
    wanted = {"sample-service": "c-present", "sample-job": "c-absent"}
    assert images.missing_images(ecr, "pc", wanted) == ["pc/sample-job:c-absent (no repository pc/sample-job)"]
    ecr.create_repository(repositoryName="pc/sample-job")
    assert images.missing_images(ecr, "pc", wanted) == ["pc/sample-job:c-absent"]
    assert images.missing_images(ecr, "pc", {"sample-service": "c-present"}) == []


@mock_aws
def test_the_check_command_refuses_and_says_what_to_do(capsys):
    rc = images.main(["check", "--region", "eu-west-1", "--name", "pc", "--tags", json.dumps({"sample-job": "c-1"})])
    err = capsys.readouterr().err
    assert rc == 1
    assert "pc/sample-job:c-1" in err and "make images" in err
    assert images.main(["check", "--region", "eu-west-1", "--name", "pc", "--tags", "{not json"]) == 2
