"""Metric: one value, rendered the same way for alarms, scaling and the dashboard."""

from constructs_lib.metrics import Metric
from tests.synth import new_stack, one, resources, synth_stack

QUEUE = Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "jobs"}, "Sum")


def test_alarm_arguments_and_queries_carry_every_field():
    assert QUEUE.alarm_args() == {"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible",
                                  "dimensions": {"QueueName": "jobs"}, "statistic": "Sum", "period": 300}
    assert QUEUE.with_(period=60, stat="Maximum") == Metric(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "jobs"}, "Maximum", 60)


def test_dashboard_rows_list_dimensions_in_order_then_options():
    metric = Metric("ECS/ContainerInsights", "RunningTaskCount", {"ClusterName": "c", "ServiceName": "s"}, "Average")
    assert metric.widget_row() == ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", "c", "ServiceName", "s"]
    assert metric.widget_row(label="Running")[-1] == {"label": "Running"}


def test_alarm_and_scaling_queries_synthesize_as_cloudwatch_and_application_auto_scaling_want_them():
    from constructs_lib.framework import aws

    stack = new_stack()
    aws.cloudwatch_metric_alarm.CloudwatchMetricAlarm(
        stack, "alarm", alarm_name="a", comparison_operator="GreaterThanThreshold", threshold=0,
        evaluation_periods=1, metric_query=[QUEUE.with_(period=60).alarm_query("visible")])
    aws.appautoscaling_policy.AppautoscalingPolicy(
        stack, "policy", name="p", resource_id="service/c/s", scalable_dimension="ecs:service:DesiredCount",
        service_namespace="ecs", policy_type="TargetTrackingScaling", target_tracking_scaling_policy_configuration={
            "target_value": 4, "customized_metric_specification": {"metrics": [QUEUE.scaling_query("visible")]}})
    doc = synth_stack(stack)
    query = one(resources(doc, "aws_cloudwatch_metric_alarm"))["metric_query"][0]
    assert query == {"id": "visible", "return_data": False, "metric": {
        "namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible",
        "dimensions": {"QueueName": "jobs"}, "period": 60, "stat": "Sum"}}
    tracked = one(resources(doc, "aws_appautoscaling_policy"))["target_tracking_scaling_policy_configuration"]
    assert tracked["customized_metric_specification"]["metrics"][0] == {"id": "visible", "return_data": False,
        "metric_stat": {"stat": "Sum", "metric": {"namespace": "AWS/SQS",
                                                  "metric_name": "ApproximateNumberOfMessagesVisible",
                                                  "dimensions": [{"name": "QueueName", "value": "jobs"}]}}}
