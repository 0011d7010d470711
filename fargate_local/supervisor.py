"""The supervisor: one run of a task definition. It starts containers as their ``dependsOn``
conditions are met, runs each ``healthCheck``, stops the task by the rules in ``rules``, and
drains it the way ECS stops a task. Every change to a container's state is made under one lock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import rules, volumes
from .engine import ContainerCli, run_args
from .rules import PENDING, RUNNING, STOPPED, ContainerState
from .taskdef import TaskDefinition


@dataclass
class LocalTask:
    """``start()`` returns at once; ``wait()`` blocks until every container has stopped;
    ``stop()`` drains it as ECS does.

    Size: the public calls, the loop and the state changes under its lock; the rules it applies
    are ``rules``, the volumes ``volumes``, the container CLI ``engine``."""

    task: TaskDefinition
    workdir: Path
    cli: str = "podman"
    #: Environment for the container CLI itself (podman storage settings, for example).
    cli_env: Optional[dict] = None
    #: Replaces every container's image (the synthesized one is an unresolved ECR reference).
    image: Optional[str] = None
    #: Added to every container's environment; also resolves environment values that are
    #: Terraform references. Stands in for the task role's credentials too.
    env: dict = field(default_factory=dict)
    #: volume name -> host directory standing in for that EFS file system's root.
    efs_roots: dict = field(default_factory=dict)
    #: A service task is stopped when an essential container turns UNHEALTHY; a run-task is not.
    service: bool = True
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.run_id = uuid.uuid4().hex[:8]
        self.engine = ContainerCli(self.cli, self.cli_env)
        self.states = {c["name"]: ContainerState(c, f"{self.task.family}-{c['name']}-{self.run_id}")
                       for c in self.task.containers}
        self.stopped_reason: Optional[str] = None
        self._stop_requested = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._volumes: Optional[dict[str, Path]] = None
        self.task.check_resolvable(self.image, self.env)

    # -- public ------------------------------------------------------------------------------

    def prepare(self) -> dict[str, Path]:
        """Create the task's volumes (once); volume name -> the host directory mounted."""
        if self._volumes is None:
            self._volumes = volumes.prepare(self.task, self.workdir / f"bind-{self.run_id}", self.efs_roots,
                                            self.engine, self.image, f"{self.task.family}-copy-{self.run_id}")
        return self._volumes

    def start(self) -> None:
        self.prepare()
        threading.Thread(target=self._supervise, daemon=True).start()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._done.wait(timeout)

    def stop(self, reason: str = "stop requested") -> None:
        """Like ``aws ecs stop-task``: containers that never started never will; running ones are
        stopped in reverse dependency order, each with SIGTERM then SIGKILL after stopTimeout."""
        self._stopping(reason)
        self._done.wait()

    def wait_for(self, predicate: Callable[["LocalTask"], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s ({self.describe()})")
            if self._done.is_set() and not predicate(self):
                raise AssertionError(f"{what}: the task stopped first ({self.describe()})")
            time.sleep(0.2)

    def describe(self) -> str:
        with self._lock:
            parts = [f"{n}={s.status}" + (f"({s.exit_code})" if s.exit_code is not None else "") +
                     (f"/{s.health}" if s.definition.get("healthCheck") else "") for n, s in self.states.items()]
            return ", ".join(parts) + (f"; stopped: {self.stopped_reason}" if self.stopped_reason else "")

    def logs(self, container: str) -> str:
        result = self.engine("logs", self.states[container].name, check=False)
        return result.stdout + result.stderr

    def exec(self, container: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self.engine("exec", self.states[container].name, *command, check=False, timeout=timeout)

    def remove(self) -> None:
        """Remove the containers and the bind-mount directories (EFS roots stay, like EFS)."""
        for state in self.states.values():
            self.engine("rm", "-f", state.name, check=False)
        shutil.rmtree(self.workdir / f"bind-{self.run_id}", ignore_errors=True)

    # -- state changes, under the lock -------------------------------------------------------

    def _set(self, state: ContainerState, **changes: object) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(state, key, value)

    def _stopping(self, reason: str) -> None:
        with self._lock:
            self.stopped_reason = self.stopped_reason or reason
        self._stop_requested.set()

    def _inspect(self, state: ContainerState) -> None:
        code = self.engine.exit_code(state.name)
        if code is not None:
            self._set(state, status=STOPPED, exit_code=code)

    # -- containers --------------------------------------------------------------------------

    def _start(self, state: ContainerState) -> None:
        c = state.definition
        self.log(f"starting {c['name']}")
        self.engine(*run_args(c, state.name, self.image or c["image"], self.env, self.prepare(), self.cli))
        self._set(state, status=RUNNING, started_at=time.monotonic())
        check = rules.HealthCheck.of(c)
        if check:
            threading.Thread(target=self._health_loop, args=(state, check), daemon=True).start()

    def _health_loop(self, state: ContainerState, check: rules.HealthCheck) -> None:
        failures = 0
        while not self._done.is_set():
            if self._stop_requested.wait(check.interval) or state.status != RUNNING:
                return
            try:
                ok = self.exec(state.definition["name"], *check.command, timeout=check.timeout).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            with self._lock:
                state.health, failures = check.after(state.health, failures, ok, time.monotonic() - state.started_at)
            self.log(f"health {state.definition['name']}: {state.health}")

    # -- the supervisor ----------------------------------------------------------------------

    def _supervise(self) -> None:
        try:
            while not self._stop_requested.is_set():
                for state in self.states.values():
                    if state.status == RUNNING:
                        self._inspect(state)
                with self._lock:
                    reason = rules.task_stop_reason(self.states, self.service)
                if reason:
                    self._stopping(reason)
                    break
                for state in self.states.values():
                    if state.status == PENDING:
                        with self._lock:
                            verdict = rules.dependency(state, self.states)
                        if verdict == rules.MET:
                            self._start(state)
                        elif verdict != rules.WAIT:
                            self._stopping(f"dependency not met: {verdict}")
                if all(s.status == STOPPED for s in self.states.values()):
                    self._stopping("every container exited")
                    break
                time.sleep(0.2)
            self._drain()
        except Exception as error:  # keep the reason; never leave containers running
            self._stopping(f"runner error: {type(error).__name__}: {error}")
            self._drain()
        finally:
            self.log(f"task stopped: {self.stopped_reason}")
            self._done.set()

    def _drain(self) -> None:
        """Stop running containers, dependents first, each with its stopTimeout."""
        for name in rules.stop_order(self.task.containers):
            state = self.states[name]
            if state.status != RUNNING:
                continue
            timeout = rules.stop_timeout(state.definition)
            self.log(f"stopping {name} (SIGTERM, SIGKILL after {timeout} s)")
            self.engine("stop", "--time", str(timeout), state.name, check=False, timeout=timeout + 60)
            self._inspect(state)
        with self._lock:
            for state in self.states.values():
                if state.status == PENDING:
                    state.status = STOPPED  # never started: no exit code
