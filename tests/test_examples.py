"""The package as a consumer gets it: `pip install .[cdktf]` into a fresh virtualenv outside the repo,
then each example in examples/ synthesizes and passes `terraform validate` with the real provider."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib import framework
from tests.test_terraform import validate_all

pytestmark = [pytest.mark.terraform, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "main.py").is_file())


@pytest.fixture(scope="module")
def consumer_python(tmp_path_factory) -> Path:
    """A fresh virtualenv with only `pip install <repo>[<framework>]` in it (dependencies from the
    index, within pyproject's ranges; no editable install, no dev extras)."""
    venv = tmp_path_factory.mktemp("consumer") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # A copy of the sources, so that nothing the test does can write into the checkout.
    source = tmp_path_factory.mktemp("source") / "paddleocr-efs"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "node_modules", "cdktf.out", "*.egg-info", "__pycache__", ".pytest_cache", "terraform.*"))
    # The extra of the framework this test runs on: [cdktf], or [cdktn] under make test-cdktn.
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{source}[{framework.NAME}]"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return python


def test_the_installed_package_is_typed_and_licensed(consumer_python):
    out = subprocess.run([str(consumer_python), "-c", """
import importlib.metadata as m, pathlib, constructs_lib
print(pathlib.Path(constructs_lib.__file__).with_name("py.typed").is_file(), m.metadata("paddleocr-efs")["License-Expression"])
"""], capture_output=True, text=True, check=True, cwd="/", timeout=120).stdout
    assert out.split() == ["True", "Apache-2.0"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_synthesizes_and_validates_from_the_installed_package(example, consumer_python, tmp_path,
                                                                      terraform_env):
    workdir = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, workdir)
    env = {**os.environ, "CDKTF_OUTDIR": str(tmp_path / "out"), "PYTHONPATH": ""}
    result = subprocess.run([str(consumer_python), "main.py"], cwd=workdir, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    # The module came from the fresh virtualenv, not the checkout.
    origin = subprocess.run([str(consumer_python), "-c", "import constructs_lib; print(constructs_lib.__file__)"],
                            cwd=workdir, env=env, capture_output=True, text=True, check=True).stdout
    assert origin.startswith(str(consumer_python.parent.parent)), origin
    stacks = tmp_path / "out" / "stacks"
    assert any(stacks.iterdir())
    validate_all(stacks, terraform_env)
