"""ECS on Fargate: the cluster and the service that runs an ``OcrTaskDefinition``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from constructs import Construct

from constructs_lib import aws_env, validation
from constructs_lib.framework import Postcondition, aws
from constructs_lib.metrics import Metric
from constructs_lib.naming import Names
from constructs_lib.policy import Role, Statement, grant, statement
from constructs_lib.task_definition import OcrTaskDefinition
from constructs_lib.validation import Props, check

EcsCluster = aws.ecs_cluster.EcsCluster
DataAwsEcsCluster = aws.data_aws_ecs_cluster.DataAwsEcsCluster
EcsClusterSetting = aws.ecs_cluster.EcsClusterSetting
EcsClusterCapacityProviders = aws.ecs_cluster_capacity_providers.EcsClusterCapacityProviders
EcsService = aws.ecs_service.EcsService
EcsServiceCapacityProviderStrategy = aws.ecs_service.EcsServiceCapacityProviderStrategy
IamRolePolicy = aws.iam_role_policy.IamRolePolicy


@dataclass(frozen=True)
class OcrServiceProps(Props):
    """The ECS cluster and service. The task's own settings are ``TaskProps``.

    Attributes:
        cluster_name: Default ``<project>-cluster``.
        existing_cluster: The name of a cluster of your own to run the service in, instead of one
            made here. It must be active, have Container Insights on (scaling reads its task
            counts) and have the FARGATE capacity provider (and FARGATE_SPOT with ``spot``); the
            plan checks the first two.
        service_name: Default ``<project>-processor-service``.
        platform_version: Fargate platform version; EFS volumes need 1.4.0 or later. Default
            ``1.4.0``.
        spot: Run three tasks in four on Fargate Spot (about 70% cheaper). Default off. The worker
            is interruption-safe: Spot's two-minute SIGTERM is its stopTimeout, and an unfinished
            document goes back to the queue without counting as a failure.
    """

    cluster_name: Optional[str] = None
    existing_cluster: Optional[str] = None
    service_name: Optional[str] = None
    platform_version: str = "1.4.0"
    spot: bool = False

    def validate(self) -> None:
        check(not (self.cluster_name and self.existing_cluster), "existing_cluster",
              "names the cluster to use; cluster_name names one to create: set one of them")
        for key in ("cluster_name", "existing_cluster", "service_name"):
            if getattr(self, key) is not None:
                validation.ecs_name(key, getattr(self, key))
        # Fargate platform versions: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/platform-linux-fargate.html
        # (EFS volumes: https://docs.aws.amazon.com/AmazonECS/latest/developerguide/efs-volumes.html)
        version = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", self.platform_version)
        check(self.platform_version == "LATEST"
              or (version is not None and tuple(map(int, version.groups())) >= (1, 4, 0)),
              "platform_version", f"{self.platform_version!r} must be 'LATEST' or 1.4.0 or later (EFS volumes need it)")


class OcrService(Construct):
    """A Fargate service of ``task`` in a cluster with Container Insights, placed by capacity
    provider strategy, with a rolling deployment that rolls back by itself. The task role may
    protect its own tasks from scale-in (the worker does while it holds a document)."""

    def __init__(self, scope: Construct, id: str, props: Optional[OcrServiceProps] = None, *, project: str,
                 task: OcrTaskDefinition, subnet_ids: Sequence[str], security_group_id: str) -> None:
        """Runs ``task`` in ``subnet_ids`` behind ``security_group_id``. Attributes:
        ``cluster_name``, ``cluster_arn`` and ``service_name``; ``cluster`` (EcsCluster, or the DataAwsEcsCluster of
        ``existing_cluster``); ``service`` (EcsService); ``capacity_providers`` (None in an
        existing cluster); ``task``; ``props``."""
        super().__init__(scope, id)
        sv = self.props = props or OcrServiceProps()
        names = Names(project)
        self.task = task
        self.cluster: EcsCluster | DataAwsEcsCluster
        if sv.existing_cluster:
            self.cluster = existing_cluster(self, "cluster", sv.existing_cluster)
            self.cluster_name = self.cluster.cluster_name
        else:
            self.cluster = EcsCluster(self, "cluster", name=sv.cluster_name or names.cluster,
                                      setting=[EcsClusterSetting(name="containerInsights", value="enabled")])
            self.cluster_name = self.cluster.name
        self.cluster_arn = self.cluster.arn
        # A plain string, not the service's attribute: a policy document that refers to the service
        # would be read again at apply, and plan an update, whenever the service changes.
        self.service_name = sv.service_name or names.service
        self.grant_task_protection(task.roles.task_role)
        # Both Fargate capacity providers are always associated, and the service always places
        # tasks by strategy (FARGATE, plus three in four on FARGATE_SPOT with ``spot``), never by
        # launch type: the provider replaces a service whose strategy goes from none to some, but
        # with force_new_deployment it updates one strategy to another in place
        # (capacityProviderStrategyCustomizeDiff), so turning ``spot`` on or off is a rolling
        # deployment, not a replacement. CreateService refuses a strategy whose providers the
        # cluster does not have yet, hence depends_on.
        self.capacity_providers = None if sv.existing_cluster else EcsClusterCapacityProviders(
            self, "capacity-providers", cluster_name=self.cluster_name, capacity_providers=["FARGATE", "FARGATE_SPOT"])
        strategy = [EcsServiceCapacityProviderStrategy(capacity_provider="FARGATE", weight=1)]
        if sv.spot:
            strategy.append(EcsServiceCapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=3))
        self.service = EcsService(
            self, "service", name=self.service_name, cluster=self.cluster_arn,
            task_definition=task.arn, capacity_provider_strategy=strategy,
            force_new_deployment=True, depends_on=[self.capacity_providers] if self.capacity_providers else None,
            # EFS volumes need Fargate platform 1.4.0 or later.
            platform_version=sv.platform_version,
            # Application Auto Scaling raises this to its minimum as soon as it is registered.
            desired_count=0,
            network_configuration={"subnets": list(subnet_ids), "security_groups": [security_group_id],
                                   "assign_public_ip": False},
            deployment_circuit_breaker={"enable": True, "rollback": True},
            deployment_minimum_healthy_percent=100, deployment_maximum_percent=200,
            enable_execute_command=task.props.enable_exec, propagate_tags="SERVICE",
            # Autoscaling owns the task count after the first deploy, and paddleocr-efs pause and resume.
            lifecycle={"ignore_changes": ["desired_count"]})


    # -- metrics -------------------------------------------------------------------------------

    def _metric(self, namespace: str, name: str, stat: str) -> Metric:
        return Metric(namespace, name, {"ClusterName": self.cluster_name, "ServiceName": self.service.name}, stat)

    def metric_running_tasks(self, stat: str = "Average") -> Metric:
        """Tasks running (Container Insights, on for the cluster)."""
        return self._metric("ECS/ContainerInsights", "RunningTaskCount", stat)

    def metric_desired_tasks(self, stat: str = "Average") -> Metric:
        """Tasks the service wants."""
        return self._metric("ECS/ContainerInsights", "DesiredTaskCount", stat)

    def metric_cpu_utilization(self, stat: str = "Average") -> Metric:
        return self._metric("AWS/ECS", "CPUUtilization", stat)

    def metric_memory_utilization(self, stat: str = "Average") -> Metric:
        return self._metric("AWS/ECS", "MemoryUtilization", stat)

    # -- grants --------------------------------------------------------------------------------

    def _ecs_arn(self, resource: str) -> str:
        """The ARN of an ECS resource of this cluster, e.g. ``task/<cluster>/*``."""
        return f"arn:{aws_env.partition(self)}:ecs:{aws_env.region(self)}:{aws_env.account_id(self)}:{resource}"

    def grant_task_protection(self, role: Role) -> IamRolePolicy:
        """The worker sets scale-in protection on its own task through the ECS agent, which calls
        UpdateTaskProtection with the task role: tasks of this cluster only."""
        tasks = self._ecs_arn(f"task/{self.cluster_name}/*")
        return grant(role, "task-protection", [statement("ProtectOwnTask", ["ecs:UpdateTaskProtection"], [tasks])])

    def operator_statements(self) -> list[Statement]:
        """What ``paddleocr-efs`` needs of ECS (Service Authorization Reference, Amazon ECS):
        DescribeServices and UpdateService on this service (``status``; ``pause`` and ``resume``
        set its desired count); ListTasks, which takes no resource of its own here, on this cluster
        by the ``ecs:cluster`` condition; DescribeTasks on this cluster's tasks (``status`` shows
        the recently stopped ones)."""
        return [
            statement("ServiceStateAndDesiredCount", ["ecs:DescribeServices", "ecs:UpdateService"],
                      [self._ecs_arn(f"service/{self.cluster_name}/{self.service_name}")]),
            statement("ListServiceTasks", ["ecs:ListTasks"], ["*"],
                      conditions=[("ArnEquals", "ecs:cluster", [self.cluster_arn])]),
            statement("DescribeServiceTasks", ["ecs:DescribeTasks"], [self._ecs_arn(f"task/{self.cluster_name}/*")])]


def existing_cluster(scope: Construct, id: str, name: str) -> DataAwsEcsCluster:
    """A cluster of the user's own, checked at plan: active, and with Container Insights, whose
    RunningTaskCount the scaling and the alarms read (ECS: Container Insights,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/ContainerInsights.html)."""
    insights = '[for s in self.setting : s.value if s.name == "containerInsights"]'
    return DataAwsEcsCluster(scope, id, cluster_name=name, lifecycle={"postcondition": [
        Postcondition(condition='${self.status == "ACTIVE"}',
                      error_message=f"service.existing_cluster: {name} is not active."),
        Postcondition(condition=f'${{contains({insights}, "enabled") || contains({insights}, "enhanced")}}',
                      error_message=f"service.existing_cluster: {name} has Container Insights off, and the scaling "
                                    "reads its task counts. Turn it on (aws ecs update-cluster-settings).")]})
