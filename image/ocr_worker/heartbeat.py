"""Liveness that ECS can see: the worker's loop touches a file each time it makes progress, and
the task definition's healthCheck runs ``ocr-worker health``, which fails once the file is stale.

ECS runs only the health check in the task definition, never the image's HEALTHCHECK, and
stops a service task whose essential container turns UNHEALTHY (AWS::ECS::TaskDefinition
HealthCheck). A worker stuck in a page, a dead loop or a wedged queue client then gets replaced.
"""

from __future__ import annotations

import time
from pathlib import Path

#: On the task's scratch bind mount; the root file system is read-only.
DEFAULT_FILE = "/tmp/ocr-worker.heartbeat"
#: Longer than one long-poll (20 s) and than one large page on 2 vCPU, with margin.
DEFAULT_MAX_AGE = 120


class Heartbeat:
    """Touch ``file`` (``OCR_HEARTBEAT_FILE``) at most every ``every`` seconds (a poll loop may
    spin fast)."""

    def __init__(self, file: str | Path = DEFAULT_FILE, every: float = 1.0) -> None:
        self.file, self.every, self.last = Path(file), every, 0.0

    def beat(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.file.touch()
            self.last = now


def age_seconds(file: str | Path) -> float | None:
    """Seconds since the last beat, or None if the loop never beat."""
    try:
        return time.time() - Path(file).stat().st_mtime
    except FileNotFoundError:
        return None
