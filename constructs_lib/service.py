"""ECS on Fargate: the cluster, the task (warm-up container + OCR worker) and the service."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from constructs import Construct

from constructs_lib import aws_env, validation
from constructs_lib.framework import ITerraformDependable, aws
from constructs_lib.naming import Names, log_group_of
from constructs_lib.policy import Role, grant, statement
from constructs_lib.validation import Props, check

CloudwatchLogGroup = aws.cloudwatch_log_group.CloudwatchLogGroup
EcsCluster = aws.ecs_cluster.EcsCluster
EcsClusterSetting = aws.ecs_cluster.EcsClusterSetting
EcsClusterCapacityProviders = aws.ecs_cluster_capacity_providers.EcsClusterCapacityProviders
EcsService = aws.ecs_service.EcsService
EcsServiceCapacityProviderStrategy = aws.ecs_service.EcsServiceCapacityProviderStrategy
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


@dataclass(frozen=True)
class OcrServiceProps(Props):
    """The ECS cluster, task definition and service.

    Attributes:
        cluster_name: Default ``<project>-cluster``.
        service_name: Default ``<project>-processor-service``.
        family: Task definition family. Default ``<project>-processor``.
        log_group: Both containers' log group. Default ``/ecs/<family>``.
        log_retention_days: A CloudWatch Logs retention value. Default 365.
        cpu: Task cpu units, a Fargate size. Default 2048 (2 vCPU).
        memory: Task memory in MiB, valid for ``cpu`` on Fargate. Default 4096: on the default
            model tier the worker's peak RSS stays under 3 GB on any document it accepts (README:
            Memory bound); a smaller task needs a lower ``OCR_DOWNSCALE_PIXELS``, and the
            ``small`` and ``medium`` tiers need 8192.
        platform_version: Fargate platform version; EFS volumes need 1.4.0 or later. Default
            ``1.4.0``.
        cache_mount_path: Where the image keeps its PaddleX cache home
            (``PADDLE_PDX_CACHE_HOME``); the EFS volume is mounted there. Default
            ``/var/cache/paddlex``. Must not overlap the scratch mount ``/tmp``.
        enable_exec: Allow ``aws ecs execute-command`` into tasks. Default off: it makes the root
            file systems writable.
        spot: Run three tasks in four on Fargate Spot (about 70% cheaper). Default off. The worker
            is interruption-safe: Spot's two-minute SIGTERM is its stopTimeout, and an unfinished
            document goes back to the queue without counting as a failure.
        backend: The worker's inference engine (``OCR_BACKEND``), set on the warmer and the worker
            alike. Default unset: the engine the lock's formats call for, ONNX Runtime for every
            tier. ``paddle`` runs Paddle-format locks on an image built with ``ENGINE=paddle``;
            ``onnxruntime`` with such a lock converts each model once into the cache.
    """

    cluster_name: Optional[str] = None
    service_name: Optional[str] = None
    family: Optional[str] = None
    log_group: Optional[str] = None
    log_retention_days: int = 365
    cpu: int = 2048
    memory: int = 4096
    platform_version: str = "1.4.0"
    cache_mount_path: str = "/var/cache/paddlex"
    enable_exec: bool = False
    spot: bool = False
    backend: Optional[str] = None

    def validate(self) -> None:
        for key in ("cluster_name", "service_name", "family"):
            if getattr(self, key) is not None:
                validation.ecs_name(key, getattr(self, key))
        if self.log_group is not None:
            validation.log_group_name("log_group", self.log_group)
        validation.log_retention("log_retention_days", self.log_retention_days)
        validation.fargate_size(self.cpu, self.memory)
        # Fargate platform versions: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/platform-linux-fargate.html
        # (EFS volumes: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html)
        version = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", self.platform_version)
        check(self.platform_version == "LATEST"
              or (version is not None and tuple(map(int, version.groups())) >= (1, 4, 0)),
              "platform_version", f"{self.platform_version!r} must be 'LATEST' or 1.4.0 or later (EFS volumes need it)")
        check(self.backend is None or self.backend in BACKENDS, "backend",
              f"{self.backend!r} must be one of {', '.join(BACKENDS)}")
        validation.absolute_path("cache_mount_path", self.cache_mount_path)
        validation.paths_disjoint("cache_mount_path", self.cache_mount_path, SCRATCH_PATH, "the scratch mount")

    def named(self, project: str) -> "OcrServiceProps":
        """These props with every unset name derived from ``project``."""
        names = Names(project)
        family = self.family or names.family
        return self.replace(cluster_name=self.cluster_name or names.cluster,
                            service_name=self.service_name or names.service, family=family,
                            log_group=self.log_group or log_group_of(family))


class OcrService(Construct):
    """A Fargate service whose task runs ``model-warmer`` (fills the EFS cache, read-write, then
    exits) and then ``ocr-worker`` (reads the cache read-only, read-only root file system).

    The EFS volume always uses TLS and IAM authorization through the access point; both
    containers run as the access point's uid:gid."""

    def __init__(self, scope: Construct, id: str, props: Optional[OcrServiceProps] = None, *, project: str,
                 region: str, image_uri: str, file_system_id: str, access_point_id: str, uid: int, gid: int,
                 task_role: Role, execution_role: Role, subnet_ids: Sequence[str], security_group_id: str,
                 environment: Optional[dict[str, str]] = None,
                 depends_on: Optional[Sequence[ITerraformDependable]] = None) -> None:
        """``uid``:``gid`` is the access point's POSIX user; both containers run as it.
        ``environment`` is added to what the service sets itself (``AWS_REGION``,
        ``PADDLE_PDX_CACHE_HOME``, ``OCR_STOP_SECONDS``), e.g. ``DocumentPipeline.worker_environment``."""
        super().__init__(scope, id)
        sv = self.props = (props or OcrServiceProps()).named(project)
        assert sv.cluster_name and sv.service_name and sv.family  # named() fills every name
        validation.posix_id("uid", uid)
        validation.posix_id("gid", gid)
        environment = {"AWS_REGION": region, "PADDLE_PDX_CACHE_HOME": sv.cache_mount_path,
                       "OCR_STOP_SECONDS": str(WORKER_STOP_TIMEOUT), **(environment or {})}
        if sv.backend is not None:  # warmer and worker must agree
            environment["OCR_BACKEND"] = sv.backend
        self.cluster = EcsCluster(self, "cluster", name=sv.cluster_name,
                                  setting=[EcsClusterSetting(name="containerInsights", value="enabled")])
        self.log_group = CloudwatchLogGroup(self, "logs", name=sv.log_group,
                                            retention_in_days=sv.log_retention_days)

        def container(name: str, command: str, read_only_cache: bool, extra: dict) -> dict:
            return {
                "name": name, "image": image_uri, "command": [command],
                "user": f"{uid}:{gid}",
                # ECS Exec injects the SSM agent into every container; it must write under
                # /var/lib/amazon and /var/log/amazon, so it cannot run on a read-only root file
                # system (aws/containers-roadmap#1359). Exec is opt-in and costs that protection.
                "readonlyRootFilesystem": not sv.enable_exec,
                # An init process as PID 1 forwards SIGTERM and reaps orphans (ECS Exec leaves
                # some behind: "Using Amazon ECS Exec", considerations).
                "linuxParameters": {"initProcessEnabled": True},
                # The scratch bind mount is writable by uid 1000 only because the image declares
                # VOLUME /tmp (see image/Dockerfile); checkov's CKV_PADDLE_4 reads this claim and
                # tests/e2e/test_image.py proves it on the built image.
                "dockerLabels": {IMAGE_VOLUMES_LABEL: SCRATCH_PATH},
                "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
                "mountPoints": [
                    {"sourceVolume": CACHE_VOLUME, "containerPath": sv.cache_mount_path, "readOnly": read_only_cache},
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
            self, "task", family=sv.family, requires_compatibilities=["FARGATE"], network_mode="awsvpc",
            cpu=str(sv.cpu), memory=str(sv.memory), task_role_arn=task_role.arn,
            execution_role_arn=execution_role.arn, container_definitions=json.dumps(containers),
            runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": "X86_64"},
            volume=[
                EcsTaskDefinitionVolume(name=CACHE_VOLUME, efs_volume_configuration=(
                    # With an access point the root directory is the access point's: none here.
                    EcsTaskDefinitionVolumeEfsVolumeConfiguration(
                        file_system_id=file_system_id, transit_encryption="ENABLED",
                        authorization_config=EcsTaskDefinitionVolumeEfsVolumeConfigurationAuthorizationConfig(
                            access_point_id=access_point_id, iam="ENABLED")))),
                EcsTaskDefinitionVolume(name=SCRATCH_VOLUME),
            ],
            depends_on=depends_on)

        self.grant_write_logs(execution_role)
        self.grant_task_protection(task_role)
        if sv.enable_exec:
            # The SSM channel actions have no resource-level permissions.
            grant(task_role, "ecs-exec", [statement(
                "EcsExec", ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
                            "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], ["*"])])
        # Both Fargate capacity providers are always associated, and the service always places
        # tasks by strategy (FARGATE, plus three in four on FARGATE_SPOT with ``spot``), never by
        # launch type: the provider replaces a service whose strategy goes from none to some, but
        # with force_new_deployment it updates one strategy to another in place
        # (capacityProviderStrategyCustomizeDiff), so turning ``spot`` on or off is a rolling
        # deployment, not a replacement. CreateService refuses a strategy whose providers the
        # cluster does not have yet, hence depends_on.
        self.capacity_providers = EcsClusterCapacityProviders(
            self, "capacity-providers", cluster_name=self.cluster.name, capacity_providers=["FARGATE", "FARGATE_SPOT"])
        strategy = [EcsServiceCapacityProviderStrategy(capacity_provider="FARGATE", weight=1)]
        if sv.spot:
            strategy.append(EcsServiceCapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=3))
        self.service = EcsService(
            self, "service", name=sv.service_name, cluster=self.cluster.arn,
            task_definition=self.task_definition.arn, capacity_provider_strategy=strategy,
            force_new_deployment=True, depends_on=[self.capacity_providers],
            # EFS volumes need Fargate platform 1.4.0 or later.
            platform_version=sv.platform_version,
            # Application Auto Scaling raises this to its minimum as soon as it is registered.
            desired_count=0,
            network_configuration={"subnets": list(subnet_ids), "security_groups": [security_group_id],
                                   "assign_public_ip": False},
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
            enable_execute_command=sv.enable_exec, propagate_tags="SERVICE",
            # Autoscaling owns the task count after the first deploy.
            lifecycle={"ignore_changes": ["desired_count"]})

    def grant_write_logs(self, role: Role) -> IamRolePolicy:
        """What the awslogs driver needs, on this task's log group only: the execution role
        creates each container's stream and writes its events."""
        return grant(role, "write-task-logs", [statement(
            "WriteTaskLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{self.log_group.arn}:*"])])

    def grant_task_protection(self, role: Role) -> IamRolePolicy:
        """The worker sets scale-in protection on its own task through the ECS agent, which calls
        UpdateTaskProtection with the task role: tasks of this cluster only."""
        tasks = (f"arn:{aws_env.partition(self)}:ecs:{aws_env.region(self)}:{aws_env.account_id(self)}:"
                 f"task/{self.cluster.name}/*")
        return grant(role, "task-protection", [statement("ProtectOwnTask", ["ecs:UpdateTaskProtection"], [tasks])])
