"""The task's volumes on the host, from "Use bind mounts with Amazon ECS" and "Specify an Amazon
EFS file system in an Amazon ECS task definition":

- Bind-mount volumes (a volume with no host and no EFS configuration): a fresh directory owned
  by root:root, mode 0755, unless the image declares ``VOLUME`` at the mount's containerPath,
  in which case the image's directory, with its content, owner and mode, is copied in
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html;
  aws/containers-roadmap#938).
- EFS volumes: a host directory stands in for the file system. With an access point, its root
  directory is created with the access point's ``creation_info`` owner and mode, and only that
  directory is mounted (https://docs.aws.amazon.com/efs/latest/ug/efs-access-points.html).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from pathlib import Path
from typing import Optional

from .engine import ContainerCli
from .taskdef import TaskDefinition, TaskError


def prepare(task: TaskDefinition, bind_root: Path, efs_roots: dict, cli: ContainerCli, image: Optional[str],
            helper: str) -> dict[str, Path]:
    """volume name -> the host directory mounted for it."""
    paths = {}
    for name in sorted(task.bind_volumes):
        host = bind_root / name
        host.mkdir(parents=True)
        os.chown(host, 0, 0)
        os.chmod(host, 0o755)
        source = declared_source(task, name, cli, image)
        if source:
            extract(cli.copy_out(image or source[0]["image"], source[1], helper), source[1], host)
        paths[name] = host
    for name, ap in task.efs_volumes.items():
        if name not in efs_roots:
            raise TaskError(f"volume {name}: an EFS volume; give --efs-root {name}=DIR")
        root = Path(efs_roots[name])
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


def declared_source(task: TaskDefinition, volume: str, cli: ContainerCli,
                    image: Optional[str]) -> Optional[tuple[dict, str]]:
    """The first container (definition order) whose image declares ``VOLUME`` where it mounts
    ``volume``, and that path: its content is what the bind mount starts with."""
    for c in task.containers:
        for mount in c.get("mountPoints", []):
            if mount["sourceVolume"] == volume and mount["containerPath"] in cli.declared_volumes(image or c["image"]):
                return c, mount["containerPath"]
    return None


def extract(stream: bytes, path: str, host: Path) -> None:
    """Unpack ``<cli> cp``'s tar of ``path`` into ``host``, keeping owners and modes."""
    top = Path(path).name
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            rel = Path(*parts[1:]) if parts and parts[0] == top else Path(member.name)
            target = host / rel
            if rel == Path("."):
                pass  # the directory itself: owner and mode below
            elif member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has content
                with source, open(target, "wb") as dst:
                    shutil.copyfileobj(source, dst)
            elif member.issym():
                os.symlink(member.linkname, target)
            else:
                continue
            os.lchown(target, member.uid, member.gid)
            if not member.issym():
                os.chmod(target, member.mode)
