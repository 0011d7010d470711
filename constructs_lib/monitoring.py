"""Alarms to an SNS topic and a CloudWatch dashboard with the guide's EFS metrics."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from constructs import Construct

from constructs_lib import aws_env, validation
from constructs_lib.framework import aws
from constructs_lib.naming import Names
from constructs_lib.policy import deny_without_tls, policy_document, statement
from constructs_lib.validation import Props

CloudwatchDashboard = aws.cloudwatch_dashboard.CloudwatchDashboard
CloudwatchMetricAlarm = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm
CloudwatchMetricAlarmMetricQuery = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQuery
CloudwatchMetricAlarmMetricQueryMetric = aws.cloudwatch_metric_alarm.CloudwatchMetricAlarmMetricQueryMetric
CloudwatchEventRule = aws.cloudwatch_event_rule.CloudwatchEventRule
CloudwatchEventTarget = aws.cloudwatch_event_target.CloudwatchEventTarget
CloudwatchEventTargetInputTransformer = aws.cloudwatch_event_target.CloudwatchEventTargetInputTransformer
KmsAlias = aws.kms_alias.KmsAlias
KmsKey = aws.kms_key.KmsKey
SnsTopic = aws.sns_topic.SnsTopic
SnsTopicPolicy = aws.sns_topic_policy.SnsTopicPolicy
SnsTopicSubscription = aws.sns_topic_subscription.SnsTopicSubscription

#: ECS stop codes of a task stopped on purpose, not by a failure ("Amazon ECS task state change
#: events"): the "task failed" rule ignores them.
ORDERED_STOPS = ("ServiceSchedulerInitiated", "SpotInterruption", "TerminationNotice", "UserInitiated")



@dataclass(frozen=True)
class MonitoringProps(Props):
    """Attributes:
        name: Prefix of the alarm, topic, key alias, rule and dashboard names. Default
            ``<project>-paddleocr``.
        alarm_email: E-mail address subscribed to the alarm topic (it must confirm). Default none.
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
    """Alarms to an SNS topic encrypted with its own customer-managed key, and a dashboard.

    The topic cannot use the AWS-managed key ``alias/aws/sns``: its key policy cannot be changed,
    and it does not let CloudWatch use it, so every alarm notification would be dropped
    ("Enable compatibility between event sources from AWS services and encrypted topics").
    The key ($1 a month) rotates yearly and lets ``cloudwatch.amazonaws.com`` use it only on
    behalf of this account."""

    def __init__(self, scope: Construct, id: str, props: Optional[MonitoringProps] = None, *, project: str,
                 region: str, account_id: str, cluster_name: str, cluster_arn: str, service_name: str,
                 queue_name: str, dlq_name: str, file_system_id: str, throughput_mode: str) -> None:
        super().__init__(scope, id)
        props = self.props = props or MonitoringProps()
        name, alarm_email = props.name or Names(project).prefix, props.alarm_email
        partition = aws_env.partition(self)
        # A key policy, not an IAM policy: "Resource": "*" means this key. Written inline so that
        # IAM-policy scanners do not read it as an identity policy on every resource.
        key_policy = {"Version": "2012-10-17", "Statement": [
            # Without an account statement the key is unmanageable; KMS refuses such a policy.
            {"Sid": "AccountAdministers", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
             "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"}},
            {"Sid": "CloudWatchAlarmsPublish", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
             "Resource": "*", "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Condition": {"StringEquals": {"aws:SourceAccount": account_id}}},
            # EventBridge's KMS calls carry no aws:SourceAccount or aws:SourceArn, so a condition
            # would drop every event ("Amazon EventBridge targets", encrypted SNS topics); the topic
            # policy below limits who may publish.
            {"Sid": "EventBridgePublish", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
             "Resource": "*", "Principal": {"Service": "events.amazonaws.com"}},
        ]}
        self.key = KmsKey(self, "alarm-key", description=f"{name}: alarm topic encryption",
                          enable_key_rotation=True, deletion_window_in_days=30, policy=json.dumps(key_policy))
        KmsAlias(self, "alarm-key-alias", name=f"alias/{name}-alarms", target_key_id=self.key.key_id)
        self.topic = SnsTopic(self, "alarms", name=f"{name}-alarms", kms_master_key_id=self.key.arn)
        if alarm_email:
            SnsTopicSubscription(self, "email", topic_arn=self.topic.arn, protocol="email", endpoint=alarm_email)

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
                "clusterArn": [cluster_arn], "group": [f"service:{service_name}"], "lastStatus": ["STOPPED"],
                "stopCode": [{"anything-but": list(ORDERED_STOPS)}],
                "containers": {"exitCode": [{"anything-but": 0}]}}}))
        CloudwatchEventTarget(
            self, "task-failed-to-topic", rule=self.task_failed.name, arn=self.topic.arn,
            input_transformer=CloudwatchEventTargetInputTransformer(
                input_paths={"task": "$.detail.taskArn", "reason": "$.detail.stoppedReason"},
                input_template='"OCR task <task> stopped with a failed container: <reason>"'))
        topic_policy = policy_document(self, "topic-policy", [
            statement("AccountOwns", ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:AddPermission",
                                      "sns:RemovePermission", "sns:DeleteTopic", "sns:Subscribe",
                                      "sns:ListSubscriptionsByTopic", "sns:Publish"], [self.topic.arn],
                      principals={"AWS": [f"arn:{partition}:iam::{account_id}:root"]}),
            statement("CloudWatchAlarmsPublish", ["sns:Publish"], [self.topic.arn],
                      principals={"Service": ["cloudwatch.amazonaws.com"]},
                      conditions=[("StringEquals", "aws:SourceAccount", [account_id])]),
            statement("TaskFailedRulePublishes", ["sns:Publish"], [self.topic.arn],
                      principals={"Service": ["events.amazonaws.com"]},
                      conditions=[("ArnEquals", "aws:SourceArn", [self.task_failed.arn])]),
            deny_without_tls(["sns:Publish"], [self.topic.arn]),
        ])
        SnsTopicPolicy(self, "topic-policy-attachment", arn=self.topic.arn, policy=topic_policy.json)
        actions = [self.topic.arn]
        service_dims = {"ClusterName": cluster_name, "ServiceName": service_name}

        def alarm(id: str, description: str, namespace: str, metric: str, dimensions: dict, stat: str,
                  operator: str, threshold: float, periods: int = 1) -> None:
            CloudwatchMetricAlarm(
                self, id, alarm_name=f"{name}-{id}", alarm_description=description, namespace=namespace,
                metric_name=metric, dimensions=dimensions, statistic=stat, period=300, evaluation_periods=periods,
                comparison_operator=operator, threshold=threshold, treat_missing_data="notBreaching",
                alarm_actions=actions, ok_actions=actions)

        alarm("dlq-not-empty", "Documents failed maxReceiveCount times and are in the dead-letter queue",
              "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": dlq_name}, "Maximum",
              "GreaterThanThreshold", 0)
        alarm("efs-io-limit", "The model cache is near the generalPurpose I/O limit", "AWS/EFS", "PercentIOLimit",
              {"FileSystemId": file_system_id}, "Maximum", "GreaterThanThreshold", 90, periods=3)
        if throughput_mode == "bursting":
            # About 1 TiB of credits: a few hours of full-speed task starts.
            alarm("efs-burst-credits", "The model cache is running out of burst credits", "AWS/EFS",
                  "BurstCreditBalance", {"FileSystemId": file_system_id}, "Minimum", "LessThanThreshold", 1e12)
        CloudwatchMetricAlarm(
            self, "tasks-below-desired", alarm_name=f"{name}-tasks-below-desired",
            alarm_description="Fewer tasks run than the service wants (tasks failing to start?)",
            comparison_operator="GreaterThanThreshold", threshold=0, evaluation_periods=3,
            treat_missing_data="notBreaching", alarm_actions=actions, ok_actions=actions, metric_query=[
                metric_query("desired", "ECS/ContainerInsights", "DesiredTaskCount", service_dims, "Average"),
                metric_query("running", "ECS/ContainerInsights", "RunningTaskCount", service_dims, "Average"),
                CloudwatchMetricAlarmMetricQuery(id="missing", return_data=True, label="Desired minus running tasks",
                                                 expression="desired - running")])

        efs = ["AWS/EFS"]
        widgets = [
            _widget("EFS client connections", region, [efs + ["ClientConnections", "FileSystemId", file_system_id]],
                    "Sum"),
            _widget("EFS data read (bytes)", region, [efs + ["DataReadIOBytes", "FileSystemId", file_system_id]],
                    "Sum"),
            # Both in bytes per second. PermittedThroughput is a rate (Average); MeteredIOBytes
            # counts bytes, so its throughput is SUM / PERIOD ("Amazon CloudWatch metrics for
            # Amazon EFS", metric math for throughput): its Average is bytes per operation.
            _widget("EFS permitted vs metered throughput (bytes/s)", region, [
                efs + ["PermittedThroughput", "FileSystemId", file_system_id, {"label": "Permitted"}],
                efs + ["MeteredIOBytes", "FileSystemId", file_system_id, {"id": "metered", "stat": "Sum",
                                                                          "visible": False}],
                [{"expression": "metered / PERIOD(metered)", "id": "metered_rate", "label": "Metered"}]], "Average"),
            _widget("Queue depth and oldest message age", region, [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue_name],
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue_name],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq_name]], "Maximum"),
            _widget("Running tasks", region, [
                ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", cluster_name, "ServiceName", service_name],
                ["ECS/ContainerInsights", "DesiredTaskCount", "ClusterName", cluster_name,
                 "ServiceName", service_name]],
                "Average"),
            _widget("CPU and memory (%)", region, [
                ["AWS/ECS", "CPUUtilization", "ClusterName", cluster_name, "ServiceName", service_name],
                ["AWS/ECS", "MemoryUtilization", "ClusterName", cluster_name, "ServiceName", service_name]],
                "Average"),
        ]
        for i, widget in enumerate(widgets):
            widget.update({"x": (i % 2) * 12, "y": (i // 2) * 6, "width": 12, "height": 6})
        self.dashboard = CloudwatchDashboard(self, "dashboard", dashboard_name=name,
                                             dashboard_body=json.dumps({"widgets": widgets}))


def metric_query(id: str, namespace: str, name: str, dimensions: dict, stat: str,
                 period: int = 300) -> CloudwatchMetricAlarmMetricQuery:
    """One metric of a metric-math alarm."""
    return CloudwatchMetricAlarmMetricQuery(id=id, return_data=False, metric=CloudwatchMetricAlarmMetricQueryMetric(
        namespace=namespace, metric_name=name, dimensions=dimensions, period=period, stat=stat))


def _widget(title: str, region: str, metrics: list, stat: str) -> dict:
    return {"type": "metric", "properties": {"title": title, "region": region, "stat": stat, "period": 300,
                                             "view": "timeSeries", "metrics": metrics}}
