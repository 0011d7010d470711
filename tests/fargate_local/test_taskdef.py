"""The task definition reader: volumes sorted as Fargate sorts them, references that need a value,
and one-line errors for what cannot run. No container engine."""

import json
import re
import subprocess
import sys

import pytest

from fargate_local import AccessPoint, LocalTask, TaskDefinition, TaskError

AP = AccessPoint("/models", 1000, 1000, "0750")


def resource(volumes, containers=({"name": "app", "image": "busybox"},)):
    return {"family": "f", "container_definitions": json.dumps(list(containers)), "volume": volumes}


def test_volumes_are_bind_mounts_or_efs_with_or_without_an_access_point():
    task = TaskDefinition.from_resource(resource([
        {"name": "scratch"},
        {"name": "root", "efs_volume_configuration": {"file_system_id": "fs-1"}},
        {"name": "cache", "efs_volume_configuration": {"file_system_id": "fs-1",
                                                       "authorization_config": {"access_point_id": "fsap-1"}}},
    ]), [AP])
    assert task.bind_volumes == {"scratch"}
    assert task.efs_volumes == {"root": None, "cache": AP}


@pytest.mark.parametrize("volume", [{"name": "h", "host_path": "/data"},
                                    {"name": "d", "docker_volume_configuration": {"scope": "task"}}])
def test_host_and_docker_volumes_do_not_exist_on_fargate(volume):
    with pytest.raises(TaskError, match="do not exist on Fargate"):
        TaskDefinition.from_resource(resource([volume]), [])


def test_an_access_point_volume_needs_exactly_one_access_point():
    ap_volume = {"name": "c", "efs_volume_configuration": {"authorization_config": {"access_point_id": "x"}}}
    with pytest.raises(TaskError, match="expected one aws_efs_access_point, found 2"):
        TaskDefinition.from_resource(resource([ap_volume]), [AP, AP])


@pytest.mark.parametrize("flag", ["image", "env"])
def test_unresolved_terraform_references_must_be_given(default_stacks, tmp_path, flag):
    definition = TaskDefinition.from_stacks(default_stacks)
    kwargs = {"image": "x"} if flag == "env" else {}
    with pytest.raises(TaskError) as error:
        LocalTask(definition, tmp_path, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    if flag == "image":
        assert "give --image" in message
        return
    named = re.search(r"give --env (\w+)=VALUE$", message).group(1)
    worker = next(c for c in definition.containers if c["name"] == "ocr-worker")
    value = next(e["value"] for e in worker["environment"] if e["name"] == named)
    assert value.startswith("${"), f"{named} is not a Terraform reference"


def test_the_synthesized_access_point_is_read_from_the_model_cache_stack(default_stacks):
    definition = TaskDefinition.from_stacks(default_stacks)
    (ap,) = [ap for ap in definition.efs_volumes.values() if ap]
    assert (ap.owner_uid, ap.owner_gid, ap.permissions) == (1000, 1000, "0755")


def test_cli_reports_a_missing_synth_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "fargate_local", "--stacks", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "run `make synth`" in result.stderr
