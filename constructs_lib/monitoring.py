"""Alarms to an SNS topic and a CloudWatch dashboard with the guide's EFS metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from constructs import Construct

from constructs_lib import validation
from constructs_lib.alarm_topic import AlarmTopic, AlarmTopicProps
from constructs_lib.framework import Fn, Op, Token, aws
from constructs_lib.metrics import Metric
from constructs_lib.naming import Names
from constructs_lib.validation import Props

if TYPE_CHECKING:
    from constructs_lib.documents import DocumentPipeline
    from constructs_lib.model_cache import ModelCache
    from constructs_lib.service import OcrService

CloudwatchDashboard = aws.cloudwatch_dashboard.CloudwatchDashboard
CloudwatchMetricAlarm = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm
CloudwatchMetricAlarmMetricQuery = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery
CloudwatchEventRule = aws.cloudwatch_event_rule.CloudwatchEventRule
CloudwatchEventTarget = aws.cloudwatch_event_target.CloudwatchEventTarget
CloudwatchEventTargetInputTransformer = aws.cloudwatch_event_target.CloudwatchEventTargetInputTransformer

#: ECS stop codes of a task stopped on purpose, not by a failure ("Amazon ECS task state change
#: events"): the "task failed" rule ignores them.
ORDERED_STOPS = ("ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice", "UserInitiated")


@dataclass(frozen=True)
class MonitoringProps(Props):
    """Attributes:
        name: Prefix of the alarm, topic, key alias, rule and dashboard names. Default
            ``<project>-paddleocr``.
        alarm_email: E-mail address subscribed to the alarm topic (``AlarmTopicProps.email``).
            Default none.
    """

    name: Optional[str] = None
    alarm_email: Optional[str] = None

    def validate(self) -> None:
        if self.name is not None:
            # Dashboard names: up to 255 letters, digits, '-' and '_' (PutDashboard); the rest allow more.
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
            validation.ecs_name("name", self.name)
        if self.alarm_email is not None:
            validation.email("alarm_email", self.alarm_email)


class Monitoring(Construct):
    """Alarms on the service, its queues and its model cache, to an ``AlarmTopic``; an EventBridge
    rule for tasks that fail; and a dashboard. Every metric comes from the construct that owns
    it."""

    def __init__(self, scope: Construct, id: str, props: Optional[MonitoringProps] = None, *, project: str,
                 region: str, account_id: str, service: OcrService, documents: DocumentPipeline,
                 cache: ModelCache) -> None:
        """Alarms on the metrics of ``service``, ``documents`` and ``cache``. Attributes: ``topic``
        (AlarmTopic), ``task_failed`` (CloudwatchEventRule), ``dashboard``, ``props``."""
        super().__init__(scope, id)
        props = self.props = props or MonitoringProps()
        name = props.name or Names(project).prefix

        # A crash loop is not silent: every task of this service that stops with a container that
        # exited non-zero (a failed warm-up, a worker crash, an out-of-memory kill) is announced.
        # Stops that ECS or a person asked for are not: scale-in and deployments
        # (ServiceSchedulerInitiated), Spot reclaims (SpotInterruption, TerminationNotice) and
        # StopTask (UserInitiated), whatever the exit code, since SIGKILL after the stop timeout
        # exits 137 ("Amazon ECS task state change events", stopCode). The worker exits 0 on
        # SIGTERM anyway, from the first instant (ocr_worker.signals).
        self.task_failed = CloudwatchEventRule(
            self, "task-failed", name=f"{name}-task-failed",
            description="A task of the OCR service stopped by itself with a non-zero container exit code",
            event_pattern=json.dumps({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"], "detail": {
                "clusterArn": [service.cluster_arn], "group": [f"service:{service.service.name}"],
                "lastStatus": ["STOPPED"], "stopCode": [{"anything-but": list(ORDERED_STOPS)}],
                "containers": {"exitCode": [{"anything-but": 0}]}}}))
        self.topic = AlarmTopic(self, "alarm-topic", AlarmTopicProps(name=name, email=props.alarm_email),
                                project=project, account_id=account_id, event_rule_arns=[self.task_failed.arn])
        CloudwatchEventTarget(
            self, "task-failed-to-topic", rule=self.task_failed.name, arn=self.topic.arn,
            input_transformer=CloudwatchEventTargetInputTransformer(
                input_paths={"task": "$.detail.taskArn", "reason": "$.detail.stoppedReason"},
                input_template='"OCR task <task> stopped with a failed container: <reason>"'))
        actions = [self.topic.arn]

        def alarm(id: str, description: str, metric: Metric, operator: str, threshold: float,
                  periods: int = 1, count: Optional[float] = None) -> None:
            CloudwatchMetricAlarm(
                self, id, alarm_name=f"{name}-{id}", alarm_description=description, **metric.alarm_args(),
                evaluation_periods=periods, comparison_operator=operator, threshold=threshold,
                treat_missing_data="notBreaching", alarm_actions=actions, ok_actions=actions, count=count)

        alarm("dlq-not-empty", "Documents failed maxReceiveCount times and are in the dead-letter queue",
              documents.metric_dead_letters(), "GreaterThanThreshold", 0)
        alarm("efs-io-limit", "The model cache is near the generalPurpose I/O limit",
              cache.metric_percent_io_limit(), "GreaterThanThreshold", 90, periods=3)
        # About 1 TiB of credits: a few hours of full-speed task starts. Bursting file systems
        # only: an adopted one's mode is read from it, so the alarm exists when it bursts.
        burst = ("efs-burst-credits", "The model cache is running out of burst credits",
                 cache.metric_burst_credit_balance(), "LessThanThreshold", 1e12)
        if Token.is_unresolved(cache.throughput_mode):
            alarm(*burst, count=Token.as_number(Fn.conditional(Op.eq(cache.throughput_mode, "bursting"), 1, 0)))
        elif cache.throughput_mode == "bursting":
            alarm(*burst)
        CloudwatchMetricAlarm(
            self, "tasks-below-desired", alarm_name=f"{name}-tasks-below-desired",
            alarm_description="Fewer tasks run than the service wants (tasks failing to start?)",
            comparison_operator="GreaterThanThreshold", threshold=0, evaluation_periods=3,
            treat_missing_data="notBreaching", alarm_actions=actions, ok_actions=actions, metric_query=[
                service.metric_desired_tasks().alarm_query("desired"),
                service.metric_running_tasks().alarm_query("running"),
                CloudwatchMetricAlarmMetricQuery(id="missing", return_data=True, label="Desired minus running tasks",
                                                 expression="desired - running")])

        widgets = [
            _widget("EFS client connections", region, [cache.metric_client_connections().widget_row()], "Sum"),
            _widget("EFS data read (bytes)", region, [cache.metric_data_read_bytes().widget_row()], "Sum"),
            # Both in bytes per second. PermittedThroughput is a rate (Average); MeteredIOBytes
            # counts bytes, so its throughput is SUM / PERIOD ("Amazon CloudWatch metrics for
            # Amazon EFS", metric math for throughput): its Average is bytes per operation.
            _widget("EFS permitted vs metered throughput (bytes/s)", region, [
                cache.metric_permitted_throughput().widget_row(label="Permitted"),
                cache.metric_metered_io_bytes().widget_row(id="metered", stat="Sum", visible=False),
                [{"expression": "metered / PERIOD(metered)", "id": "metered_rate", "label": "Metered"}]], "Average"),
            _widget("Queue depth and oldest message age", region, [
                documents.metric_visible().widget_row(), documents.metric_oldest_age().widget_row(),
                documents.metric_dead_letters().widget_row()], "Maximum"),
            _widget("Running tasks", region, [
                service.metric_running_tasks().widget_row(), service.metric_desired_tasks().widget_row()], "Average"),
            _widget("CPU and memory (%)", region, [
                service.metric_cpu_utilization().widget_row(), service.metric_memory_utilization().widget_row()],
                "Average"),
        ]
        for i, widget in enumerate(widgets):
            widget.update({"x": (i % 2) * 12, "y": (i // 2) * 6, "width": 12, "height": 6})
        self.dashboard = CloudwatchDashboard(self, "dashboard", dashboard_name=name,
                                             dashboard_body=json.dumps({"widgets": widgets}))


def _widget(title: str, region: str, metrics: list, stat: str) -> dict:
    return {"type": "metric", "properties": {"title": title, "region": region, "stat": stat, "period": 300,
                                             "view": "timeSeries", "metrics": metrics}}
