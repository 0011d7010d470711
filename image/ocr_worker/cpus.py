"""How many CPUs this process may use: what the inference threads default to.

A Fargate task, or a container run with ``--cpus``, may see more CPUs than it is given: its size is
a CFS quota on its cgroup. So the count is the process's CPU affinity, capped by its cgroup's quota
rounded up (cgroup v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

CGROUP_ROOT = Path("/sys/fs/cgroup")


def available() -> int:
    cpus = len(os.sched_getaffinity(0))
    quota = cgroup_quota()
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def cgroup_quota(proc_cgroup: Path = Path("/proc/self/cgroup")) -> Optional[float]:
    """CPUs' worth of time the process's cgroup may use per period; None when unlimited or unknown."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        folder = path.lstrip("/")
        try:
            if "cpu" in controllers.split(","):  # v1
                quota = int((CGROUP_ROOT / "cpu" / folder / "cpu.cfs_quota_us").read_text())
                period = int((CGROUP_ROOT / "cpu" / folder / "cpu.cfs_period_us").read_text())
                return quota / period if quota > 0 else None
            if controllers == "" and (CGROUP_ROOT / folder / "cpu.max").is_file():  # v2
                limit, per = (CGROUP_ROOT / folder / "cpu.max").read_text().split()
                return None if limit == "max" else int(limit) / int(per)
        except (OSError, ValueError):
            return None
    return None
