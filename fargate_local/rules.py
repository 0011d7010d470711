"""Fargate's rules for the containers of one task, as pure functions of their states: no
process, no clock, no container engine. The supervisor applies them; tests/fargate_local/
test_rules.py checks each in milliseconds.

Sources, in the Amazon ECS Developer Guide:
- "Container dependency" and the ``dependsOn`` parameter: START, COMPLETE, SUCCESS, HEALTHY;
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#container_definition_dependson
- ``essential``: "If the essential parameter of a container is marked as true, and that container
  fails or stops for any reason, all other containers that are part of the task are stopped."
- ``healthCheck``: interval 30, timeout 5, retries 3, startPeriod 0 by default; failures inside
  the start period do not count; a service replaces a task whose essential container is
  UNHEALTHY (a standalone run-task does not).
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_HealthCheck.html
- ``stopTimeout``: SIGTERM, then SIGKILL after it (30 s on Fargate when unset); containers
  stop in reverse dependency order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .taskdef import TaskError

PENDING, RUNNING, STOPPED = "PENDING", "RUNNING", "STOPPED"
UNKNOWN, HEALTHY, UNHEALTHY = "UNKNOWN", "HEALTHY", "UNHEALTHY"
#: Fargate's default stopTimeout when the container definition sets none.
DEFAULT_STOP_TIMEOUT = 30
#: ECS defaults for a healthCheck's optional fields.
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
#: What ``dependency`` answers while a condition may still be met, and once all are.
WAIT, MET = "wait", "met"


@dataclass
class ContainerState:
    definition: dict
    name: str  # the engine's container name
    status: str = PENDING  # PENDING -> RUNNING -> STOPPED
    exit_code: Optional[int] = None
    health: str = UNKNOWN  # UNKNOWN -> HEALTHY | UNHEALTHY (only with a healthCheck)
    started_at: float = 0.0

    @property
    def essential(self) -> bool:
        return bool(self.definition.get("essential", True))


def dependency(state: ContainerState, states: dict[str, ContainerState]) -> str:
    """MET when every ``dependsOn`` condition of a PENDING container holds, WAIT while one may
    still come, or why one never can (SUCCESS after a non-zero exit, HEALTHY after UNHEALTHY or
    an exit)."""
    for dep in state.definition.get("dependsOn", []):
        other, condition, name = states[dep["containerName"]], dep["condition"], state.definition["name"]
        if condition == "START":
            ok = other.status != PENDING
        elif condition == "COMPLETE":
            ok = other.status == STOPPED
        elif condition == "SUCCESS":
            if other.status == STOPPED and other.exit_code != 0:
                return f"{other.definition['name']} exited {other.exit_code}, {name} needs SUCCESS"
            ok = other.status == STOPPED
        elif condition == "HEALTHY":
            if other.health == UNHEALTHY or other.status == STOPPED:
                return f"{other.definition['name']} will not become HEALTHY"
            ok = other.health == HEALTHY
        else:
            raise TaskError(f"container {name}: unknown dependsOn condition {condition}")
        if not ok:
            return WAIT
    return MET


def task_stop_reason(states: dict[str, ContainerState], service: bool) -> Optional[str]:
    """Why the task stops now: an essential container exited, or (in a service) is UNHEALTHY."""
    for name, state in states.items():
        if not state.essential:
            continue
        if state.status == STOPPED:
            return f"essential container {name} exited {state.exit_code}"
        if service and state.health == UNHEALTHY:
            return f"essential container {name} is UNHEALTHY"
    return None


def stop_order(containers: list[dict]) -> list[str]:
    """Dependents before the containers they depend on."""
    deps = {c["name"]: [d["containerName"] for d in c.get("dependsOn", [])] for c in containers}
    ordered: list[str] = []

    def visit(name: str, path: tuple = ()) -> None:
        if name in ordered or name in path:
            return
        for dep in deps.get(name, []):
            visit(dep, path + (name,))
        ordered.append(name)

    for c in containers:
        visit(c["name"])
    return list(reversed(ordered))


def stop_timeout(definition: dict) -> int:
    """Seconds from SIGTERM to SIGKILL."""
    return int(definition.get("stopTimeout", DEFAULT_STOP_TIMEOUT))


@dataclass(frozen=True)
class HealthCheck:
    command: tuple[str, ...]  # what to execute in the container
    interval: float
    timeout: float
    retries: int
    start_period: float

    @classmethod
    def of(cls, definition: dict) -> Optional["HealthCheck"]:
        """The container's ``healthCheck`` with ECS's defaults; None without one (the image's own
        HEALTHCHECK is ignored, as ECS ignores it)."""
        if not definition.get("healthCheck"):
            return None
        check = {**HEALTH_DEFAULTS, **definition["healthCheck"]}
        command = list(check["command"])
        if command[0] == "CMD-SHELL":
            command = ["/bin/sh", "-c", command[1]]
        elif command[0] == "CMD":
            command = command[1:]
        return cls(tuple(command), check["interval"], check["timeout"], check["retries"], check["startPeriod"])

    def after(self, health: str, failures: int, ok: bool, since_start: float) -> tuple[str, int]:
        """The health status and consecutive failures after one check: a pass is HEALTHY at once;
        ``retries`` failures in a row, outside the start period, are UNHEALTHY."""
        if ok:
            return HEALTHY, 0
        if since_start < self.start_period:
            return health, failures
        failures += 1
        return (UNHEALTHY if failures >= self.retries else health), failures
