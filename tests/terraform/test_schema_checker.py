"""The offline schema checker and the schema file it reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import ROOT, TF

CHECK = ROOT / "scripts" / "tf-schema" / "check.py"


def run_check(tf_dir):
    return subprocess.run([sys.executable, str(CHECK), "--terraform-dir", str(tf_dir)], capture_output=True, text=True, check=False)


def copy_tree(tmp_path):
    dst = tmp_path / "terraform"
    shutil.copytree(TF, dst, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
    return dst


def test_the_configuration_passes_the_schema_check():
    r = run_check(TF)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 problems" in r.stdout


def test_an_unknown_argument_is_reported(tmp_path):
    tf = copy_tree(tmp_path)
    main = tf / "modules" / "data" / "main.tf"
    main.write_text(main.read_text().replace("storage_encrypted     = true", "storage_encrypted     = true\n  storage_encryptd      = true"))
    r = run_check(tf)
    assert r.returncode == 1
    assert "aws_db_instance.this: unknown argument or block 'storage_encryptd'" in r.stdout


def test_an_unknown_nested_block_argument_is_reported(tmp_path):
    tf = copy_tree(tmp_path)
    main = tf / "modules" / "functions" / "main.tf"
    main.write_text(main.read_text().replace('mode = "Active"', 'mode = "Active"\n    sampling = 1'))
    r = run_check(tf)
    assert r.returncode == 1 and "tracing_config: unknown argument or block 'sampling'" in r.stdout


def test_a_wrong_module_argument_and_a_missing_output_are_reported(tmp_path):
    tf = copy_tree(tmp_path)
    main = tf / "main.tf"
    text = main.read_text().replace("  enable_proxy              = var.db_enable_proxy", "  enable_rds_proxy          = var.db_enable_proxy")
    main.write_text(text)
    outputs = tf / "outputs.tf"
    outputs.write_text(outputs.read_text().replace("module.api.rest_api_id", "module.api.rest_api"))
    r = run_check(tf)
    assert r.returncode == 1
    assert "module 'data' has no variable 'enable_rds_proxy'" in r.stdout
    assert "module 'api' has no output 'rest_api'" in r.stdout


def test_the_schema_covers_exactly_the_types_in_use():
    sys.path.insert(0, str(ROOT / "scripts" / "tf-schema"))
    from common import used_types

    schema = json.loads(next((TF / ".schema").glob("aws-*.json")).read_text())
    resources, data = used_types(TF)
    assert set(schema["resources"]) == resources, "re-run scripts/tf-schema/extract.py (docs/terraform.md)"
    assert set(schema["data_sources"]) == data
    assert schema["provider_version"] == "6.25.0"
    assert "function_name" in schema["resources"]["aws_lambda_function"]["arguments"]
    assert "vpc_config" in schema["resources"]["aws_lambda_function"]["blocks"]
