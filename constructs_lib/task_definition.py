"""The ECS task definition: ``model-warmer`` fills the EFS model cache, then ``ocr-worker`` reads
it; both as the cache's POSIX user, logging to their own log group."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Protocol

from constructs import Construct

from constructs_lib import validation
from constructs_lib.framework import aws
from constructs_lib.naming import Names, log_group_of
from constructs_lib.policy import Role, grant, statement
from constructs_lib.validation import Props, check

if TYPE_CHECKING:
    from constructs_lib.documents import DocumentPipeline
    from constructs_lib.image_repository import ImageRepository
    from constructs_lib.model_cache import ModelCache

CloudwatchLogGroup = aws.cloudwatch_log_group.CloudwatchLogGroup
EcsTaskDefinition = aws.ecs_task_definition.EcsTaskDefinition
EcsTaskDefinitionVolume = aws.ecs_task_definition.EcsTaskDefinitionVolume
EcsTaskDefinitionVolumeEfsVolumeConfiguration = aws.ecs_task_definition.EcsTaskDefinitionVolumeEfsVolumeConfiguration
EcsTaskDefinitionVolumeEfsVolumeConfigurationAuthorizationConfig = aws.ecs_task_definition.EcsTaskDefinitionVolumeEfsVolumeConfigurationAuthorizationConfig  # noqa: E501 (a binding name)
IamRolePolicy = aws.iam_role_policy.IamRolePolicy

#: The dockerLabels key that lists the bind-mount paths the image declares as VOLUME.
IMAGE_VOLUMES_LABEL = "org.paddleocr-efs.image-volumes"
WARMER = "model-warmer"
WORKER = "ocr-worker"
CACHE_VOLUME = "model-cache"
SCRATCH_VOLUME = "scratch"
#: Where the writable scratch volume is mounted (the image declares it a VOLUME).
SCRATCH_PATH = "/tmp"
#: Seconds from SIGTERM to SIGKILL: Fargate's maximum, and what Spot gives before reclaiming.
#: The worker finishes its page and requeues what cannot finish in this time.
WORKER_STOP_TIMEOUT = 120
#: ECS runs only this, never the image's HEALTHCHECK. ``ocr-worker health`` fails once the worker
#: loop has not beaten for OCR_HEARTBEAT_MAX_AGE (120 s). Limits (AWS::ECS::TaskDefinition
#: HealthCheck): interval 5-300, timeout 2-60, retries 1-10, startPeriod 0-300; the start period
#: covers the model load, which is seconds from a warm EFS cache.
WORKER_HEALTH_CHECK = {"command": ["CMD", "ocr-worker", "health"], "interval": 15, "timeout": 10, "retries": 3,
                       "startPeriod": 120}

#: The worker image's inference engines (OCR_BACKEND; image/ocr_worker/cache.py BACKENDS).
BACKENDS = ("paddle", "onnxruntime")


class Roles(Protocol):
    """The task's two roles: ``TaskRoles``, or any object with both."""

    @property
    def task_role(self) -> Role: ...

    @property
    def execution_role(self) -> Role: ...


@dataclass(frozen=True)
class TaskProps(Props):
    """The task definition. ``OcrServiceProps`` (the ``service`` config section) holds these too.

    Attributes:
        family: Task definition family. Default ``<project>-processor``.
        log_group: Both containers' log group. Default ``/ecs/<family>``.
        log_retention_days: A CloudWatch Logs retention value. Default 365.
        cpu: Task cpu units, a Fargate size. Default 2048 (2 vCPU).
        memory: Task memory in MiB, valid for ``cpu`` on Fargate. Default 4096: on the default
            model tier the worker's peak RSS stays under 3 GB on any document it accepts (README:
            Memory bound); a smaller task needs a lower ``OCR_DOWNSCALE_PIXELS``, and the
            ``small`` and ``medium`` tiers need 8192.
        cache_mount_path: Where the image keeps its PaddleX cache home
            (``PADDLE_PDX_CACHE_HOME``); the EFS volume is mounted there. Default
            ``/var/cache/paddlex``. Must not overlap the scratch mount ``/tmp``.
        enable_exec: Allow ``aws ecs execute-command`` into tasks. Default off: it makes the root
            file systems writable.
        backend: The worker's inference engine (``OCR_BACKEND``), set on the warmer and the worker
            alike. Default unset: the engine the lock's formats call for, ONNX Runtime for every
            tier. ``paddle`` runs Paddle-format locks on an image built with ``ENGINE=paddle``;
            ``onnxruntime`` with such a lock converts each model once into the cache.
    """

    family: Optional[str] = None
    log_group: Optional[str] = None
    log_retention_days: int = 365
    cpu: int = 2048
    memory: int = 4096
    cache_mount_path: str = "/var/cache/paddlex"
    enable_exec: bool = False
    backend: Optional[str] = None

    def validate(self) -> None:
        if self.family is not None:
            validation.ecs_name("family", self.family)
        if self.log_group is not None:
            validation.log_group_name("log_group", self.log_group)
        validation.log_retention("log_retention_days", self.log_retention_days)
        validation.fargate_size(self.cpu, self.memory)
        check(self.backend is None or self.backend in BACKENDS, "backend",
              f"{self.backend!r} must be one of {', '.join(BACKENDS)}")
        validation.absolute_path("cache_mount_path", self.cache_mount_path)
        validation.paths_disjoint("cache_mount_path", self.cache_mount_path, SCRATCH_PATH, "the scratch mount")


class OcrTaskDefinition(Construct):
    """The Fargate task: ``model-warmer`` (fills the EFS cache, read-write, then exits) and then
    ``ocr-worker`` (reads the cache read-only, read-only root file system).

    The EFS volume always uses TLS and IAM authorization through the cache's access point; both
    containers run as the access point's POSIX user, read from the cache. The execution role
    gets the log group; with ``enable_exec`` the task role gets the SSM channel."""

    def __init__(self, scope: Construct, id: str, props: Optional[TaskProps] = None, *, project: str,
                 region: str, image: ImageRepository, cache: ModelCache, roles: Roles, pipeline: DocumentPipeline,
                 environment: Optional[dict[str, str]] = None) -> None:
        """``environment`` is added to what the task sets itself (``AWS_REGION``,
        ``PADDLE_PDX_CACHE_HOME``, ``OCR_STOP_SECONDS``, the pipeline's ``worker_environment``).
        Attributes: ``task_definition`` (EcsTaskDefinition), ``log_group``, ``roles``, ``props``."""
        super().__init__(scope, id)
        props = props or TaskProps()
        family = props.family or Names(project).family
        self.props, self.roles = props, roles
        for key, value in (("uid", cache.uid), ("gid", cache.gid)):
            if isinstance(value, int):  # an adopted access point's are Terraform expressions
                validation.posix_id(key, value)
        environment = {"AWS_REGION": region, "PADDLE_PDX_CACHE_HOME": props.cache_mount_path,
                       "OCR_STOP_SECONDS": str(WORKER_STOP_TIMEOUT), **pipeline.worker_environment,
                       **(environment or {})}
        if props.backend is not None:  # warmer and worker must agree
            environment["OCR_BACKEND"] = props.backend
        self.log_group = CloudwatchLogGroup(self, "logs", name=props.log_group or log_group_of(family),
                                            retention_in_days=props.log_retention_days)

        def container(name: str, command: str, read_only_cache: bool, extra: dict) -> dict:
            return {
                "name": name, "image": image.image_uri, "command": [command],
                "user": cache.posix_user,
                # ECS Exec injects the SSM agent into every container; it must write under
                # /var/lib/amazon and /var/log/amazon, so it cannot run on a read-only root file
                # system (aws/containers-roadmap#1359). Exec is opt-in and costs that protection.
                "readonlyRootFilesystem": not props.enable_exec,
                # An init process as PID 1 forwards SIGTERM and reaps orphans (ECS Exec leaves
                # some behind: "Using Amazon ECS Exec", considerations).
                "linuxParameters": {"initProcessEnabled": True},
                # The scratch bind mount is writable by uid 1000 only because the image declares
                # VOLUME /tmp (see image/Dockerfile); checkov's CKV_PADDLE_4 reads this claim and
                # tests/e2e/test_image.py proves it on the built image.
                "dockerLabels": {IMAGE_VOLUMES_LABEL: SCRATCH_PATH},
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                "mountPoints": [
                    {"sourceVolume": CACHE_VOLUME, "containerPath": props.cache_mount_path,
                     "readOnly": read_only_cache},
                    {"sourceVolume": SCRATCH_VOLUME, "containerPath": SCRATCH_PATH, "readOnly": False}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": self.log_group.name, "awslogs-region": region,
                    "awslogs-stream-prefix": name}},
                **extra,
            }

        containers = [
            container(WARMER, "warm", read_only_cache=False, extra={"essential": False}),
            container(WORKER, "worker", read_only_cache=True, extra={
                "essential": True, "dependsOn": [{"containerName": WARMER, "condition": "SUCCESS"}],
                "healthCheck": WORKER_HEALTH_CHECK, "stopTimeout": WORKER_STOP_TIMEOUT}),
        ]
        self.task_definition = EcsTaskDefinition(
            self, "task", family=family, requires_compatibilities=["FARGATE"], network_mode="awsvpc",
            cpu=str(props.cpu), memory=str(props.memory), task_role_arn=roles.task_role.arn,
            execution_role_arn=roles.execution_role.arn, container_definitions=json.dumps(containers),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            volume=[
                EcsTaskDefinitionVolume(name=CACHE_VOLUME, efs_volume_configuration=(
                    # With an access point the root directory is the access point's: none here.
                    EcsTaskDefinitionVolumeEfsVolumeConfiguration(
                        file_system_id=cache.file_system_id, transit_encryption="ENABLED",
                        authorization_config=EcsTaskDefinitionVolumeEfsVolumeConfigurationAuthorizationConfig(
                            access_point_id=cache.access_point_id, iam="ENABLED")))),
                EcsTaskDefinitionVolume(name=SCRATCH_VOLUME),
            ],
            depends_on=[image.build] if image.build else None)

        self._grant_write_logs(roles.execution_role)
        if props.enable_exec:
            # The SSM channel actions have no resource-level permissions.
            grant(roles.task_role, "ecs-exec", [statement(
                "EcsExec", ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], ["*"])])

    @property
    def arn(self) -> str:
        return self.task_definition.arn

    @property
    def family(self) -> str:
        return self.task_definition.family

    def _grant_write_logs(self, role: Role) -> IamRolePolicy:
        """What the awslogs driver needs, on this task's log group only: the execution role
        creates each container's stream and writes its events. The constructor grants it."""
        return grant(role, "write-task-logs", [statement(
            "WriteTaskLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{self.log_group.arn}:*"])])
