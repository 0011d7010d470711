"""The framework seam: cdktf or CDK Terrain (cdktn), chosen once, and the same Terraform JSON from both.

The cdktn tests run the CDK Terrain virtualenv (.venv-cdktn, made by `make setup`) as a
subprocess, so that each framework runs as a consumer who installed only it would run it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib import framework
from constructs_lib.framework import FRAMEWORK_ENV, FrameworkError, resolve
from tests.test_golden import framework_neutral, normalized

ROOT = Path(__file__).resolve().parent.parent
CDKTN_PYTHON = ROOT / ".venv-cdktn" / "bin" / "python"
STACKS = ["bootstrap", "network", "model-cache", "service"]


def test_the_framework_is_chosen_automatically_and_cdktf_is_preferred():
    assert resolve({}) == framework.NAME
    assert framework.NAME in ("cdktf", "cdktn")
    if framework._installed("cdktf"):
        assert resolve({}) == "cdktf"


def test_every_name_comes_from_the_chosen_framework():
    from constructs_lib.framework import App, Fn, aws

    core = __import__(framework.CORE_PACKAGE)
    assert App is core.App and Fn is core.Fn
    assert aws.vpc.__name__ == f"{framework.AWS_PACKAGE}.vpc"


@pytest.mark.parametrize("value,message", [
    ("cdk", "PADDLEOCR_EFS_FRAMEWORK='cdk': must be one of cdktf, cdktn"),
    ("cdktx", "PADDLEOCR_EFS_FRAMEWORK='cdktx': must be one of cdktf, cdktn"),
], ids=["unknown", "typo"])
def test_a_bad_choice_is_one_line(value, message):
    with pytest.raises(FrameworkError) as error:
        resolve({FRAMEWORK_ENV: value})
    assert str(error.value) == message


def test_forcing_a_framework_that_is_not_installed_says_what_to_install(monkeypatch):
    monkeypatch.setattr(framework, "_installed", lambda name: name == "cdktf")
    with pytest.raises(FrameworkError, match=r"^PADDLEOCR_EFS_FRAMEWORK=cdktn: cdktn and cdktn_provider_aws are not "
                                             r"installed; pip install 'paddleocr-efs\[cdktn\]'$"):
        resolve({FRAMEWORK_ENV: "cdktn"})
    monkeypatch.setattr(framework, "_installed", lambda name: False)
    with pytest.raises(FrameworkError, match=r"^neither cdktf nor cdktn is installed"):
        resolve({})


def test_main_without_a_framework_prints_one_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "main.py")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, FRAMEWORK_ENV: "cdktn" if framework.NAME == "cdktf" else "cdktx"})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("paddleocr-efs: PADDLEOCR_EFS_FRAMEWORK=")


def cdktn(*args: str, **kwargs) -> subprocess.CompletedProcess:
    if not CDKTN_PYTHON.exists():
        pytest.fail(".venv-cdktn is missing: run `make setup` (the cdktn tests need it)")
    return subprocess.run([str(CDKTN_PYTHON), *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=True, **kwargs)


@pytest.mark.cdktn
def test_cdktn_synthesizes_the_same_json_apart_from_version_stamp_and_provider_source(default_stacks, tmp_path):
    if framework.NAME != "cdktf":
        pytest.fail("this comparison runs from the cdktf virtualenv")
    cdktn("main.py", env={**os.environ, "CDKTF_OUTDIR": str(tmp_path)})
    for stack in STACKS:
        ours = json.loads(normalized(default_stacks / stack / "cdk.tf.json"))
        theirs = json.loads(normalized(tmp_path / "stacks" / stack / "cdk.tf.json"))
        assert ours["//"]["metadata"]["version"].startswith("0.21.") and theirs["//"]["metadata"]["version"].startswith("0.24.")
        assert (ours["terraform"]["required_providers"]["aws"]["source"],
                theirs["terraform"]["required_providers"]["aws"]["source"]) == ("aws", "hashicorp/aws")
        assert framework_neutral(ours) == framework_neutral(theirs), f"{stack} differs beyond the known differences"


@pytest.mark.cdktn
def test_the_lazy_loader_is_a_no_op_on_cdktn():
    out = cdktn("-c", "import sys; from constructs_lib import framework, lazy_provider; "
                      "print(framework.NAME, lazy_provider.install(), 'cdktf_cdktf_provider_aws' in sys.modules)").stdout
    assert out.split() == ["cdktn", "False", "False"]
