"""The CPUs the inference threads default to, under a real cgroup CPU quota (what a Fargate task's
size, or ``podman run --cpus``, sets) and a real CPU affinity."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from ocr_worker import cpus

PRINT = [sys.executable, "-c", "from ocr_worker import cpus; print(cpus.available(), cpus.cgroup_quota())"]


@pytest.fixture
def one_cpu_cgroup():
    """A new cgroup limited to one CPU's time per period (v1 or v2, whichever this kernel mounts)."""
    v1 = (cpus.CGROUP_ROOT / "cpu").is_dir()
    folder = (cpus.CGROUP_ROOT / "cpu" if v1 else cpus.CGROUP_ROOT) / f"ocr-test-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        if v1:
            (folder / "cpu.cfs_period_us").write_text("100000")
            (folder / "cpu.cfs_quota_us").write_text("100000")
        else:
            (folder / "cpu.max").write_text("100000 100000")
        yield folder
    finally:
        folder.rmdir()


def run_in(cgroup: Path) -> str:
    def join():
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))
    return subprocess.run(PRINT, preexec_fn=join, capture_output=True, text=True, check=True).stdout.strip()


def test_a_cpu_quota_caps_the_count_below_the_cpus_in_sight(one_cpu_cgroup):
    assert len(os.sched_getaffinity(0)) >= 2, "this test needs a machine with 2 CPUs or more"
    assert run_in(one_cpu_cgroup) == "1 1.0"


def test_without_a_quota_it_is_the_affinity():
    out = subprocess.run(["taskset", "-c", "0", *PRINT], capture_output=True, text=True, check=True).stdout
    assert out.split()[0] == "1"


def test_an_unreadable_cgroup_file_means_no_quota(tmp_path):
    assert cpus.cgroup_quota(tmp_path / "missing") is None
    (tmp_path / "cgroup").write_text("1:cpu:/no/such/group\n")
    assert cpus.cgroup_quota(tmp_path / "cgroup") is None
