"""The test model sets: the default one is what production deploys, but for the weights' source."""

import subprocess
import sys

from ocr_worker.models import DEFAULT_TIER, ModelLock, tier_lock_path

from tests.model_mirror import ROOT, build_mirror


def shape(lock: ModelLock) -> list[tuple[str, str, str]]:
    return [(m.name, m.role, m.format) for m in lock.models]


def test_the_default_test_set_is_the_default_tier_but_pinned(mirror):
    tested, deployed = ModelLock.load(mirror / "models.lock.json"), ModelLock.load(tier_lock_path(DEFAULT_TIER))
    assert shape(tested) == shape(deployed)
    assert all(m.sha256 and m.size == (mirror / m.archive).stat().st_size for m in tested.models)


def test_the_small_set_is_the_small_tier(tmp_path):
    assert shape(ModelLock.load(build_mirror(tmp_path, "small"))) == shape(ModelLock.load(tier_lock_path("small")))


def test_the_command_line_builds_the_default_set_and_prints_its_lock_last(tmp_path):
    script = str(ROOT / "tests" / "model_mirror.py")
    result = subprocess.run([sys.executable, script, str(tmp_path / "m")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == str(tmp_path / "m" / "models.lock.json")
    assert shape(ModelLock.load(tmp_path / "m" / "models.lock.json"))[1][0] == "PP-OCRv6_tiny_det"
    bad = subprocess.run([sys.executable, script, str(tmp_path / "x"), "huge"], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "model_mirror: unknown model set 'huge': one of tiny, small, v5-paddle"
