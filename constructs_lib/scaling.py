"""Application Auto Scaling on queue backlog per task, from zero tasks and back to zero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from constructs import Construct

from constructs_lib.framework import aws
from constructs_lib.metrics import ScalingQuery
from constructs_lib.policy import Statement, statement
from constructs_lib.validation import Props, check

if TYPE_CHECKING:
    from constructs_lib.documents import DocumentPipeline
    from constructs_lib.service import OcrService

AppautoscalingPolicy = aws.appautoscaling_policy.AppautoscalingPolicy
StepAdjustment = aws.appautoscaling_policy.AppautoscalingPolicyStepScalingPolicyConfigurationStepAdjustment
AppautoscalingTarget = aws.appautoscaling_target.AppautoscalingTarget
CloudwatchMetricAlarm = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm
CloudwatchMetricAlarmMetricQuery = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery


@dataclass(frozen=True)
class QueueScalingProps(Props):
    """Attributes:
        min_tasks: Fewest tasks. Default 0: an idle service costs no Fargate time.
        max_tasks: Most tasks, at least 1. Default 10.
        backlog_per_task: Target messages (waiting plus in flight) per running task. Default 4.
    """

    min_tasks: int = 0
    max_tasks: int = 10
    backlog_per_task: int = 4

    def validate(self) -> None:
        # A service's desired count is at most 5,000 tasks per service (Amazon ECS service quotas,
        # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html).
        check(1 <= self.max_tasks <= 5000, "max_tasks", f"must be between 1 and 5000, got {self.max_tasks}")
        check(0 <= self.min_tasks <= self.max_tasks, "min_tasks",
              f"must be between 0 and max_tasks ({self.max_tasks}), got {self.min_tasks}")
        check(self.backlog_per_task >= 1, "backlog_per_task", "must be at least 1")


class QueueScaling(Construct):
    """Target tracking keeps messages per running task at ``backlog_per_task``, counting the ones
    being worked on (in flight) as well as the visible ones, so a task busy with a long document
    does not look idle.

    Target tracking multiplies the current task count, so it can never leave zero: a step policy,
    fired by an alarm "messages waiting and no task wanted", sets the desired count to exactly one
    (ExactCapacity). It acts only while the desired count is zero, so it never adds a second task
    while the first is still pulling its image, and never undoes target tracking. Scale-in is
    target tracking's own, down to ``min_tasks``; busy tasks are protected by the worker."""

    def __init__(self, scope: Construct, id: str, props: Optional[QueueScalingProps] = None, *,
                 service: OcrService, documents: DocumentPipeline) -> None:
        """Scales ``service`` on the backlog of ``documents``' queue. Attributes: ``target``,
        ``backlog_policy``, ``wake_policy``, ``props``."""
        super().__init__(scope, id)
        settings = self.props = props or QueueScalingProps()
        service_name = service.service.name
        self.target = AppautoscalingTarget(
            self, "target", service_namespace="ecs", scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{service.cluster_name}/{service_name}",
            min_capacity=settings.min_tasks, max_capacity=settings.max_tasks,
            # `paddleocr-efs pause` suspends scaling (constructs_lib/operate/service.py); the next
            # plan must not lift the pause.
            lifecycle={"ignore_changes": ["suspended_state"]})
        where: dict[str, Any] = {"resource_id": self.target.resource_id,
                                 "scalable_dimension": self.target.scalable_dimension,
                                 "service_namespace": self.target.service_namespace}

        self.backlog_policy = AppautoscalingPolicy(
            self, "backlog-per-task", name=f"{service_name}-backlog-per-task", policy_type="TargetTrackingScaling",
            **where, target_tracking_scaling_policy_configuration={
                "target_value": settings.backlog_per_task, "scale_out_cooldown": 60, "scale_in_cooldown": 300,
                "customized_metric_specification": {"metrics": [
                    documents.metric_visible().scaling_query("visible"),
                    documents.metric_in_flight().scaling_query("inflight"),
                    service.metric_running_tasks().scaling_query("running"),
                    ScalingQuery(id="backlog", label="Waiting and in-flight messages per running task",
                                 return_data=True, expression="(visible + inflight) / IF(running > 0, running, 1)")]}})

        self.wake_policy = AppautoscalingPolicy(
            self, "scale-from-zero", name=f"{service_name}-scale-from-zero", policy_type="StepScaling",
            **where, step_scaling_policy_configuration={
                "adjustment_type": "ExactCapacity", "cooldown": 60, "metric_aggregation_type": "Maximum",
                "step_adjustment": [StepAdjustment(metric_interval_lower_bound="0", scaling_adjustment=1)]})
        CloudwatchMetricAlarm(
            self, "work-waiting", alarm_name=f"{service_name}-work-waiting-no-tasks",
            alarm_description="Messages are waiting and the service wants no task: set it to one",
            comparison_operator="GreaterThanOrEqualToThreshold", threshold=1, evaluation_periods=1,
            treat_missing_data="notBreaching", alarm_actions=[self.wake_policy.arn], metric_query=[
                documents.metric_visible().with_(period=60).alarm_query("visible"),
                service.metric_desired_tasks().with_(period=60).alarm_query("desired"),
                CloudwatchMetricAlarmMetricQuery(id="waiting", return_data=True, label="Work waiting, no task wanted",
                                                 expression="IF(FILL(desired, 0) == 0 AND visible > 0, 1, 0)")])

    def operator_statements(self) -> list[Statement]:
        """What ``paddleocr-efs`` needs of the scaling: DescribeScalableTargets, which has no
        resource type and takes ``*`` (Service Authorization Reference, Application Auto Scaling),
        and RegisterScalableTarget on this target (``pause`` and ``resume`` set its suspended
        state; the service-linked role it would create on a first registration exists since the
        deploy)."""
        return [statement("ScalingState", ["application-autoscaling:DescribeScalableTargets"], ["*"]),
                statement("PauseAndResumeScaling", ["application-autoscaling:RegisterScalableTarget"],
                          [self.target.arn])]
