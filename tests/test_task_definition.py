"""OcrTaskDefinition: the warmer and the worker, as the cache's POSIX user, on the cache's
access point, logging to their own group."""

import json
from pathlib import Path

import pytest

from constructs_lib.task_definition import IMAGE_VOLUMES_LABEL, TaskProps
from tests.synth import assert_refused, load_stack, one, resources, settings, synth_app


def test_task_is_fargate_awsvpc_sized_for_paddleocr(service_doc):
    task = one(resources(service_doc, "aws_ecs_task_definition"))
    assert task["requires_compatibilities"] == ["FARGATE"] and task["network_mode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("2048", "4096")
    assert task["family"] == "sabuho-processor"
    assert task["runtime_platform"] == {"operating_system_family": "LINUX", "cpu_architecture": "X86_64"}


def test_efs_volume_uses_tls_iam_and_the_access_point_without_root_directory(service_doc):
    volume = next(v for v in one(resources(service_doc, "aws_ecs_task_definition"))["volume"] if v["name"] == "model-cache")
    efs = volume["efs_volume_configuration"]
    assert efs["transit_encryption"] == "ENABLED"
    assert efs["authorization_config"]["iam"] == "ENABLED"
    assert "cross-stack-reference-input-model-cache" in efs["authorization_config"]["access_point_id"]
    assert "cross-stack-reference-input-model-cache" in efs["file_system_id"]
    assert "root_directory" not in efs


def test_warmer_then_worker_depends_on_success(containers):
    assert containers["model-warmer"]["essential"] is False
    assert containers["model-warmer"]["command"] == ["warm"]
    assert containers["ocr-worker"]["essential"] is True
    assert containers["ocr-worker"]["command"] == ["worker"]
    assert containers["ocr-worker"]["dependsOn"] == [{"containerName": "model-warmer", "condition": "SUCCESS"}]


def test_worker_mounts_the_cache_read_only_and_the_warmer_read_write(containers):
    def cache_mount(name):
        return next(m for m in containers[name]["mountPoints"] if m["sourceVolume"] == "model-cache")

    assert cache_mount("ocr-worker") == {"sourceVolume": "model-cache", "containerPath": "/var/cache/paddlex",
                                         "readOnly": True}
    assert cache_mount("model-warmer")["readOnly"] is False


def test_containers_run_as_the_access_point_user_with_read_only_root(containers):
    for c in containers.values():
        assert c["user"] == "1000:1000"
        assert c["readonlyRootFilesystem"] is True
        assert {"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False} in c["mountPoints"]


def test_containers_get_the_cache_home_and_queue_settings(containers):
    env = {e["name"]: e["value"] for e in containers["ocr-worker"]["environment"]}
    assert env["PADDLE_PDX_CACHE_HOME"] == "/var/cache/paddlex"
    assert env["OCR_OUTPUT_PREFIX"] == "results/"
    assert env["OCR_VISIBILITY_TIMEOUT"] == "120"  # the lease, renewed while a document is worked on
    assert env["OCR_DLQ_URL"].startswith("${aws_sqs_queue.documents_dlq_")
    assert (env["OCR_MAX_FAILURES"], env["OCR_MAX_DOCUMENT_SECONDS"], env["OCR_STOP_SECONDS"]) == ("3", "600", "120")
    assert env["OCR_QUEUE_URL"].startswith("${aws_sqs_queue.")


def test_logs_go_to_the_family_log_group(service_doc, containers):
    group = one(resources(service_doc, "aws_cloudwatch_log_group"))
    assert group["name"] == "/ecs/sabuho-processor" and group["retention_in_days"] == 365
    assert containers["ocr-worker"]["logConfiguration"]["logDriver"] == "awslogs"


def test_worker_health_check_fails_when_the_loop_stops_beating(containers):
    # ECS ignores the image's HEALTHCHECK; only this runs (AWS::ECS::TaskDefinition HealthCheck).
    check = containers["ocr-worker"]["healthCheck"]
    assert check["command"] == ["CMD", "ocr-worker", "health"]
    assert 5 <= check["interval"] <= 300 and 2 <= check["timeout"] <= 60 and 1 <= check["retries"] <= 10
    assert 0 <= check["startPeriod"] <= 300
    assert "healthCheck" not in containers["model-warmer"]  # it exits; a check would never pass


def test_containers_run_an_init_process_and_declare_the_image_volume_they_write(containers):
    for c in containers.values():
        assert c["linuxParameters"] == {"initProcessEnabled": True}
        assert c["dockerLabels"] == {"org.paddleocr-efs.image-volumes": "/tmp"}
    rule = (Path(__file__).parent / "policies" / "bind_mount_writable_by_task_user.py").read_text()
    assert f'IMAGE_VOLUMES_LABEL = "{IMAGE_VOLUMES_LABEL}"' in rule  # the checkov rule reads this key


def test_ecs_exec_makes_root_file_systems_writable_for_the_ssm_agent(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(service={"enable_exec": True})), "service")
    task = one(resources(doc, "aws_ecs_task_definition"))
    for c in json.loads(task["container_definitions"]):
        assert c["readonlyRootFilesystem"] is False and c["linuxParameters"]["initProcessEnabled"] is True


def test_worker_stop_timeout_is_fargates_maximum(containers):
    assert containers["ocr-worker"]["stopTimeout"] == 120


def test_the_backend_reaches_the_warmer_and_the_worker_alike(containers, tmp_path):
    assert not any(e["name"] == "OCR_BACKEND" for c in containers.values() for e in c["environment"])
    doc = load_stack(synth_app(tmp_path, settings(service={"backend": "onnxruntime"})), "service")
    definitions = json.loads(one(resources(doc, "aws_ecs_task_definition"))["container_definitions"])
    assert [{e["name"]: e["value"] for e in c["environment"]}["OCR_BACKEND"] for c in definitions] == \
           ["onnxruntime", "onnxruntime"]


def test_containers_run_as_an_adopted_access_points_own_user(tmp_path):
    """The settings' uid and gid describe an access point this project creates; an adopted one
    has its own POSIX user, which EFS enforces: the containers run as that one."""
    stacks = synth_app(tmp_path, settings(model_cache={
        "existing_file_system_id": "fs-0123456789abcdef0", "existing_security_group_id": "sg-0123456789abcdef0",
        "existing_access_point_id": "fsap-0123456789abcdef0"}))
    definitions = json.loads(one(resources(load_stack(stacks, "service"), "aws_ecs_task_definition"))[
        "container_definitions"])
    outputs = json.dumps(load_stack(stacks, "model-cache")["output"])
    [ap] = load_stack(stacks, "model-cache")["data"]["aws_efs_access_point"]
    assert f"data.aws_efs_access_point.{ap}.posix_user[0].uid" in outputs
    for c in definitions:
        uid, gid = c["user"].split(":")
        assert "cross-stack-output-dataaws_efs_access_point" in uid and uid.endswith("uid}")
        assert gid.endswith("gid}")


# -- props: what ECS, Fargate and CloudWatch refuse at apply time ---------------------------

BAD_PROPS = {
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
    "cpu not a fargate size": (dict(cpu=3000), "cpu: 3000 is not a Fargate task cpu value"),
    "memory below the range": (dict(cpu=2048, memory=2048), "memory: 2048 MiB is not a Fargate memory value for cpu 2048"),
    "memory between steps": (dict(cpu=1024, memory=2500), "memory: 2500 MiB is not a Fargate memory value for cpu 1024"),
    "8 vcpu in 1 GiB steps": (dict(cpu=8192, memory=17408), "memory: 17408 MiB is not a Fargate memory value for cpu 8192"),
    "256 cpu with 1.5 GiB": (dict(cpu=256, memory=1536), "memory: 1536 MiB is not a Fargate memory value for cpu 256"),
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html
    "family too long": (dict(family="f" * 256), "family: '" + "f" * 256 + "' must be 1-255 characters"),
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
    "log group with a space": (dict(log_group="/ecs/ocr worker"), "log_group: '/ecs/ocr worker' is not valid"),
    "log group under aws/": (dict(log_group="aws/ocr"), "log_group: 'aws/ocr': the aws/ prefix is reserved"),
    "retention not a logs value": (dict(log_retention_days=10), "log_retention_days: 10 is not a CloudWatch Logs"),
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html
    "cache path relative": (dict(cache_mount_path="cache"), "cache_mount_path: 'cache' must be an absolute path"),
    "cache path is scratch": (dict(cache_mount_path="/tmp"), "cache_mount_path: '/tmp' collides with the scratch mount"),
    "cache path inside scratch": (dict(cache_mount_path="/tmp/models"), "cache_mount_path: '/tmp/models' collides"),
    "unknown backend": (dict(backend="openvino"), "backend: 'openvino' must be one of paddle, onnxruntime"),
}


@pytest.mark.parametrize("props,message", BAD_PROPS.values(), ids=BAD_PROPS.keys())
def test_props_refuse_what_ecs_refuses(props, message):
    assert_refused(TaskProps, props, message)


@pytest.mark.parametrize("cpu,memory", [(256, 512), (512, 4096), (1024, 8192), (2048, 16384), (4096, 30720),
                                        (8192, 61440), (16384, 122880), (16384, 40960)])
def test_every_size_in_fargates_table_is_accepted(cpu, memory):
    assert TaskProps(cpu=cpu, memory=memory).memory == memory
