"""checkov custom check CKV_PADDLE_4: a non-root container cannot write to a Fargate bind mount.

Fargate creates each bind-mount volume owned by root:root with mode 0755. Only when the image
declares ``VOLUME`` at the mount's containerPath is the image's directory, with its owner and
mode, copied in ("Use bind mounts with Amazon ECS"; aws/containers-roadmap#938). checkov cannot
see the image, so the task definition must say so: a writable bind mount for a non-root user
passes only if the container's ``dockerLabels`` list its path under IMAGE_VOLUMES_LABEL, a claim
that tests/e2e/test_image.py checks by running the task definition on the real image.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html
"""

import json

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

IMAGE_VOLUMES_LABEL = "org.paddleocr-efs.image-volumes"


def _first(value):
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _bind_volumes(conf: dict) -> set:
    names = set()
    for volume in conf.get("volume", []):
        volume = _first(volume) if isinstance(volume, list) else volume
        if not isinstance(volume, dict):
            continue
        if not any(volume.get(k) for k in ("efs_volume_configuration", "docker_volume_configuration", "host_path",
                                           "fsx_windows_file_server_volume_configuration")):
            names.add(_first(volume.get("name")))
    return names


def _non_root(user) -> bool:
    return bool(user) and str(user).split(":")[0] not in ("0", "root")


class BindMountWritableByTaskUser(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure a non-root container only writes to bind mounts the image declares as VOLUME",
            id="CKV_PADDLE_4",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_ecs_task_definition"],
        )

    def scan_resource_conf(self, conf: dict) -> CheckResult:
        containers = _first(conf.get("container_definitions"))
        if isinstance(containers, str):
            try:
                containers = json.loads(containers)
            except ValueError:
                return CheckResult.UNKNOWN  # an unresolved expression
        if not isinstance(containers, list):
            return CheckResult.UNKNOWN
        binds = _bind_volumes(conf)
        for container in containers:
            if not _non_root(container.get("user")):
                continue
            declared = {p.strip() for p in (container.get("dockerLabels") or {}).get(IMAGE_VOLUMES_LABEL, "").split(",")}
            for mount in container.get("mountPoints", []):
                writable = not mount.get("readOnly", False)
                if writable and mount.get("sourceVolume") in binds and mount.get("containerPath") not in declared:
                    return CheckResult.FAILED
        return CheckResult.PASSED


check = BindMountWritableByTaskUser()
