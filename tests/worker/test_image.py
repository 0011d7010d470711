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


def test_pinned_requirements():
    lines = [line for line in (IMAGE / "requirements.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines and all("==" in line for line in lines)


def test_compose_reuses_a_named_cache_volume_read_only_for_the_server():
    compose = (IMAGE / "docker-compose.yml").read_text()
    assert "paddlex-cache:/var/cache/paddlex\n" in compose
    assert "paddlex-cache:/var/cache/paddlex:ro" in compose
    assert "condition: service_completed_successfully" in compose
