"""The container CLI (podman, or docker): the only module that runs it. ``run_args`` turns a
container definition into ``run`` arguments and is pure."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Optional

from .taskdef import TaskError


def run_args(c: dict, name: str, image: str, env: dict, volumes: dict[str, Path], cli: str = "podman") -> list[str]:
    """``<cli> run`` arguments for container definition ``c``. Reproduced from the task definition
    parameters page: ``user``, ``environment``, ``command``, ``entryPoint``, ``workingDirectory``;
    ``readonlyRootFilesystem`` as ``--read-only`` with nothing writable added (podman would mount
    tmpfs on /tmp by default; Fargate does not); ``linuxParameters.initProcessEnabled`` as
    ``--init``. Every container shares the host network, as a task's containers share one network
    namespace (awsvpc); the image's HEALTHCHECK is off, as ECS ignores it."""
    args = ["run", "-d", "--name", name, "--network", "host", "--no-healthcheck"]
    if c.get("user"):
        args += ["--user", c["user"]]
    if c.get("readonlyRootFilesystem"):
        args += ["--read-only"]
        if Path(cli).name == "podman":
            args += ["--read-only-tmpfs=false"]  # Fargate adds no writable /tmp
    if (c.get("linuxParameters") or {}).get("initProcessEnabled"):
        args += ["--init"]
    if c.get("workingDirectory"):
        args += ["--workdir", c["workingDirectory"]]
    for key, value in sorted({**{e["name"]: e["value"] for e in c.get("environment", [])}, **env}.items()):
        args += ["--env", f"{key}={value}"]
    for mount in c.get("mountPoints", []):
        source = volumes.get(mount["sourceVolume"])
        if source is None:
            raise TaskError(f"container {c['name']}: mount point names unknown volume {mount['sourceVolume']}")
        args += ["--volume", f"{source}:{mount['containerPath']}" + (":ro" if mount.get("readOnly") else "")]
    command = list(c.get("command") or [])
    entry = c.get("entryPoint")
    if entry:
        args += ["--entrypoint", entry[0]]
        command = list(entry[1:]) + command
    return args + [image] + command


class ContainerCli:
    """``podman`` or ``docker``, with its own environment (storage settings, for example)."""

    def __init__(self, cli: str = "podman", env: Optional[dict] = None):
        self.cli, self.env = cli, env

    @property
    def is_podman(self) -> bool:
        return Path(self.cli).name == "podman"

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run([self.cli, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise TaskError(f"{self.cli} {args[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return result

    def exit_code(self, name: str) -> Optional[int]:
        """The container's exit code once it has stopped; None while it runs (or cannot be seen)."""
        result = self("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name, check=False)
        if result.returncode != 0:
            return None
        running, code = result.stdout.split()
        return None if running == "true" else int(code)

    def declared_volumes(self, image: str) -> set[str]:
        """The paths the image declares with ``VOLUME``."""
        info = json.loads(self("image", "inspect", image).stdout)
        info = info[0] if isinstance(info, list) else info
        return set(((info.get("Config") or {}).get("Volumes") or {}).keys())

    def copy_out(self, image: str, path: str, helper: str) -> bytes:
        """A tar stream of ``path`` as the image holds it, through a container never started."""
        # podman would mount a fresh anonymous volume at a declared VOLUME; read the image instead.
        self("create", *(["--image-volume=ignore"] if self.is_podman else []), "--name", helper, image, "true")
        try:
            stream = subprocess.run([self.cli, "cp", f"{helper}:{path}", "-"], env=self.env,
                                    capture_output=True, timeout=300)
            if stream.returncode != 0:
                raise TaskError(f"copying {path} out of {image} failed: {stream.stderr.decode()[-500:]}")
            return stream.stdout
        finally:
            self("rm", "-f", helper, check=False)
