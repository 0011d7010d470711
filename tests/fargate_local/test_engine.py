"""Container definitions to ``run`` arguments, as the task definition parameters page defines
each field; pure, no container engine."""

from pathlib import Path

import pytest

from fargate_local.engine import run_args
from fargate_local.taskdef import TaskError


def test_every_field_fargate_honours_becomes_an_argument():
    c = {"name": "app", "image": "ignored", "user": "1000:1000", "readonlyRootFilesystem": True,
         "linuxParameters": {"initProcessEnabled": True}, "workingDirectory": "/w",
         "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "task"}],
         "mountPoints": [{"sourceVolume": "cache", "containerPath": "/c", "readOnly": True},
                         {"sourceVolume": "tmp", "containerPath": "/tmp"}],
         "entryPoint": ["python", "-m"], "command": ["ocr_worker", "worker"]}
    args = run_args(c, "f-app-1", "img:1", {"B": "given"}, {"cache": Path("/efs/m"), "tmp": Path("/b/tmp")})
    assert args == ["run", "-d", "--name", "f-app-1", "--network", "host", "--no-healthcheck",
                    "--user", "1000:1000", "--read-only", "--read-only-tmpfs=false", "--init", "--workdir", "/w",
                    "--env", "A=1", "--env", "B=given", "--volume", "/efs/m:/c:ro", "--volume", "/b/tmp:/tmp",
                    "--entrypoint", "python", "img:1", "-m", "ocr_worker", "worker"]


def test_docker_has_no_read_only_tmpfs_flag_and_a_bare_container_gets_only_the_basics():
    c = {"name": "app", "readonlyRootFilesystem": True}
    assert run_args(c, "n", "img", {}, {}, cli="/usr/bin/docker") == [
        "run", "-d", "--name", "n", "--network", "host", "--no-healthcheck", "--read-only", "img"]


def test_a_mount_of_an_unknown_volume_is_named():
    with pytest.raises(TaskError, match="container app: mount point names unknown volume nope"):
        run_args({"name": "app", "mountPoints": [{"sourceVolume": "nope", "containerPath": "/x"}]}, "n", "i", {}, {})
