"""The library's wheel holds the library: constructs_lib and its py.typed, not the local runner
(fargate_local/), the worker (image/) or the tests."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

pytestmark = pytest.mark.slow


def test_the_wheel_holds_the_library_alone(tmp_path):
    # Built from a copy beside the runner and the worker, so the build leaves nothing in the checkout.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "node_modules", "cdktf.out*", "__pycache__",
                                                                "*.egg-info", "build"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(source)],
                   check=True, capture_output=True)
    (wheel,) = tmp_path.glob("paddleocr_efs-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"constructs_lib"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "constructs_lib/py.typed" in names and not any("run_task" in n for n in names)
    # The worker's rules for the worker section, and the operator command with its entry point.
    assert {"constructs_lib/worker_settings.json", "constructs_lib/operate/cli.py"} <= set(names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "paddleocr-efs = constructs_lib.operate.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_version_comes_from_the_package_and_the_changelog_has_it():
    import tomllib

    import constructs_lib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert constructs_lib.__version__ == version
    assert f"## {version} " in (ROOT / "docs" / "CHANGELOG.md").read_text()


def test_every_stack_is_tagged_with_the_release_that_deployed_it(default_stacks):
    import json

    import constructs_lib

    for stack in ("bootstrap", "network", "model-cache", "service"):
        [provider] = json.loads((default_stacks / stack / "cdk.tf.json").read_text())["provider"]["aws"]
        assert provider["default_tags"][0]["tags"]["ManagedBy"] == f"paddleocr-efs {constructs_lib.__version__}"
