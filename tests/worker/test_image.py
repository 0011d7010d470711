"""The container definition: hadolint clean, non-root, and the names it shares with the infrastructure."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from constructs_lib.config import Settings

IMAGE = Path(__file__).resolve().parents[2] / "image"
DOCKERFILE = (IMAGE / "Dockerfile").read_text()


@pytest.mark.scan
def test_hadolint_clean():
    exe = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(exe), "--config", str(IMAGE / ".hadolint.yaml"), str(IMAGE / "Dockerfile")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_as_the_access_point_user_not_root():
    defaults = Settings().model_cache
    assert f"ARG UID={defaults.uid}" in DOCKERFILE and f"ARG GID={defaults.gid}" in DOCKERFILE
    users = re.findall(r"^USER (.+)$", DOCKERFILE, re.M)
    assert users == ["${UID}:${GID}"]


def test_cache_home_is_the_efs_mount_path():
    assert f"PADDLE_PDX_CACHE_HOME={Settings().service.cache_mount_path}" in DOCKERFILE


def test_final_stage_has_no_build_tools():
    final = DOCKERFILE.split("\nFROM ")[-1]
    assert not re.search(r"\b(gcc|g\+\+|build-essential|make)\b", final)


def pins(path: Path) -> dict[str, str]:
    """name -> version of every ``name==version`` line, names normalized as pip does."""
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", path.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in found}


def test_the_image_installs_a_hashed_lock_of_the_versions_the_tests_run_on():
    assert "pip install --no-cache-dir --require-hashes --no-deps -r engine.lock" in DOCKERFILE
    lock, top = pins(IMAGE / "requirements.lock"), pins(IMAGE / "requirements.txt")
    assert top and all(lock.get(name) == version for name, version in top.items())
    entries = re.split(r"\n(?=[A-Za-z0-9])", (IMAGE / "requirements.lock").read_text().split("\n", 3)[3])
    assert len(entries) == len(lock) and all("--hash=sha256:" in entry for entry in entries)
    tested = pins(IMAGE.parent / "requirements.lock")
    assert {name: version for name, version in lock.items() if tested.get(name, version) != version} == {}


def engine_step() -> str:
    """The build stage's shell step that picks the engine's lock, as Docker joins its lines."""
    [step] = re.findall(r"^RUN (if \[ \"\$\{ENGINE\}\" = onnxruntime \].*?fi) \\$", DOCKERFILE, re.M | re.S)
    return step.replace("\\\n", "")


@pytest.mark.parametrize("engine,dropped", [
    ("onnxruntime", {"paddlepaddle", "paddle2onnx", "onnx", "onnxoptimizer", "polygraphy", "opt-einsum"}),
    ("paddle", set()),
])
def test_the_engine_build_argument_drops_only_what_paddle_alone_uses(tmp_path, engine, dropped):
    """The build stage's own shell step, run on the lock: the default image has no Paddle."""
    step = engine_step()
    (tmp_path / "requirements.lock").write_bytes((IMAGE / "requirements.lock").read_bytes())
    subprocess.run(["sh", "-ec", step], cwd=tmp_path, env={"ENGINE": engine, "PATH": "/usr/bin:/bin"},
                   check=True, timeout=60)
    kept = pins(tmp_path / "engine.lock")
    assert set(pins(IMAGE / "requirements.lock")) - set(kept) == dropped
    assert {"onnxruntime", "paddlex", "paddleocr", "opencv-contrib-python"} <= set(kept)
    assert all("--hash=sha256:" in entry for entry in re.split(r"\n(?=[a-z])", (tmp_path / "engine.lock").read_text())
               if "==" in entry)


def test_an_unknown_engine_fails_the_build_in_one_line(tmp_path):
    step = engine_step()
    result = subprocess.run(["sh", "-ec", step], cwd=tmp_path, env={"ENGINE": "cuda"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr == "ENGINE must be onnxruntime or paddle, not cuda\n"


def test_compose_reuses_a_named_cache_volume_read_only_for_the_server():
    compose = (IMAGE / "docker-compose.yml").read_text()
    assert "paddlex-cache:/var/cache/paddlex\n" in compose
    assert "paddlex-cache:/var/cache/paddlex:ro" in compose
    assert "condition: service_completed_successfully" in compose


def test_the_final_stage_installs_no_mesa():
    """libgl1 drags in Mesa and LLVM (about 330 MB); OpenCV only needs the GL dispatch libraries,
    which the build stage copies out. The image tests prove cv2 still imports and reads."""
    final = DOCKERFILE.split("\nFROM ")[-1]
    installed = re.search(r"apt-get install -y --no-install-recommends ([^\\\n]+)", final).group(1).split()
    assert "libgl1" not in installed and "libglvnd0" in installed
    assert "COPY --from=build /gl/ /usr/local/lib/" in final and "ldconfig" in final


def test_the_service_offers_the_backends_the_image_has():
    from ocr_worker.cache import BACKENDS

    from constructs_lib.task_definition import BACKENDS as SERVICE_BACKENDS

    assert SERVICE_BACKENDS == BACKENDS
