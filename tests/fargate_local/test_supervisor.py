"""The local task runner follows Fargate's rules: each rule is a test on a real podman container.

The rules come from the ECS developer guide: "Use bind mounts with Amazon ECS" (root:root 0755
unless the image declares VOLUME there, aws/containers-roadmap#938), "Container dependency"
(dependsOn conditions), the task definition parameters page (stopTimeout, healthCheck) and
"Specify an Amazon EFS file system in an Amazon ECS task definition" (access points).
"""

import json
import time

import pytest

from fargate_local import AccessPoint, LocalTask, TaskDefinition
from tests.e2e.containers import make_busybox_image, podman, podman_env

pytestmark = [pytest.mark.runner, pytest.mark.slow]

DOCKERFILE = """FROM localhost/busybox-base:latest
RUN mkdir -p /declared && echo seed > /declared/seed && chmod 1777 /declared
VOLUME /declared
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runner")
    env = podman_env(folder / "podman")
    make_busybox_image(env, folder)
    (folder / "ctx").mkdir()
    (folder / "ctx" / "Dockerfile").write_text(DOCKERFILE)
    podman(env, "build", "--pull=never", "--isolation=chroot", "-t", "localhost/runner-test:1", str(folder / "ctx"))
    return {"env": env, "image": "localhost/runner-test:1"}


def container(name, command, **extra):
    return {"name": name, "image": "${aws_ecr_repository.r.repository_url}:t", "command": ["sh", "-c", command],
            "essential": True, "user": "1000:1000", **extra}


def task(containers, volumes=(), access_point=None):
    resource = {"family": "runner-test", "container_definitions": json.dumps(containers),
                "volume": [{"name": v} if isinstance(v, str) else v for v in volumes]}
    return TaskDefinition.from_resource(resource, [access_point] if access_point else [])


def run(engine, tmp_path, definition, **kwargs):
    local = LocalTask(definition, tmp_path, cli="podman", cli_env=engine["env"], image=engine["image"],
                      log=lambda line: None, **kwargs)
    local.start()
    return local


@pytest.fixture
def runs():
    started = []
    yield started
    for local in started:
        if not local.wait(0):
            local.stop("test teardown")
        local.remove()


def finish(local, timeout=120):
    assert local.wait(timeout), local.describe()
    return local


def test_bind_mount_is_root_owned_0755_so_a_non_root_user_cannot_write(engine, tmp_path, runs):
    definition = task([container("app", "stat -c '%u:%g %a' /scratch; touch /scratch/x",
                                 mountPoints=[{"sourceVolume": "scratch", "containerPath": "/scratch"}])],
                      ["scratch"])
    local = finish(run(engine, tmp_path, definition))
    runs.append(local)
    assert local.logs("app").splitlines()[0] == "0:0 755"
    assert local.states["app"].exit_code != 0, "a uid 1000 process wrote to a root:root 0755 bind mount"


def test_bind_mount_at_a_declared_volume_gets_the_image_content_and_mode(engine, tmp_path, runs):
    definition = task([container("app", "stat -c '%u:%g %a' /declared; cat /declared/seed; touch /declared/x",
                                 mountPoints=[{"sourceVolume": "v", "containerPath": "/declared"}])], ["v"])
    local = finish(run(engine, tmp_path, definition))
    runs.append(local)
    assert local.logs("app").splitlines()[:2] == ["0:0 1777", "seed"]
    assert local.states["app"].exit_code == 0


def test_read_only_root_file_system_has_no_writable_tmp(engine, tmp_path, runs):
    definition = task([container("app", "touch /tmp/x", readonlyRootFilesystem=True)])
    local = finish(run(engine, tmp_path, definition))
    runs.append(local)
    assert local.states["app"].exit_code != 0, "podman's default tmpfs on /tmp leaked into a read-only task"


def test_depends_on_start_complete_success_and_healthy(engine, tmp_path, runs):
    # Each container appends its name to a shared bind mount (the image declares it 1777).
    log = "echo $N >> /declared/order"
    mount = [{"sourceVolume": "v", "containerPath": "/declared"}]
    definition = task([
        container("first", f"{log}; sleep 2", essential=False, mountPoints=mount, environment=[
            {"name": "N", "value": "first"}]),
        container("after-start", f"{log}; sleep 1", essential=False, mountPoints=mount,
                  environment=[{"name": "N", "value": "after-start"}],
                  dependsOn=[{"containerName": "first", "condition": "START"}]),
        container("after-complete", f"{log}; exit 3", essential=False, mountPoints=mount,
                  environment=[{"name": "N", "value": "after-complete"}],
                  dependsOn=[{"containerName": "first", "condition": "COMPLETE"}]),
        container("healthy", f"{log}; sleep 3; touch /declared/ok; sleep 60", essential=False, mountPoints=mount,
                  environment=[{"name": "N", "value": "healthy"}],
                  healthCheck={"command": ["CMD-SHELL", "test -f /declared/ok"], "interval": 5, "retries": 3},
                  dependsOn=[{"containerName": "after-complete", "condition": "COMPLETE"}]),
        container("main", f"{log}; sleep 1", mountPoints=mount, environment=[{"name": "N", "value": "main"}],
                  dependsOn=[{"containerName": "first", "condition": "SUCCESS"},
                             {"containerName": "healthy", "condition": "HEALTHY"}]),
    ], ["v"])
    local = finish(run(engine, tmp_path, definition), timeout=180)
    runs.append(local)
    order = (next((tmp_path).glob("bind-*/v")) / "order").read_text().split()
    assert order.index("first") < order.index("after-start") < order.index("after-complete")
    assert order.index("after-complete") < order.index("healthy") < order.index("main")
    assert local.states["main"].exit_code == 0
    assert local.stopped_reason == "essential container main exited 0"


def test_a_failed_success_dependency_stops_the_task_before_the_dependent_starts(engine, tmp_path, runs):
    definition = task([
        container("warm", "exit 13", essential=False),
        container("main", "echo started", dependsOn=[{"containerName": "warm", "condition": "SUCCESS"}]),
    ])
    local = finish(run(engine, tmp_path, definition))
    runs.append(local)
    assert local.states["main"].exit_code is None and local.states["main"].status == "STOPPED"
    assert local.stopped_reason == "dependency not met: warm exited 13, main needs SUCCESS"


def test_stop_sends_sigterm_then_sigkill_after_stop_timeout(engine, tmp_path, runs):
    definition = task([
        container("stubborn", "trap '' TERM; while true; do sleep 0.2; done", essential=False, stopTimeout=4),
        container("polite", "trap 'exit 7' TERM; while true; do sleep 0.2; done", stopTimeout=30),
    ])
    local = run(engine, tmp_path, definition)
    runs.append(local)
    local.wait_for(lambda t: all(s.status == "RUNNING" for s in t.states.values()), 60, "both running")
    time.sleep(1)
    start = time.monotonic()
    local.stop("test")
    elapsed = time.monotonic() - start
    assert local.states["polite"].exit_code == 7  # got SIGTERM and exited by itself
    assert local.states["stubborn"].exit_code == 137  # SIGKILL once its 4 s ran out
    assert 4 <= elapsed < 20


def test_an_unhealthy_essential_container_stops_a_service_task(engine, tmp_path, runs):
    definition = task([container("app", "sleep 300", stopTimeout=2, healthCheck={
        "command": ["CMD", "test", "-f", "/nonexistent"], "interval": 5, "timeout": 2, "retries": 2})])
    local = finish(run(engine, tmp_path, definition), timeout=60)
    runs.append(local)
    assert local.states["app"].health == "UNHEALTHY"
    assert local.stopped_reason == "essential container app is UNHEALTHY"


def test_efs_access_point_root_gets_creation_info_and_read_only_mounts_refuse_writes(engine, tmp_path, runs):
    efs = {"name": "cache", "efs_volume_configuration": {
        "file_system_id": "fs-1", "transit_encryption": "ENABLED",
        "authorization_config": {"access_point_id": "fsap-1", "iam": "ENABLED"}}}
    definition = task([
        container("writer", "stat -c '%u:%g %a' /cache; echo hi > /cache/f", essential=False,
                  mountPoints=[{"sourceVolume": "cache", "containerPath": "/cache"}]),
        container("reader", "cat /cache/f; echo no > /cache/g",
                  mountPoints=[{"sourceVolume": "cache", "containerPath": "/cache", "readOnly": True}],
                  dependsOn=[{"containerName": "writer", "condition": "SUCCESS"}]),
    ], [efs], access_point=AccessPoint("/models", 1000, 1000, "0750"))
    local = finish(run(engine, tmp_path, definition, efs_roots={"cache": tmp_path / "efs"}))
    runs.append(local)
    assert local.logs("writer").strip() == "1000:1000 750"
    assert local.logs("reader").splitlines()[0] == "hi"
    assert local.states["reader"].exit_code != 0  # the read-only mount refused the write
    assert (tmp_path / "efs" / "models" / "f").read_text() == "hi\n"
