"""The task definition reader: the one ``aws_ecs_task_definition`` of a synthesized stack, with
its volumes sorted into Fargate bind mounts and EFS volumes, and the access points those use."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

_REFERENCE = re.compile(r"\$\{[^}]+\}")


class TaskError(Exception):
    """A task definition that cannot run here; ``str()`` is one line naming what is wrong."""


@dataclass(frozen=True)
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

    def check_resolvable(self, image: Optional[str], env: dict) -> None:
        """Every Terraform reference (the ECR image, ARNs and names from other stacks) has a value."""
        for c in self.containers:
            if _REFERENCE.search(c["image"]) and not image:
                raise TaskError(f"container {c['name']}: image {c['image']} is a Terraform reference; give --image")
            for item in c.get("environment", []):
                if _REFERENCE.search(item["value"]) and item["name"] not in env:
                    raise TaskError(f"container {c['name']}: environment {item['name']} is a Terraform reference "
                                    f"({item['value']}); give --env {item['name']}=VALUE")


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
