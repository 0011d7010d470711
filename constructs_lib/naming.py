"""Every physical name derives from one ``project``, so two environments never collide.

The rule is chosen so that ``project="sabuho"`` gives exactly the names the manual guide uses.
Any name can still be set explicitly in the props of the construct that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from constructs_lib import validation


@dataclass(frozen=True)
class Names:
    """The derived names of one environment. ``Names("sabuho")`` is the guide's."""

    project: str

    def __post_init__(self) -> None:
        validation.project("project", self.project)

    @property
    def prefix(self) -> str:
        """Network, buckets, queues, alarms, dashboard: ``<project>-paddleocr``."""
        return f"{self.project}-paddleocr"

    @property
    def file_system(self) -> str:
        """The EFS Name tag: ``<project>-paddleocr-models``."""
        return f"{self.prefix}-models"

    @property
    def cluster(self) -> str:
        return f"{self.project}-cluster"

    @property
    def family(self) -> str:
        """Task definition family, and the ECR repository: ``<project>-processor``."""
        return f"{self.project}-processor"

    @property
    def service(self) -> str:
        return f"{self.family}-service"

    @property
    def repository(self) -> str:
        return self.family

    @property
    def task_role(self) -> str:
        return f"{self.family}-task-role"

    @property
    def execution_role(self) -> str:
        return f"{self.family}-execution-role"

    @property
    def operator_policy(self) -> str:
        """The managed policy of ``paddleocr-efs``: ``<project>-paddleocr-operator``."""
        return f"{self.prefix}-operator"

    @property
    def log_group(self) -> str:
        return log_group_of(self.family)


def log_group_of(family: str) -> str:
    """The containers' log group of a task definition family: ``/ecs/<family>``."""
    return f"/ecs/{family}"
