"""QueueScaling: backlog per task, from zero tasks and back."""

import pytest

from constructs_lib.scaling import QueueScalingProps
from tests.synth import assert_refused, load_stack, one, ref, resources, settings, synth_app


def test_scaling_from_zero_to_max(service_doc):
    target = one(resources(service_doc, "aws_appautoscaling_target"))
    assert (target["min_capacity"], target["max_capacity"]) == (0, 10)
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    policies = {p["policy_type"]: p for p in resources(service_doc, "aws_appautoscaling_policy")}
    tracking = policies["TargetTrackingScaling"]["target_tracking_scaling_policy_configuration"]
    assert tracking["target_value"] == 4


def test_backlog_per_task_counts_in_flight_messages(service_doc):
    tracking = next(p for p in resources(service_doc, "aws_appautoscaling_policy") if p["policy_type"] == "TargetTrackingScaling")
    metrics = {m["id"]: m for m in tracking["target_tracking_scaling_policy_configuration"][
        "customized_metric_specification"]["metrics"]}
    assert metrics["inflight"]["metric_stat"]["metric"]["metric_name"] == "ApproximateNumberOfMessagesNotVisible"
    assert metrics["backlog"]["expression"] == "(visible + inflight) / IF(running > 0, running, 1)"


def test_scale_from_zero_sets_exactly_one_task_only_while_none_is_wanted(service_doc):
    step = next(p for p in resources(service_doc, "aws_appautoscaling_policy") if p["policy_type"] == "StepScaling")[
        "step_scaling_policy_configuration"]
    # ExactCapacity 1, not ChangeInCapacity +1: repeated alarms while the task starts cannot overshoot.
    assert step["adjustment_type"] == "ExactCapacity"
    assert step["step_adjustment"] == [{"metric_interval_lower_bound": "0", "scaling_adjustment": 1}]
    wake = next(a for a in resources(service_doc, "aws_cloudwatch_metric_alarm") if a["alarm_name"].endswith("no-tasks"))
    assert wake["alarm_actions"][0].startswith("${aws_appautoscaling_policy.")
    queries = {q["id"]: q for q in wake["metric_query"]}
    assert queries["desired"]["metric"]["metric_name"] == "DesiredTaskCount"
    assert queries["waiting"]["expression"] == "IF(FILL(desired, 0) == 0 AND visible > 0, 1, 0)"


@pytest.mark.parametrize("props,message", [
    (dict(max_tasks=0), "max_tasks: must be between 1 and 5000, got 0"),
    # Amazon ECS service quotas: 5,000 tasks per service.
    (dict(max_tasks=5001), "max_tasks: must be between 1 and 5000, got 5001"),
    (dict(min_tasks=3, max_tasks=2), "min_tasks: must be between 0 and max_tasks (2), got 3"),
    (dict(backlog_per_task=0), "backlog_per_task: must be at least 1"),
], ids=["no tasks", "over the service quota", "min above max", "zero backlog"])
def test_props_refuse_bounds_application_auto_scaling_refuses(props, message):
    assert_refused(QueueScalingProps, props, message)


def test_metrics_are_the_queues_and_the_services_own(service_doc):
    tracking = next(p for p in resources(service_doc, "aws_appautoscaling_policy")
                    if p["policy_type"] == "TargetTrackingScaling")
    metrics = {m["id"]: m["metric_stat"]["metric"] for m in tracking["target_tracking_scaling_policy_configuration"][
        "customized_metric_specification"]["metrics"] if "metric_stat" in m}
    [jobs] = [k for k, q in service_doc["resource"]["aws_sqs_queue"].items() if q["name"].endswith("-jobs")]
    queue = [{"name": "QueueName", "value": f"${{aws_sqs_queue.{jobs}.name}}"}]
    assert metrics["visible"]["dimensions"] == metrics["inflight"]["dimensions"] == queue
    assert metrics["running"]["dimensions"] == [
        {"name": "ClusterName", "value": ref(service_doc, "aws_ecs_cluster", "name")},
        {"name": "ServiceName", "value": ref(service_doc, "aws_ecs_service", "name")}]


def test_bounds_come_from_the_props(tmp_path):
    doc = load_stack(synth_app(tmp_path, settings(scaling={"min_tasks": 1, "max_tasks": 3, "backlog_per_task": 8})),
                     "service")
    target = one(resources(doc, "aws_appautoscaling_target"))
    assert (target["min_capacity"], target["max_capacity"]) == (1, 3)
    tracking = next(p for p in resources(doc, "aws_appautoscaling_policy") if p["policy_type"] == "TargetTrackingScaling")
    assert tracking["target_tracking_scaling_policy_configuration"]["target_value"] == 8
