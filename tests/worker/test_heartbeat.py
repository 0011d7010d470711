"""`ocr-worker health`, the task definition's health check: healthy only while the loop beats."""

import os
import subprocess
import sys
import time

import pytest


def health(tmp_path, **env):
    environment = {**os.environ, "OCR_HEARTBEAT_FILE": str(tmp_path / "beat"), **env}
    return subprocess.run([sys.executable, "-m", "ocr_worker", "health"], env=environment, capture_output=True,
                          text=True, timeout=60)


def test_no_heartbeat_is_unhealthy(tmp_path):
    result = health(tmp_path)
    assert result.returncode == 1 and "no heartbeat" in result.stdout


def test_a_fresh_heartbeat_is_healthy(tmp_path):
    (tmp_path / "beat").touch()
    assert health(tmp_path).returncode == 0


@pytest.mark.parametrize("age, limit, code", [(200, None, 1), (50, "30", 1), (50, "60", 0)])
def test_a_stale_heartbeat_is_unhealthy(tmp_path, age, limit, code):
    beat = tmp_path / "beat"
    beat.touch()
    os.utime(beat, (time.time() - age, time.time() - age))
    env = {"OCR_HEARTBEAT_MAX_AGE": limit} if limit else {}
    assert health(tmp_path, **env).returncode == code


def test_the_worker_loop_beats_while_it_polls(tmp_path):
    from ocr_worker.heartbeat import Heartbeat

    beat = Heartbeat(tmp_path / "beat", every=0)
    beat.beat()
    first = (tmp_path / "beat").stat().st_mtime_ns
    time.sleep(0.05)
    beat.beat()
    assert (tmp_path / "beat").stat().st_mtime_ns > first
