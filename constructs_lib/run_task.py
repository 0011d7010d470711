"""Run the synthesized ECS task definition on this machine, the way Fargate runs it.

The task definition in ``cdktf.out/stacks/service/cdk.tf.json`` is the contract; this runs that
JSON, not a copy of it, with podman or docker::

    python -m constructs_lib.run_task --image IMAGE --env OCR_QUEUE_URL=... --efs-root ./efs

What it reproduces, each from the ECS developer guide:

- ``user``, ``environment``, ``command``, ``entryPoint``, ``workingDirectory``;
  ``readonlyRootFilesystem`` as ``--read-only`` with nothing writable added (podman would mount
  tmpfs on /tmp by default; Fargate does not); ``linuxParameters.initProcessEnabled`` as ``--init``.
- ``dependsOn`` with START, COMPLETE, SUCCESS and HEALTHY. A condition that can no longer be met
  (SUCCESS after a non-zero exit, HEALTHY after UNHEALTHY or an exit) stops the task.
- ``essential``: when an essential container exits, or (as a service task) turns UNHEALTHY, the
  task stops. The image's own HEALTHCHECK is ignored, as ECS ignores it: only the task
  definition's ``healthCheck`` runs, with its interval, timeout, retries and start period.
- Stopping: SIGTERM to each running container, dependents before what they depend on, then
  SIGKILL when its ``stopTimeout`` (Fargate default 30 s) runs out.
- Bind-mount volumes (a volume with no host and no EFS configuration): a fresh directory owned
  by root:root, mode 0755, unless the image declares ``VOLUME`` at the mount's containerPath,
  in which case the image's directory, with its content, owner and mode, is copied in
  ("Use bind mounts with Amazon ECS"; aws/containers-roadmap#938).
- EFS volumes: a host directory stands in for the file system. With an access point, its root
  directory is created with the access point's ``creation_info`` owner and mode (read from the
  model-cache stack), and only that directory is mounted; ``readOnly`` mount points are ``:ro``.

What it cannot reproduce: IAM authorization and TLS to EFS (``authorizationConfig``,
``transitEncryption``), the access point's enforced POSIX user on files written through it, awsvpc
networking and security groups (all containers share the host network, as a task's containers
share one network namespace), the task and execution roles (pass credentials with ``--env``),
log drivers (``<cli> logs`` keeps each container's output), cpu and memory limits, and the ECS
agent endpoints.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

#: Fargate's default stopTimeout when the container definition sets none.
DEFAULT_STOP_TIMEOUT = 30
#: Docker and ECS defaults for a healthCheck's optional fields.
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
_REFERENCE = re.compile(r"\$\{[^}]+\}")


class TaskError(Exception):
    """A task definition that cannot run here; ``str()`` is one line naming what is wrong."""


@dataclass
class AccessPoint:
    path: str
    owner_uid: int
    owner_gid: int
    permissions: str


@dataclass
class TaskDefinition:
    family: str
    containers: list[dict]
    #: Volumes with neither a host nor an EFS configuration: Fargate bind mounts.
    bind_volumes: set[str]
    #: EFS volume name -> its access point, or None when it mounts the file system root.
    efs_volumes: dict[str, Optional[AccessPoint]]

    @classmethod
    def from_stacks(cls, stacks: Path, stack: str = "service", cache_stack: str = "model-cache") -> "TaskDefinition":
        """The one ``aws_ecs_task_definition`` of ``stacks/<stack>/cdk.tf.json``; access points
        are looked up in ``stacks/<cache_stack>/cdk.tf.json`` when the reference crosses stacks."""
        doc = _load(Path(stacks) / stack / "cdk.tf.json")
        tasks = list(doc.get("resource", {}).get("aws_ecs_task_definition", {}).values())
        if len(tasks) != 1:
            raise TaskError(f"{stacks}/{stack}: expected one aws_ecs_task_definition, found {len(tasks)}")
        cache_doc_path = Path(stacks) / cache_stack / "cdk.tf.json"
        access_points = [*_access_points(doc)]
        if cache_doc_path.exists():
            access_points += _access_points(_load(cache_doc_path))
        return cls.from_resource(tasks[0], access_points)

    @classmethod
    def from_resource(cls, task: dict, access_points: list[AccessPoint]) -> "TaskDefinition":
        containers = task["container_definitions"]
        containers = json.loads(containers) if isinstance(containers, str) else containers
        binds, efs = set(), {}
        for volume in task.get("volume", []):
            config = volume.get("efs_volume_configuration")
            if config:
                has_ap = bool((config.get("authorization_config") or {}).get("access_point_id"))
                if has_ap and len(access_points) != 1:
                    raise TaskError(f"volume {volume['name']}: expected one aws_efs_access_point, found "
                                    f"{len(access_points)}")
                efs[volume["name"]] = access_points[0] if has_ap else None
            elif volume.get("host_path") or volume.get("docker_volume_configuration"):
                raise TaskError(f"volume {volume['name']}: host and docker volumes do not exist on Fargate")
            else:
                binds.add(volume["name"])
        return cls(task["family"], containers, binds, efs)


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TaskError(f"{path}: not found; run `make synth` (or `npx cdktf synth`) first") from None
    except json.JSONDecodeError as e:
        raise TaskError(f"{path}: invalid JSON ({e})") from None


def _access_points(doc: dict) -> list[AccessPoint]:
    found = []
    for ap in doc.get("resource", {}).get("aws_efs_access_point", {}).values():
        root = ap.get("root_directory") or {}
        info = root.get("creation_info") or {}
        found.append(AccessPoint(root.get("path", "/"), int(info.get("owner_uid", 0)), int(info.get("owner_gid", 0)),
                                 str(info.get("permissions", "0755"))))
    return found


@dataclass
class ContainerState:
    definition: dict
    name: str  # the engine's container name
    status: str = "PENDING"  # PENDING -> RUNNING -> STOPPED
    exit_code: Optional[int] = None
    health: str = "UNKNOWN"  # UNKNOWN -> HEALTHY | UNHEALTHY (only with a healthCheck)
    started_at: float = 0.0
    health_thread: Optional[threading.Thread] = None


@dataclass
class LocalTask:
    """One run of a task definition. ``start()`` returns at once; ``wait()`` blocks until every
    container has stopped; ``stop()`` drains it as ECS does."""

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
        self.states = {c["name"]: ContainerState(c, f"{self.task.family}-{c['name']}-{self.run_id}")
                       for c in self.task.containers}
        self.stopped_reason: Optional[str] = None
        self._stop_requested = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._volumes: Optional[dict[str, Path]] = None
        self._check_resolvable()

    # -- public ------------------------------------------------------------------------------

    def prepare(self) -> dict[str, Path]:
        """Create the task's volumes (once); volume name -> the host directory mounted."""
        if self._volumes is None:
            self._volumes = self._prepare_volumes()
        return self._volumes

    def start(self) -> None:
        self.prepare()
        threading.Thread(target=self._supervise, daemon=True).start()

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._done.wait(timeout)

    def stop(self, reason: str = "stop requested") -> None:
        """Like ``aws ecs stop-task``: containers that never started never will; running ones are
        stopped in reverse dependency order, each with SIGTERM then SIGKILL after stopTimeout."""
        if not self.stopped_reason:
            self.stopped_reason = reason
        self._stop_requested.set()
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
        parts = [f"{n}={s.status}" + (f"({s.exit_code})" if s.exit_code is not None else "") +
                 (f"/{s.health}" if s.definition.get("healthCheck") else "") for n, s in self.states.items()]
        return ", ".join(parts) + (f"; stopped: {self.stopped_reason}" if self.stopped_reason else "")

    def logs(self, container: str) -> str:
        result = self._engine("logs", self.states[container].name, check=False)
        return result.stdout + result.stderr

    def exec(self, container: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self._engine("exec", self.states[container].name, *command, check=False, timeout=timeout)

    def remove(self) -> None:
        """Remove the containers and the bind-mount directories (EFS roots stay, like EFS)."""
        for state in self.states.values():
            self._engine("rm", "-f", state.name, check=False)
        shutil.rmtree(self.workdir / f"bind-{self.run_id}", ignore_errors=True)

    # -- resolution --------------------------------------------------------------------------

    def _check_resolvable(self) -> None:
        for c in self.task.containers:
            if _REFERENCE.search(c["image"]) and not self.image:
                raise TaskError(f"container {c['name']}: image {c['image']} is a Terraform reference; give --image")
            for item in c.get("environment", []):
                if _REFERENCE.search(item["value"]) and item["name"] not in self.env:
                    raise TaskError(f"container {c['name']}: environment {item['name']} is a Terraform reference "
                                    f"({item['value']}); give --env {item['name']}=VALUE")

    def _environment(self, c: dict) -> dict:
        env = {item["name"]: item["value"] for item in c.get("environment", [])}
        return {**env, **self.env}

    # -- volumes -----------------------------------------------------------------------------

    def _prepare_volumes(self) -> dict:
        """volume name -> host directory."""
        paths = {}
        for name in sorted(self.task.bind_volumes):
            host = self.workdir / f"bind-{self.run_id}" / name
            host.mkdir(parents=True)
            os.chown(host, 0, 0)
            os.chmod(host, 0o755)
            source = self._declared_source(name)
            if source:
                self._copy_from_image(*source, host)
            paths[name] = host
        for name, ap in self.task.efs_volumes.items():
            if name not in self.efs_roots:
                raise TaskError(f"volume {name}: an EFS volume; give --efs-root {name}=DIR")
            root = Path(self.efs_roots[name])
            root.mkdir(parents=True, exist_ok=True)
            if ap is None:
                paths[name] = root
                continue
            # EFS creates the access point's root directory on first mount, with creation_info.
            directory = root / ap.path.lstrip("/")
            if not directory.exists():
                directory.mkdir(parents=True)
                os.chown(directory, ap.owner_uid, ap.owner_gid)
                os.chmod(directory, int(ap.permissions, 8))
            paths[name] = directory
        return paths

    def _image_of(self, c: dict) -> str:
        return self.image or c["image"]

    def _declared_source(self, volume: str) -> Optional[tuple[dict, str]]:
        """The first container (definition order) whose image declares ``VOLUME`` where it mounts
        ``volume``, and that path: its content is what the bind mount starts with."""
        for c in self.task.containers:
            for mount in c.get("mountPoints", []):
                if mount["sourceVolume"] == volume and mount["containerPath"] in self._declared_volumes(c):
                    return c, mount["containerPath"]
        return None

    def _declared_volumes(self, c: dict) -> set:
        result = self._engine("image", "inspect", self._image_of(c))
        info = json.loads(result.stdout)
        info = info[0] if isinstance(info, list) else info
        return set(((info.get("Config") or {}).get("Volumes") or {}).keys())

    def _copy_from_image(self, c: dict, path: str, host: Path) -> None:
        helper = f"{self.task.family}-copy-{self.run_id}"
        # podman would mount a fresh anonymous volume at a declared VOLUME; read the image instead.
        ignore = ["--image-volume=ignore"] if Path(self.cli).name == "podman" else []
        self._engine("create", *ignore, "--name", helper, self._image_of(c), "true")  # never started
        try:
            stream = subprocess.run([self.cli, "cp", f"{helper}:{path}", "-"], env=self.cli_env,
                                    capture_output=True, timeout=300)
            if stream.returncode != 0:
                raise TaskError(f"copying {path} out of {self._image_of(c)} failed: {stream.stderr.decode()[-500:]}")
        finally:
            self._engine("rm", "-f", helper, check=False)
        top = Path(path).name
        with tarfile.open(fileobj=io.BytesIO(stream.stdout)) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                rel = Path(*parts[1:]) if parts and parts[0] == top else Path(member.name)
                target = host / rel
                if rel == Path("."):
                    pass  # the directory itself: owner and mode below
                elif member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    with tar.extractfile(member) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                elif member.issym():
                    os.symlink(member.linkname, target)
                else:
                    continue
                os.lchown(target, member.uid, member.gid)
                if not member.issym():
                    os.chmod(target, member.mode)

    # -- containers --------------------------------------------------------------------------

    def _run_args(self, c: dict) -> list[str]:
        args = ["run", "-d", "--name", self.states[c["name"]].name, "--network", "host", "--no-healthcheck"]
        if c.get("user"):
            args += ["--user", c["user"]]
        if c.get("readonlyRootFilesystem"):
            args += ["--read-only"]
            if Path(self.cli).name == "podman":
                args += ["--read-only-tmpfs=false"]  # Fargate adds no writable /tmp
        if (c.get("linuxParameters") or {}).get("initProcessEnabled"):
            args += ["--init"]
        if c.get("workingDirectory"):
            args += ["--workdir", c["workingDirectory"]]
        for key, value in sorted(self._environment(c).items()):
            args += ["--env", f"{key}={value}"]
        for mount in c.get("mountPoints", []):
            source = self._volumes.get(mount["sourceVolume"])
            if source is None:
                raise TaskError(f"container {c['name']}: mount point names unknown volume {mount['sourceVolume']}")
            args += ["--volume", f"{source}:{mount['containerPath']}" + (":ro" if mount.get("readOnly") else "")]
        command = list(c.get("command") or [])
        entry = c.get("entryPoint")
        if entry:
            args += ["--entrypoint", entry[0]]
            command = list(entry[1:]) + command
        return args + [self._image_of(c)] + command

    def _engine(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([self.cli, *args], env=self.cli_env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise TaskError(f"{self.cli} {args[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return result

    def _inspect(self, state: ContainerState) -> None:
        result = self._engine("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", state.name,
                              check=False)
        if result.returncode != 0:
            return
        running, code = result.stdout.split()
        if running != "true":
            with self._lock:
                state.status, state.exit_code = "STOPPED", int(code)

    def _start(self, state: ContainerState) -> None:
        self.log(f"starting {state.definition['name']}")
        self._engine(*self._run_args(state.definition))
        state.status, state.started_at = "RUNNING", time.monotonic()
        if state.definition.get("healthCheck"):
            state.health_thread = threading.Thread(target=self._health_loop, args=(state,), daemon=True)
            state.health_thread.start()

    def _health_loop(self, state: ContainerState) -> None:
        check = {**HEALTH_DEFAULTS, **state.definition["healthCheck"]}
        command = list(check["command"])
        if command[0] == "CMD-SHELL":
            command = ["/bin/sh", "-c", command[1]]
        elif command[0] == "CMD":
            command = command[1:]
        failures = 0
        while not self._done.is_set():
            if self._stop_requested.wait(check["interval"]) or state.status != "RUNNING":
                return
            try:
                ok = self.exec(state.definition["name"], *command, timeout=check["timeout"]).returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            in_grace = time.monotonic() - state.started_at < check["startPeriod"]
            with self._lock:
                if ok:
                    failures, state.health = 0, "HEALTHY"
                elif not in_grace:
                    failures += 1
                    if failures >= check["retries"]:
                        state.health = "UNHEALTHY"
            self.log(f"health {state.definition['name']}: {state.health}")

    # -- the supervisor ----------------------------------------------------------------------

    def _dependency(self, state: ContainerState) -> str:
        """'met', 'wait', or why it can never be met."""
        for dep in state.definition.get("dependsOn", []):
            other = self.states[dep["containerName"]]
            condition = dep["condition"]
            if condition == "START":
                ok = other.status != "PENDING"
            elif condition == "COMPLETE":
                ok = other.status == "STOPPED"
            elif condition == "SUCCESS":
                if other.status == "STOPPED" and other.exit_code != 0:
                    return f"{other.definition['name']} exited {other.exit_code}, {state.definition['name']} needs SUCCESS"
                ok = other.status == "STOPPED"
            elif condition == "HEALTHY":
                if other.health == "UNHEALTHY" or other.status == "STOPPED":
                    return f"{other.definition['name']} will not become HEALTHY"
                ok = other.health == "HEALTHY"
            else:
                raise TaskError(f"container {state.definition['name']}: unknown dependsOn condition {condition}")
            if not ok:
                return "wait"
        return "met"

    def _supervise(self) -> None:
        try:
            while not self._stop_requested.is_set():
                for state in self.states.values():
                    if state.status == "RUNNING":
                        self._inspect(state)
                reason = self._task_stop_reason()
                if reason:
                    self.stopped_reason = self.stopped_reason or reason
                    break
                for state in self.states.values():
                    if state.status == "PENDING":
                        verdict = self._dependency(state)
                        if verdict == "met":
                            self._start(state)
                        elif verdict != "wait":
                            self.stopped_reason = f"dependency not met: {verdict}"
                            self._stop_requested.set()
                if all(s.status == "STOPPED" for s in self.states.values()):
                    self.stopped_reason = self.stopped_reason or "every container exited"
                    break
                time.sleep(0.2)
            self._drain()
        except Exception as error:  # keep the reason; never leave containers running
            self.stopped_reason = f"runner error: {type(error).__name__}: {error}"
            self._drain()
        finally:
            self.log(f"task stopped: {self.stopped_reason}")
            self._done.set()

    def _task_stop_reason(self) -> Optional[str]:
        for name, state in self.states.items():
            if not state.definition.get("essential", True):
                continue
            if state.status == "STOPPED":
                return f"essential container {name} exited {state.exit_code}"
            if self.service and state.health == "UNHEALTHY":
                return f"essential container {name} is UNHEALTHY"
        return None

    def _drain(self) -> None:
        """Stop running containers, dependents first, each with its stopTimeout."""
        order = _reverse_dependency_order(self.task.containers)
        for name in order:
            state = self.states[name]
            if state.status != "RUNNING":
                continue
            timeout = int(state.definition.get("stopTimeout", DEFAULT_STOP_TIMEOUT))
            self.log(f"stopping {name} (SIGTERM, SIGKILL after {timeout} s)")
            self._engine("stop", "--time", str(timeout), state.name, check=False, timeout=timeout + 60)
            self._inspect(state)
        with self._lock:
            for state in self.states.values():
                if state.status == "PENDING":
                    state.status = "STOPPED"  # never started: no exit code


def _reverse_dependency_order(containers: list[dict]) -> list[str]:
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


# -- command line -----------------------------------------------------------------------------


def _pairs(values: list[str], flag: str) -> dict:
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise TaskError(f"{flag} {value!r}: expected NAME=VALUE")
        out[key] = rest
    return out


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m constructs_lib.run_task", description=__doc__.split("\n\n")[0],
                                     epilog="Stops on SIGINT/SIGTERM the way ECS stops a task.")
    parser.add_argument("--stacks", default="cdktf.out/stacks", help="synthesized stacks (default: %(default)s)")
    parser.add_argument("--image", help="run this image instead of the synthesized ECR reference")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="add or override a variable in every container (repeatable)")
    parser.add_argument("--efs-root", action="append", default=[], metavar="VOLUME=DIR",
                        help="host directory standing in for an EFS volume (default: .run-task/efs/VOLUME)")
    parser.add_argument("--workdir", default=".run-task", help="bind-mount directories go here (default: %(default)s)")
    parser.add_argument("--cli", default=os.environ.get("CONTAINER_CLI", "podman"), help="podman or docker")
    parser.add_argument("--run-task", action="store_true",
                        help="behave like `aws ecs run-task`: an UNHEALTHY container does not stop the task")
    args = parser.parse_args(argv)
    try:
        if os.geteuid() != 0:
            raise TaskError("bind-mount ownership (root:root) needs root; run with sudo")
        if shutil.which(args.cli) is None:
            raise TaskError(f"{args.cli} is not on PATH (--cli podman|docker)")
        task = TaskDefinition.from_stacks(Path(args.stacks))
        workdir = Path(args.workdir).resolve()
        efs = {name: workdir / "efs" / name for name in task.efs_volumes}
        efs.update({k: Path(v).resolve() for k, v in _pairs(args.efs_root, "--efs-root").items()})
        run = LocalTask(task, workdir, cli=args.cli, image=args.image, env=_pairs(args.env, "--env"),
                        efs_roots=efs, service=not args.run_task)
    except TaskError as error:
        print(f"run-task: {error}", file=sys.stderr)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: threading.Thread(target=run.stop, args=("stop requested",)).start())
    run.start()
    while not run.wait(1):
        pass
    for name in run.states:
        print(f"--- {name} ---\n{run.logs(name)}", end="")
    print(f"run-task: {run.describe()}", file=sys.stderr)
    run.remove()
    essential = [s for s in run.states.values() if s.definition.get("essential", True)]
    return 0 if all(s.exit_code == 0 for s in essential) else 1


if __name__ == "__main__":
    sys.exit(main())
